"""The scripts take every name from the environment the StatefulSet sets: a cluster named
`orders` in namespace `shop` clones from the pod before and replicates from `orders-0`."""
from __future__ import annotations

import pytest

from mysql_cluster_agent.config import read_config
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.donor import Donors, choose_donors, write_choice
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.peers import peer_ordinals
from mysql_cluster_agent.state import ServerState

from .conftest import PROJECT_DIR
from .pod_sandbox import PodSandbox

CLUSTER = {"clusterName": "orders", "namespace": "shop"}
SCRIPTS = sorted(PROJECT_DIR.glob("scripts/*.sh"))


def host(ordinal: int) -> str:
    return f"orders-{ordinal}.orders.shop.svc.cluster.local"


@pytest.fixture
def orders(rendered):
    return rendered(**CLUSTER)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_scripts_name_no_cluster_namespace_or_domain(script):
    text = script.read_text(encoding="utf-8")
    assert "mysql-0" not in text
    assert ".svc.cluster.local" not in text


@pytest.mark.parametrize("ordinal", [1, 2, 3])
def test_replica_clones_from_the_previous_pod_of_its_cluster_when_all_are_caught_up(
        orders, tmp_path, ordinal):
    pod = PodSandbox(tmp_path, orders, "clone-mysql", f"orders-{ordinal}")
    # The donor step's choice when every peer answers as a caught-up replica, by the names the
    # agent derives from the same environment.
    config = read_config({**pod.env, "AGENT_PORT": "3308", "MYSQL_SOCKET": "/run/s.sock",
                          "ROOT_PASSWORD_FILE": "/s/root-password"})
    states = {n: ServerState(n, True, 1_700_000_000_000_000, 0, parse_gtid(Flavor.MYSQL, ""))
              for n in range(4) if n != ordinal}
    choice = choose_donors(ordinal, peer_ordinals(ordinal, 4), states, 10)
    assert isinstance(choice, Donors)
    write_choice(pod.path("donor"), choice, config.pod_host)
    pod.stub("mysql")
    # The temporary server initialises, then runs until the script stops it.
    pod.stub("mysqld", answer='[[ "$*" == *--initialize-insecure* ]] || exec sleep 30')
    pod.run(CLONE_ATTEMPTS="1")  # the stubs copy nothing: one attempt is enough
    assert f"--clone-valid-donor-list={host(ordinal - 1)}:3306" in pod.calls()
    assert f"CLONE INSTANCE FROM 'backup'@'{host(ordinal - 1)}':3306" in pod.calls()


def test_pod_announces_its_own_name_as_its_report_host(orders, tmp_path):
    pod = PodSandbox(tmp_path, orders, "init-mysql", "orders-2")
    result = pod.run()
    assert result.returncode == 0, result.stderr
    assert f"report-host={host(2)}" in (pod.path("conf") / "server-id.cnf").read_text()
