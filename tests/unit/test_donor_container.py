"""The donor init container: the agent's code chooses the pods a new pod copies, before the
clone, and hands the choice to clone-mysql and to the server container's rebuild through a
memory volume that the pod's agent may rewrite."""
from __future__ import annotations

from typing import Any

import pytest

from .conftest import container, find

DONOR_DIR = "/run/donor"
SECRETS_DIR = "/etc/mysql-cluster/secrets"
# MariaDB's pods have the clone-mysql init container; MySQL's agent clones into its server.
MARIADB = {"flavor": "mariadb", "version": "11.8"}


def statefulset(rendered, **config: Any) -> dict[str, Any]:
    return find(rendered(**config), "StatefulSet")


def mount(container_: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [m for m in container_["volumeMounts"] if m["name"] == name]
    return found[0] if found else None


def env(container_: dict[str, Any]) -> dict[str, str]:
    return {var["name"]: var.get("value", "") for var in container_["env"]}


def test_the_donor_is_chosen_by_the_agents_code_right_before_the_clone(rendered):
    spec = statefulset(rendered, **MARIADB)["spec"]["template"]["spec"]
    names = [c["name"] for c in spec["initContainers"]]
    assert names.index("donor") + 1 == names.index("clone-mysql")
    donor = container(statefulset(rendered), "donor")
    assert donor["command"] == ["python3", "-m", "mysql_cluster_agent", "donor"]
    assert donor["image"] == container(statefulset(rendered), "agent")["image"]


def test_the_choice_lives_in_a_small_memory_volume(rendered):
    volumes = statefulset(rendered)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "donor", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}} in volumes


def test_the_agent_writes_the_choice_and_the_clone_and_the_rebuild_only_read_it(rendered):
    pods = statefulset(rendered, **MARIADB)
    writes = {"donor": None, "agent": None}
    reads = {"clone-mysql": True, "mysql": True}
    for name, read_only in {**writes, **reads}.items():
        assert mount(container(pods, name), "donor") == {
            "name": "donor", "mountPath": DONOR_DIR, **({"readOnly": True} if read_only else {})}, name
        assert env(container(pods, name))["DONOR_DIR"] == DONOR_DIR


def test_the_donor_step_sees_the_data_volume_read_only_and_the_topology(rendered):
    donor = container(statefulset(rendered, **MARIADB), "donor")
    assert mount(donor, "data") == {"name": "data", "mountPath": "/data", "readOnly": True}
    assert mount(donor, "topology") is not None


def test_on_mysql_the_donor_step_may_write_the_clone_mark_for_the_agent(rendered):
    spec = statefulset(rendered, flavor="mysql", version="9.7")["spec"]["template"]["spec"]
    assert "clone-mysql" not in [c["name"] for c in spec["initContainers"]]
    donor = container(statefulset(rendered, flavor="mysql", version="9.7"), "donor")
    assert mount(donor, "data") == {"name": "data", "mountPath": "/data"}


def test_the_donor_step_asks_the_peers_agents_on_the_agent_port_with_the_clones_attempts(rendered):
    pods = statefulset(rendered, **MARIADB)
    donor = env(container(pods, "donor"))
    assert donor["AGENT_PORT"] == env(container(pods, "agent"))["AGENT_PORT"]
    assert donor["CLONE_ATTEMPTS"] == env(container(pods, "clone-mysql"))["CLONE_ATTEMPTS"]



def test_a_replica_lagging_more_than_the_stacks_limit_is_no_donor(rendered):
    donor = container(statefulset(rendered, maxReplicationLagSeconds="12"), "donor")
    assert env(donor)["MAX_REPLICATION_LAG_SECONDS"] == "12"


def test_with_tls_the_donor_step_presents_the_pods_certificate_to_the_peers(rendered):
    donor = container(statefulset(rendered), "donor")
    assert env(donor)["TLS_DIR"] == "/etc/mysql-cluster/tls"
    assert mount(donor, "tls") == {"name": "tls", "mountPath": "/etc/mysql-cluster/tls", "readOnly": True}


@pytest.mark.parametrize("config", [{}, {"tlsSource": "none"}], ids=["tls", "no-tls"])
def test_the_donor_step_holds_no_password_of_the_clusters_secrets(rendered, config):
    pods = statefulset(rendered, **config)
    spec = pods["spec"]["template"]["spec"]
    secret_volumes = {volume["name"] for volume in spec["volumes"] if "secret" in volume}
    donor = container(pods, "donor")
    mounted = {m["name"] for m in donor["volumeMounts"]}
    assert mounted & secret_volumes <= {"tls"}, "the donor step mounts only the pod's certificate of the Secrets"
    assert not any(m["mountPath"].startswith(SECRETS_DIR) for m in donor["volumeMounts"])
    assert not any("secretKeyRef" in var.get("valueFrom", {}) for var in donor["env"])
    assert not {"ROOT_PASSWORD_FILE", "MYSQL_SOCKET"} & env(donor).keys()
    assert not any(SECRETS_DIR in value for value in env(donor).values())
    # The agent beside the server, which logs in as root, still has the password's file.
    assert env(container(pods, "agent"))["ROOT_PASSWORD_FILE"] == f"{SECRETS_DIR}/root-password"


def test_the_clone_no_longer_reads_the_topology(rendered):
    assert mount(container(statefulset(rendered, **MARIADB), "clone-mysql"), "topology") is None
