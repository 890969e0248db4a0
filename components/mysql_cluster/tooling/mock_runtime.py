"""Runs Pulumi code under the SDK's mock runtime and records the resources it registers.

No Pulumi CLI, engine or cluster is involved: every resource is "created" by a mock that echoes
its inputs back, which for Kubernetes resources are the manifests `pulumi up` would send. The
offline render and the unit tests share this runtime.
"""
from __future__ import annotations

import asyncio
import hashlib
import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
from google.protobuf import empty_pb2

from ..sdk_internals import (
    MockMonitor,
    deserialize_properties,
    reset_options,
    resolve_callbacks,
    run_pulumi_func,
    serialize_properties,
    sync_await,
)
from .mock_certificates import tls_outputs

# The wire form marks secret values with this signature key (see the Pulumi SDK's rpc module).
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"


@dataclass
class RecordedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    secret_paths: list[tuple[Any, ...]]  # paths (tuples of keys/indices) of values that were secrets
    provider: str  # reference of the provider that would manage it ("" for the default)


class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes every resource's inputs back as its state and records what was registered."""

    def __init__(self) -> None:
        self.resources: list[RecordedResource] = []

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        """The inputs of every resource registered so far, by resource name."""
        return {resource.name: resource.inputs for resource in self.resources}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            # A stable stand-in: the real value is only known to a deployment.
            state["result"] = hashlib.sha256(args.name.encode()).hexdigest()[:32]
        if args.typ.startswith("tls:"):
            state.update(tls_outputs(args.typ, args.name, _unwrap_secrets(args.inputs, (), [])))
        secret_paths: list[tuple[Any, ...]] = []
        inputs = _unwrap_secrets(args.inputs, (), secret_paths)
        self.resources.append(
            RecordedResource(args.typ, args.name, inputs, secret_paths, args.provider or ""))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def _unwrap_secrets(value: Any, path: tuple[Any, ...], secret_paths: list[tuple[Any, ...]]) -> Any:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG_KEY) is not None and "value" in value:
            secret_paths.append(path)
            return _unwrap_secrets(value["value"], path, [])
        return {k: _unwrap_secrets(v, path + (k,), secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v, path + (i,), secret_paths) for i, v in enumerate(value)]
    return value


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, keeping what the mocks do not see: the custom timeouts, other
    options and dependencies resources give the engine, and the outputs they register (the SDK's
    monitor drops them); and, like the engine (the SDK's monitor only passes them on), running the
    `transforms` of each resource and of its ancestors, so a render shows their effect."""

    mocks: RecordingMocks

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.custom_timeouts: dict[str, dict[str, str]] = {}  # by resource name; "" for default
        self.options: dict[str, dict[str, Any]] = {}  # by resource name
        self.dependencies: dict[str, list[str]] = {}  # URNs, by resource name
        self.registered_outputs: dict[str, dict[str, Any]] = {}  # by URN
        self._transforms: dict[str, list[Any]] = {}  # by URN: its own, then its ancestors'

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        timeouts = request.customTimeouts
        self.custom_timeouts[request.name] = {
            "create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete}
        self.options[request.name] = {"ignore_changes": list(request.ignoreChanges),
                                      "retain_on_delete": request.retainOnDelete,
                                      "before_update_hooks": list(request.hooks.before_update)}
        self.dependencies[request.name] = list(request.dependencies)
        self._apply_transforms(request)
        return super().RegisterResource(request)

    def _apply_transforms(self, request: Any) -> None:
        urn = self.make_urn(request.parent, request.type, request.name)
        transforms = resolve_callbacks(request.transforms) + self._transforms.get(request.parent, [])
        self._transforms[urn] = transforms
        if not transforms:
            return
        props = deserialize_properties(request.object)
        for transform in transforms:
            result = transform(pulumi.ResourceTransformArgs(
                custom=request.custom, type_=request.type, name=request.name, props=props,
                opts=pulumi.ResourceOptions()))
            props = result.props if result is not None else props
        request.object.CopyFrom(sync_await(serialize_properties(props, {})))

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        self.registered_outputs[request.urn] = deserialize_properties(request.outputs)
        return empty_pb2.Empty()


@contextmanager
def mock_runtime(project: str, stack: str,
                 mocks: Optional[RecordingMocks] = None) -> Iterator[RecordingMonitor]:
    """A mock Pulumi runtime with a fresh root stack, on an event loop of its own for the
    duration of the block; the monitor's `mocks.resources` lists what was registered. A subclass
    of RecordingMocks may answer some resources differently."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(mocks or RecordingMocks())
    try:
        # set_mocks keeps an earlier run's root stack, with that run's exports.
        reset_options()
        pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False,
                                 monitor=monitor)
        yield monitor
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def run_program(program: Path, project: str, stack: str, config: dict[str, str],
                secret_keys: Optional[list[str]] = None,
                mocks: Optional[RecordingMocks] = None) -> list[RecordedResource]:
    """Runs `program` (a Pulumi Python program file) with `config` (keys "project:key", string
    values) and returns the resources it registered, in registration order."""
    pulumi.runtime.set_all_config(dict(config), secret_keys or [])
    with mock_runtime(project, stack, mocks) as monitor:
        sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
    return monitor.mocks.resources
