"""Fixtures of the unit tests: renders shared across tests, the supported servers, and a mock
Pulumi runtime for running Pulumi code directly."""
from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

# Re-exported for the unit tests, which import them from here.
from stack_manifests import PROJECT_DIR, STACKS, Manifests, container, find  # noqa: F401

from mysql_cluster.render import render_stack


# Every server the cluster supports, as the issues name them: (flavor, version).
SERVERS = [("mysql", "8.4"), ("mysql", "8.0"), ("mysql", "5.7"), ("mariadb", "11.4"),
           ("mariadb", "10.11")]
SERVER_IDS = [f"{flavor}-{version}" for flavor, version in SERVERS]
# No published image carries XtraBackup 2.4 with socat and a client, so 5.7 needs one named.
MYSQL_57_BACKUP_IMAGE = "registry.example.com/xtrabackup-socat:2.4.29"


def server_config(flavor: str, version: str) -> dict[str, str]:
    """The config that selects a server, with whatever else that server requires."""
    config = {"flavor": flavor, "version": version}
    if (flavor, version) == ("mysql", "5.7"):
        config["backupImage"] = MYSQL_57_BACKUP_IMAGE
    return config


@pytest.fixture(scope="session")
def rendered() -> Callable[..., Manifests]:
    """rendered(stack="dev", **config): like `render`, but each distinct stack and config is run
    once per session (a render takes a quarter of a second); each caller gets its own copy."""
    cache: dict[tuple, Manifests] = {}

    def _rendered(stack: str = "dev", **config: Any) -> Manifests:
        overrides = {key: str(value) for key, value in config.items()}
        key = (stack, tuple(sorted(overrides.items())))
        if key not in cache:
            cache[key] = render_stack(PROJECT_DIR, stack, overrides)
        return copy.deepcopy(cache[key])
    return _rendered


class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes every resource's inputs back as its state and remembers what was registered."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, str]] = []  # (type, name)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append((args.typ, args.name))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, keeping what resources register as their outputs and which
    resources each depends on (it drops both)."""

    mocks: RecordingMocks

    def __init__(self) -> None:
        super().__init__(RecordingMocks())
        self.registered_outputs: dict[str, dict[str, Any]] = {}  # by URN
        self.dependencies: dict[str, list[str]] = {}  # URNs, by resource name

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method's name)
        self.dependencies[request.name] = list(request.dependencies)
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request):  # noqa: N802 (the gRPC method's name)
        self.registered_outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return empty_pb2.Empty()


@pytest.fixture
def mock_monitor() -> Iterator[RecordingMonitor]:
    """A mock Pulumi runtime on its own event loop, for tests that run Pulumi code themselves
    inside a `@pulumi.runtime.test` function; `mock_monitor.mocks.registered` lists the
    resources registered so far."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor()
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    pulumi.runtime.settings.reset_options()  # a fresh root stack, without earlier tests' exports
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack="unit", preview=False,
                             monitor=monitor)
    try:
        yield monitor
    finally:
        asyncio.set_event_loop(None)
        loop.close()
