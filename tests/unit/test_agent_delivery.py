"""The agent reaches the pods as files of a ConfigMap named after their content, with PyMySQL's
source and licence, and runs in a container of the official python image beside the server."""
from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pymysql

from .conftest import PROJECT_DIR, container, find

ORDERS = {"clusterName": "orders", "namespace": "shop"}
AGENT_DIR = "/opt/mysql-cluster/agent"


def agent_config_map(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (config_map,) = [m for m in manifests if m["kind"] == "ConfigMap"
                     and m["metadata"]["name"].startswith("orders-agent-")]
    return config_map


def pod_spec(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return find(manifests, "StatefulSet")["spec"]["template"]["spec"]


def volume(manifests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [v for v in pod_spec(manifests)["volumes"] if v["name"] == name]
    return found


def laid_out(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """The agent volume's files as the kubelet writes them: each key at its item's path."""
    data = agent_config_map(manifests)["data"]
    return {item["path"]: data[item["key"]] for item in volume(manifests, "agent")["configMap"]["items"]}


def env(spec: dict[str, Any]) -> dict[str, str]:
    return {var["name"]: var.get("value", "") for var in spec.get("env", [])}


def test_the_agent_volume_holds_the_agent_package_unchanged(rendered):
    files = laid_out(rendered(**ORDERS))
    package = PROJECT_DIR / "components" / "mysql_cluster_agent"
    assert {path: text for path, text in files.items() if path.startswith("mysql_cluster_agent/")} == {
        f"mysql_cluster_agent/{path.name}": path.read_text(encoding="utf-8")
        for path in package.glob("*.py")}


def test_the_agent_volume_holds_the_installed_pymysqls_source_and_licence(rendered):
    files = laid_out(rendered(**ORDERS))
    installed = Path(pymysql.__file__).parent
    assert {path: text for path, text in files.items() if path.startswith("pymysql/")} == {
        f"pymysql/{path.relative_to(installed)}": path.read_text(encoding="utf-8")
        for path in installed.rglob("*.py")}
    version = metadata.version("PyMySQL")
    assert "Permission is hereby granted" in files[f"licenses/PyMySQL-{version}-LICENSE"]


def test_the_config_map_is_immutable_and_named_after_its_content(rendered):
    config_map = agent_config_map(rendered(**ORDERS))
    other = agent_config_map(rendered(clusterName="orders", namespace="shop", replicas="5"))
    assert config_map["immutable"] is True
    assert config_map["metadata"]["name"] == other["metadata"]["name"]
    assert len(config_map["metadata"]["name"]) == len("orders-agent-") + 10
    assert volume(rendered(**ORDERS), "agent")["configMap"]["name"] == config_map["metadata"]["name"]


def test_the_shipped_files_run_the_agent_with_the_shipped_driver_alone(rendered, tmp_path):
    for path, text in laid_out(rendered(**ORDERS)).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    # -S: no site-packages, so nothing but the shipped files can be imported.
    result = subprocess.run(
        [sys.executable, "-S", "-c", "import mysql_cluster_agent.__main__ as m, pymysql; "
         "print(pymysql.__file__); m.main(['serve'])"],
        env={"PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == str(tmp_path / "pymysql" / "__init__.py")
    assert result.stderr == "agent: environment variable POD_NAME is not set; it names this pod's name (<statefulset>-<ordinal>)\n"


def test_the_agent_runs_the_pinned_official_python_image_from_the_mount(rendered):
    agent = container(find(rendered(**ORDERS), "StatefulSet"), "agent")
    assert agent["image"] == "python:3.13.9-slim-trixie"
    assert agent["command"] == ["python3", "-m", "mysql_cluster_agent", "serve"]
    assert env(agent)["PYTHONPATH"] == AGENT_DIR
    assert {"name": "agent", "mountPath": AGENT_DIR, "readOnly": True} in agent["volumeMounts"]


def test_agent_image_setting_replaces_the_image_for_a_mirror(rendered):
    agent = container(find(rendered(agentImage="registry.example/python:3.13.9-slim-trixie"),
                           "StatefulSet"), "agent")
    assert agent["image"] == "registry.example/python:3.13.9-slim-trixie"


def test_the_agent_shares_the_servers_socket_directory(rendered):
    statefulset = find(rendered(), "StatefulSet")
    server_mounts = container(statefulset, "mysql")["volumeMounts"]
    agent = container(statefulset, "agent")
    assert {"name": "run", "mountPath": "/var/run/mysqld"} in server_mounts
    assert {"name": "run", "mountPath": "/var/run/mysqld"} in agent["volumeMounts"]
    assert env(agent)["MYSQL_SOCKET"] == "/var/run/mysqld/mysqld.sock"


def test_the_agent_runs_unprivileged_on_a_read_only_root(rendered):
    agent = container(find(rendered(), "StatefulSet"), "agent")
    assert agent["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]}}
    assert env(agent)["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_agents_resources_come_from_the_settings(rendered):
    agent = container(find(rendered(agentCpuRequest="50m", agentMemoryRequest="64Mi",
                                    agentCpuLimit="1", agentMemoryLimit="256Mi"),
                           "StatefulSet"), "agent")
    assert agent["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"},
                                  "limits": {"cpu": "1", "memory": "256Mi"}}


def test_the_agent_serves_on_its_named_port_and_is_ready_once_it_listens(rendered):
    agent = container(find(rendered(), "StatefulSet"), "agent")
    assert agent["ports"] == [{"name": "agent", "containerPort": 3308},
                              {"name": "readiness", "containerPort": 3309},
                              {"name": "primary", "containerPort": 3310}]
    assert (env(agent)["AGENT_PORT"], env(agent)["PRIMARY_PORT"]) == ("3308", "3310")
    # Whether the pod is ready (its server has its role) is the mysql container's probe of the
    # agent's verdict (test_statefulset.py).
    assert agent["readinessProbe"]["tcpSocket"] == {"port": "agent"}
