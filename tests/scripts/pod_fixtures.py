"""Fixtures that make pods of the rendered stacks (scripted_pod.Pod).

The test modules load this module with `pytest_plugins`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from scripted_pod import PASSWORD_CONFIG, SERVER_CONFIG, Pod
from stack_manifests import container, find

# Rendering takes a fraction of a second and gives the same manifests every time.
_RENDERED: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}


@pytest.fixture
def rendered(render: Callable[..., Any]) -> Callable[..., list[dict[str, Any]]]:
    """rendered(server, **stack_config): the dev stack of that server with three replicas and the
    test passwords (in the stack's Secret unless existingSecret names another), secrets revealed."""
    def manifests(server: str, **config: Any) -> list[dict[str, Any]]:
        passwords = {} if config.get("existingSecret") else PASSWORD_CONFIG
        settings = {"replicas": 3, **SERVER_CONFIG[server], **passwords, **config}
        key = tuple(sorted((k, str(v)) for k, v in settings.items()))
        if key not in _RENDERED:
            _RENDERED[key] = render(reveal_secrets=True, **settings)
        return _RENDERED[key]
    return manifests


@pytest.fixture
def make_pod(rendered: Callable[..., list[dict[str, Any]]], tmp_path: Path) -> Callable[..., Pod]:
    """make_pod(server, ordinal, **stack_config): pod <ordinal> of rendered(server, ...)."""
    def make(server: str, ordinal: int, **config: Any) -> Pod:
        manifests = rendered(server, **config)
        statefulset = find(manifests, "StatefulSet")
        config_maps = {m["metadata"]["name"]: m["data"] for m in manifests if m["kind"] == "ConfigMap"}
        secrets = {m["metadata"]["name"]: m["stringData"] for m in manifests if m["kind"] == "Secret"}
        return Pod(tmp_path / f"pod-{ordinal}", server, ordinal, statefulset, container,
                   config_maps, secrets)
    return make
