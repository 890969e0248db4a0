"""Shared fixtures: the project's stacks rendered under the Pulumi mock runtime."""
from __future__ import annotations

from typing import Any, Callable

import pytest
from stack_manifests import PROJECT_DIR, Manifests

from mysql_cluster.tooling.render import render_stack
# The order xdist's workers get the tests in (`pytest -n 2`), and --record-durations.
from run_order import (  # noqa: F401
    pytest_addoption, pytest_collection_modifyitems, pytest_configure, pytest_xdist_make_scheduler,
)


@pytest.fixture
def render() -> Callable[..., Manifests]:
    """render(stack="dev", reveal_secrets=False, **config) -> the stack's manifests."""
    def _render(stack: str = "dev", reveal_secrets: bool = False, **config: Any) -> Manifests:
        return render_stack(PROJECT_DIR, stack, {k: str(v) for k, v in config.items()},
                            reveal_secrets=reveal_secrets)
    return _render


def pytest_configure(config: pytest.Config) -> None:
    # Registered for the whole suite: tests/agent imports one e2e module's list of statements.
    config.addinivalue_line(
        "markers", "e2e: runs MySQL and MariaDB pods in network namespaces on this machine (root needed)"
    )
