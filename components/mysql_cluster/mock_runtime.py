"""Runs a Pulumi program under the SDK's mock runtime and records the resources it registers.

No Pulumi CLI, engine or cluster is involved: every resource is "created" by a mock that echoes
its inputs back, which for Kubernetes resources are the manifests `pulumi up` would send.
"""
from __future__ import annotations

import asyncio
import hashlib
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .mock_certificates import tls_outputs

# The wire form marks secret values with this signature key (see the Pulumi SDK's rpc module).
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"


@dataclass
class RecordedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    secret_paths: list[tuple]  # paths (tuples of keys/indices) of values that were secrets
    provider: str  # reference of the provider that would manage it ("" for the default)


class _RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[RecordedResource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            # A stable stand-in: the real value is only known to a deployment.
            state["result"] = hashlib.sha256(args.name.encode()).hexdigest()[:32]
        if args.typ.startswith("tls:"):
            state.update(tls_outputs(args.typ, _unwrap_secrets(args.inputs, (), [])))
        secret_paths: list[tuple] = []
        inputs = _unwrap_secrets(args.inputs, (), secret_paths)
        self.resources.append(
            RecordedResource(args.typ, args.name, inputs, secret_paths, args.provider or ""))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def _unwrap_secrets(value: Any, path: tuple, secret_paths: list[tuple]) -> Any:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG_KEY) is not None and "value" in value:
            secret_paths.append(path)
            return _unwrap_secrets(value["value"], path, [])
        return {k: _unwrap_secrets(v, path + (k,), secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v, path + (i,), secret_paths) for i, v in enumerate(value)]
    return value


def run_program(program: Path, project: str, stack: str, config: dict[str, str],
                secret_keys: Optional[list[str]] = None) -> list[RecordedResource]:
    """Runs `program` (a Pulumi Python program file) with `config` (keys "project:key", string
    values) and returns the resources it registered, in registration order."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = _RecordingMocks()
    try:
        runtime_config.set_all_config(dict(config), secret_keys or [])
        # A fresh root stack: set_mocks keeps the previous run's, with that run's exports.
        pulumi.runtime.settings.reset_options()
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
        pulumi.runtime.settings.SETTINGS.rpc_manager.clear()
        pulumi.runtime.settings.SETTINGS.outputs.clear()
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return mocks.resources
