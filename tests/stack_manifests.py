"""Where the project is, and how tests pick resources out of rendered manifests.

On the import path of every test (pytest's `pythonpath`), so test directories need not import
each other's conftest.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = tuple(sorted(path.name.split(".")[1] for path in PROJECT_DIR.glob("Pulumi.*.yaml")))

Manifests = list[dict[str, Any]]


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
