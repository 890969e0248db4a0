"""The scripts reach the pods as files of a ConfigMap named after their content: a pod runs the
scripts of its own revision, and a changed script rolls the pods."""
from __future__ import annotations

import hashlib
from typing import Any

import pulumi

from mysql_cluster import MySQLCluster, scripts_config_map

from .conftest import PROJECT_DIR, find

ORDERS = {"clusterName": "orders", "namespace": "shop"}


def scripts(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (config_map,) = [m for m in manifests if m["kind"] == "ConfigMap"
                     and m["metadata"]["name"].startswith("orders-scripts-")]
    return config_map


def scripts_volume(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    volumes = find(manifests, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == "scripts"]
    return volume


def test_the_config_map_holds_every_script_unchanged(rendered):
    assert scripts(rendered(**ORDERS))["data"] == {
        path.name: path.read_text(encoding="utf-8") for path in PROJECT_DIR.glob("scripts/*.sh")}


def test_the_config_map_is_named_from_the_cluster_and_a_digest_of_the_scripts(rendered):
    name = scripts(rendered(**ORDERS))["metadata"]["name"]
    digest = hashlib.sha256()
    for path in sorted(PROJECT_DIR.glob("scripts/*.sh")):
        digest.update(f"{path.name}\0{path.read_text(encoding='utf-8')}\0".encode())
    assert name == f"orders-scripts-{digest.hexdigest()[:10]}"


def test_the_config_map_is_immutable(rendered):
    assert scripts(rendered(**ORDERS))["immutable"] is True


def test_the_pods_mount_the_config_map_readable_by_every_user(rendered):
    manifests = rendered(**ORDERS)
    assert scripts_volume(manifests)["configMap"] == {
        "name": scripts(manifests)["metadata"]["name"], "defaultMode": 0o444}


def test_a_changed_script_makes_a_new_config_map_that_the_pod_template_names(render, monkeypatch):
    before = render(**ORDERS)
    changed = {**scripts_config_map.script_files(), "lib.sh": "# changed\n"}
    monkeypatch.setattr(scripts_config_map, "script_files", lambda: changed)
    after = render(**ORDERS)
    assert scripts(after)["metadata"]["name"] != scripts(before)["metadata"]["name"]
    assert scripts_volume(after)["configMap"]["name"] == scripts(after)["metadata"]["name"]


def test_the_statefulset_depends_on_the_config_map(mock_monitor):
    @pulumi.runtime.test
    def construct():
        MySQLCluster("orders", {"namespace": "shop"})

    construct()
    statefulset = mock_monitor.dependencies["orders-statefulset"]
    assert any(urn.endswith("kubernetes:core/v1:ConfigMap::orders-scripts") for urn in statefulset)
