"""The scripts take every name from the environment the StatefulSet sets: a cluster named
`orders` in namespace `shop` clones from the pod before and replicates from `orders-0`."""
from __future__ import annotations

import pytest

from mysql_cluster.script_bundle import script_text

from .conftest import PROJECT_DIR, container, find
from .pod_sandbox import PodSandbox

CLUSTER = {"clusterName": "orders", "namespace": "shop"}
SCRIPTS = sorted(path.name for path in PROJECT_DIR.glob("scripts/*.sh"))


def host(ordinal: int) -> str:
    return f"orders-{ordinal}.orders.shop.svc.cluster.local"


@pytest.fixture
def orders(rendered):
    return rendered(**CLUSTER)


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_name_no_cluster_namespace_or_domain(script):
    text = script_text(script)
    assert "mysql-0" not in text
    assert ".svc.cluster.local" not in text


@pytest.mark.parametrize("ordinal", [1, 2, 3])
def test_replica_clones_from_the_previous_pod_of_its_cluster(orders, tmp_path, ordinal):
    clone = container(find(orders, "StatefulSet"), "clone-mysql")
    pod = PodSandbox(tmp_path, clone, f"orders-{ordinal}")
    pod.stub("socat", "ncat", answer="exit 1")  # the donor refuses: one attempt is enough
    pod.stub("xbstream", "xtrabackup")
    pod.run(clone["command"], CLONE_ATTEMPTS="1")
    [receive] = [call for call in pod.calls().splitlines() if call.startswith("socat -u ")]
    assert f" OPENSSL:{host(ordinal - 1)}:3307," in receive


def test_replica_replicates_from_pod_zero_of_its_cluster(orders, tmp_path):
    backup = container(find(orders, "StatefulSet"), "backup")
    pod = PodSandbox(tmp_path, backup, "orders-2")
    (pod.path("data") / "replication-source").write_text("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57\n")
    pod.stub("mysql", "socat", "xtrabackup")
    result = pod.run(backup["command"])
    assert result.returncode == 0, result.stderr
    assert f"SOURCE_HOST='{host(0)}'" in pod.calls()


def test_pod_announces_its_own_name_as_its_report_host(orders, tmp_path):
    init = container(find(orders, "StatefulSet"), "init-mysql")
    pod = PodSandbox(tmp_path, init, "orders-2")
    for name, text in find(orders, "ConfigMap")["data"].items():
        (pod.path("config-map") / name).write_text(text)
    result = pod.run(init["command"])
    assert result.returncode == 0, result.stderr
    assert f"report-host={host(2)}" in (pod.path("conf") / "server-id.cnf").read_text()
