"""Shared fixtures: the project's stacks rendered under the Pulumi mock runtime."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from mysql_cluster.render import render_stack

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")

Manifests = list[dict[str, Any]]


@pytest.fixture
def render() -> Callable[..., Manifests]:
    """render(stack="dev", reveal_secrets=False, **config) -> the stack's manifests."""
    def _render(stack: str = "dev", reveal_secrets: bool = False, **config: Any) -> Manifests:
        return render_stack(PROJECT_DIR, stack, {k: str(v) for k, v in config.items()},
                            reveal_secrets=reveal_secrets)
    return _render


def find(manifests: Manifests, kind: str, name: Optional[str] = None) -> dict[str, Any]:
    """The one manifest of `kind` (and `name`, when several)."""
    matches = [m for m in manifests
               if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def container(statefulset: dict[str, Any], name: str) -> dict[str, Any]:
    spec = statefulset["spec"]["template"]["spec"]
    for candidate in spec.get("initContainers", []) + spec["containers"]:
        if candidate["name"] == name:
            return candidate
    raise AssertionError(f"no container {name}")
