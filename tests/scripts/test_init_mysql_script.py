"""init-mysql, run as the StatefulSet renders it (the agent's init-config step): the server's
identity (server-id, report-host) and role configuration, where the server container reads them
(its decisions, case by case: tests/agent/test_init_config.py)."""
from __future__ import annotations

import pytest
from scripted_pod import SERVERS

pytest_plugins = ["pod_fixtures"]


@pytest.mark.parametrize("server", SERVERS)
def test_pod_0_gets_server_id_100_and_the_primary_configuration(make_pod, server):
    pod = make_pod(server, 0)
    run = pod.run("init-mysql")
    assert run.settled, run.stderr
    conf = pod.volume("conf")
    assert (conf / "server-id.cnf").read_text() == (
        "[mysqld]\nserver-id=100\nreport-host=mysql-0.mysql.mysql-dev.svc.cluster.local\n")
    assert (conf / "primary.cnf").read_text() == (pod.volume("config-map") / "primary.cnf").read_text()
    assert sorted(p.name for p in conf.iterdir()) == ["primary.cnf", "server-id.cnf"]


@pytest.mark.parametrize("server", SERVERS)
def test_pod_2_gets_server_id_102_and_the_replica_configuration(make_pod, server):
    pod = make_pod(server, 2)
    run = pod.run("init-mysql")
    assert run.settled, run.stderr
    conf = pod.volume("conf")
    assert (conf / "server-id.cnf").read_text() == (
        "[mysqld]\nserver-id=102\nreport-host=mysql-2.mysql.mysql-dev.svc.cluster.local\n")
    assert (conf / "replica.cnf").read_text() == (pod.volume("config-map") / "replica.cnf").read_text()
    assert sorted(p.name for p in conf.iterdir()) == ["replica.cnf", "server-id.cnf"]


def test_a_configmap_without_the_role_file_fails_naming_it(make_pod):
    pod = make_pod("mysql 8.4", 1)
    (pod.volume("config-map") / "replica.cnf").unlink()
    run = pod.run("init-mysql")
    assert run.status == 1
    assert "replica.cnf is missing from the ConfigMap" in run.stderr
    assert not (pod.volume("conf") / "server-id.cnf").exists()
