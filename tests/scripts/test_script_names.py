"""The scripts take every name from the environment the StatefulSet sets: a cluster named
`orders` in namespace `shop` clones from the pod before and announces its own name."""
from __future__ import annotations

from pathlib import Path

import pytest
from scripted_pod import STREAM_CLONE_SERVERS, SERVERS

pytest_plugins = ["pod_fixtures"]

SCRIPTS = sorted((Path(__file__).parents[2] / "scripts").glob("*.sh"))
CLUSTER = {"clusterName": "orders", "namespace": "shop"}


def host(ordinal: int) -> str:
    return f"orders-{ordinal}.orders.shop.svc.cluster.local"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_scripts_name_no_cluster_namespace_or_domain(script):
    text = script.read_text(encoding="utf-8")
    assert "mysql-0" not in text
    assert ".svc.cluster.local" not in text


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS[:1])
@pytest.mark.parametrize("ordinal", [1, 2])
def test_a_replica_clones_from_the_previous_pod_of_its_cluster(make_pod, server, ordinal):
    pod = make_pod(server, ordinal, **CLUSTER)
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    [address] = [call["addresses"][0] for call in run.of("socat")]
    assert address.startswith(f"OPENSSL:{host(ordinal - 1)}:3307,")


@pytest.mark.parametrize("server", SERVERS[:1])
def test_pod_announces_its_own_name_as_its_report_host(make_pod, server):
    pod = make_pod(server, 2, **CLUSTER)
    run = pod.run("init-mysql")
    assert run.settled, run.stderr
    assert f"report-host={host(2)}\n" in (pod.volume("conf") / "server-id.cnf").read_text()
