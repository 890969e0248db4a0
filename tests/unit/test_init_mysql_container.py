"""The init-mysql init container: the agent's code, in the agent's image, gives the server its
identity and role options before any other container of the pod runs; it connects to nothing."""
from __future__ import annotations

from typing import Any

import pytest

from .conftest import container, find

ORDERS = {"clusterName": "orders", "namespace": "shop", "clusterDomain": "k8s.example.com"}


def statefulset(rendered, **config: Any) -> dict[str, Any]:
    return find(rendered(**config), "StatefulSet")


def env(container_: dict[str, Any]) -> dict[str, Any]:
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container_["env"]}


def mounts(container_: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {mount["mountPath"]: mount for mount in container_["volumeMounts"]}


@pytest.mark.parametrize("flavor", ["mysql", "mariadb"])
def test_init_mysql_runs_first_as_the_agents_init_config_step_in_the_agents_image(rendered, flavor):
    pods = statefulset(rendered, flavor=flavor)
    assert pods["spec"]["template"]["spec"]["initContainers"][0]["name"] == "init-mysql"
    init = container(pods, "init-mysql")
    assert init["command"] == ["python3", "-m", "mysql_cluster_agent", "init-config"]
    assert init["image"] == container(pods, "agent")["image"]
    assert init["resources"] == container(pods, "agent")["resources"]


def test_init_mysql_is_told_the_pods_names_the_offset_and_where_the_options_go(rendered):
    variables = env(container(statefulset(rendered, **ORDERS), "init-mysql"))
    assert {name: value for name, value in variables.items() if not name.startswith("PYTHON")} == {
        "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}}, "STATEFULSET_NAME": "orders",
        "HEADLESS_SERVICE": "orders", "CLUSTER_NAMESPACE": "shop", "CLUSTER_DOMAIN": "k8s.example.com",
        "DATA_VOLUME": "/data", "DATA_SUBDIR": "mysql", "CONF_DIR": "/mnt/conf.d",
        "CONFIG_MAP_DIR": "/mnt/config-map", "SERVER_ID_OFFSET": "100"}


def test_init_mysql_writes_the_conf_volume_the_server_reads_and_only_reads_the_rest(rendered):
    pods = statefulset(rendered)
    init = mounts(container(pods, "init-mysql"))
    assert init["/mnt/conf.d"] == {"name": "conf", "mountPath": "/mnt/conf.d"}
    assert init["/mnt/config-map"] == {"name": "config-map", "mountPath": "/mnt/config-map", "readOnly": True}
    assert init["/data"] == {"name": "data", "mountPath": "/data", "readOnly": True}
    assert init["/opt/mysql-cluster/agent"]["readOnly"] is True
    assert set(init) == {"/mnt/conf.d", "/mnt/config-map", "/data", "/opt/mysql-cluster/agent"}
    assert mounts(container(pods, "mysql"))["/etc/mysql/conf.d"]["name"] == "conf"


@pytest.mark.parametrize("config", [{}, {"tlsSource": "none"}], ids=["tls", "no-tls"])
def test_init_mysql_holds_no_secret_file(rendered, config):
    pods = statefulset(rendered, **config)
    secret_volumes = {volume["name"] for volume in pods["spec"]["template"]["spec"]["volumes"] if "secret" in volume}
    assert not {mount["name"] for mount in container(pods, "init-mysql")["volumeMounts"]} & secret_volumes


def test_init_mysql_runs_as_the_servers_user_so_the_server_owns_what_it_writes(rendered):
    spec = statefulset(rendered)["spec"]["template"]["spec"]
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["fsGroup"]) == (999, 999)
    assert "runAsUser" not in container(statefulset(rendered), "init-mysql")["securityContext"]
