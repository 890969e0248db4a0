"""The private parts of the Pulumi SDK this package uses, in one place, checked at import.

The offline render and the unit tests run Pulumi programs under the SDK's mock runtime, several
in one process and outside the Pulumi CLI. The public API stops short of that: driving a program
to completion, starting each run from a fresh root stack, listing the config keys a stack sets and
keeping the outputs a component registers all need SDK internals, which may change in any
release. Every other module takes them from here, and an SDK release that lacks one fails at
import with the supported range instead of an AttributeError in the middle of a run.
"""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import version
from typing import Any

# The pulumi releases this package is tested with; pyproject.toml requires exactly this range.
OLDEST_PULUMI = "3.231"
NEWEST_PULUMI = "3.272"

# What is needed from each SDK module.
_NEEDED = {
    "pulumi.runtime.config": ("CONFIG",),
    "pulumi.runtime.mocks": ("MockMonitor", "_resolve_callbacks"),
    "pulumi.runtime.rpc": ("deserialize_properties", "serialize_properties"),
    "pulumi.runtime.settings": ("reset_options",),
    "pulumi.runtime.stack": ("run_pulumi_func",),
    "pulumi.runtime.sync_await": ("_sync_await",),
}


def _resolve() -> dict[str, Any]:
    found: dict[str, Any] = {}
    missing: list[str] = []
    for module_name, names in _NEEDED.items():
        try:
            module = import_module(module_name)
        except ImportError:
            missing.append(module_name)
            continue
        for name in names:
            if hasattr(module, name):
                found[name] = getattr(module, name)
            else:
                missing.append(f"{module_name}.{name}")
    if missing:
        raise ImportError(
            f"mysql-cluster supports pulumi {OLDEST_PULUMI}–{NEWEST_PULUMI}; found "
            f"{version('pulumi')}: it has no {', '.join(missing)}")
    return found


_INTERNALS = _resolve()

# Config of the current run, keyed "project:key" (all keys, which the public API cannot list).
CONFIG = _INTERNALS["CONFIG"]
# The SDK's in-process resource monitor for mocks (set_mocks accepts one, to subclass).
MockMonitor = _INTERNALS["MockMonitor"]
# The transform callbacks a registration request names (the mock monitor only passes them on).
resolve_callbacks = _INTERNALS["_resolve_callbacks"]
# Turns a protobuf Struct of resource properties back into Python values, and values into one.
deserialize_properties = _INTERNALS["deserialize_properties"]
serialize_properties = _INTERNALS["serialize_properties"]
# Forgets the root stack resource, so that the next run starts a stack of its own.
reset_options = _INTERNALS["reset_options"]
# Runs a program and waits for every registration and output it started.
run_pulumi_func = _INTERNALS["run_pulumi_func"]
# Runs a coroutine to completion on the current event loop.
sync_await = _INTERNALS["_sync_await"]
