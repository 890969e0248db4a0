"""Fixtures of the unit tests: renders shared across tests, the supported servers, and a mock
Pulumi runtime for running Pulumi code directly."""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

# Re-exported for the unit tests, which import them from here.
from stack_manifests import PROJECT_DIR, STACKS, Manifests, container, find  # noqa: F401

from mysql_cluster.tooling.mock_runtime import RecordingMonitor, mock_runtime
from mysql_cluster import supported_servers
from mysql_cluster.tooling.render import render_stack


# Every server the cluster supports: (flavor, version), from the component's own list.
SERVERS = list(supported_servers.SERVERS)
SERVER_IDS = [f"{flavor}-{version}" for flavor, version in SERVERS]


def server_config(flavor: str, version: str) -> dict[str, str]:
    """The config that selects a server."""
    return {"flavor": flavor, "version": version}


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


@pytest.fixture
def mock_monitor() -> Iterator[RecordingMonitor]:
    """The render's mock Pulumi runtime, for tests that run Pulumi code themselves inside a
    `@pulumi.runtime.test` function; `mock_monitor.mocks.resources` lists the resources
    registered so far."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    with mock_runtime(project, "unit") as monitor:
        yield monitor
