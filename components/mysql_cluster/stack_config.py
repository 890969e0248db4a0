"""Reads a stack's config into the name and arguments of a MySQLCluster."""
from __future__ import annotations

import difflib
import json
from typing import Any, cast

import pulumi

from .args import MySQLClusterArgs
from .sdk_internals import CONFIG
from .settings import BY_KEY, SETTINGS, ConfigError

# Pulumi hands lists and maps to a program as JSON text; what to write instead of text that is not.
_STRUCTURED_EXAMPLES = {"array": 'use a YAML list, e.g. ["web"]',
                        "object": 'use a YAML map, e.g. {"max_connections": "500"}'}


def _raw_value(project: str, key: str) -> Any:
    # The raw string, secret or not; secrets are wrapped again as soon as they are validated.
    return pulumi.runtime.get_config(f"{project}:{key}")


# Keys of earlier versions, and why they went.
RETIRED_KEYS = {"adminPassword": "the switchover Job asks the pods' agents and has no SQL account any more; "
                                 "remove adminPassword from the stack config"}


def _reject_unknown_keys(project: str) -> None:
    prefix = f"{project}:"
    for full_key in CONFIG.get():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        if key in RETIRED_KEYS:
            raise pulumi.RunError(f"config key '{key}' is no longer used: {RETIRED_KEYS[key]}")
        if key not in BY_KEY:
            close = difflib.get_close_matches(key, BY_KEY, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see the config reference in the README"
            raise pulumi.RunError(f"unknown config key '{key}' in stack config; {hint}")


def cluster_from_config(project: str) -> tuple[str, MySQLClusterArgs]:
    """The cluster name and arguments the stack config asks for. MySQLCluster validates them,
    passwords included: they stay plain values until it has, so that a bad one stops the stack
    before any resource is registered, and the Secret it builds marks them secret."""
    _reject_unknown_keys(project)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = _raw_value(project, setting.key)
        if raw is None:
            continue
        value: Any = raw
        if setting.type in _STRUCTURED_EXAMPLES:
            try:
                value = json.loads(raw)
            except ValueError:
                raise ConfigError(setting, raw, _STRUCTURED_EXAMPLES[setting.type]) from None
        values[setting.arg] = value
    name = values.pop("name", BY_KEY["clusterName"].default)
    return name, cast(MySQLClusterArgs, values)
