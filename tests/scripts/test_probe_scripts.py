"""The mysql container's liveness (and startup) probe asks the server for a ping, logging in as
root with the password of the Secret. Its readiness is the agent's verdict (tests/agent)."""
from __future__ import annotations

import pytest
from scripted_pod import PASSWORDS, SERVERS, admin_client

pytest_plugins = ["pod_fixtures"]

ROOT_LOGIN = {"user": "root", "password": PASSWORDS["root-password"], "mode": "0o600"}


def client_files_left(pod) -> list[str]:
    return sorted(p.name for p in pod.volume("client-options").iterdir())


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("probe", ["livenessProbe", "startupProbe"])
def test_a_server_that_answers_a_ping_is_alive(make_pod, server, probe):
    pod = make_pod(server, 1)
    run = pod.run("mysql", probe=probe)
    assert run.settled, run.stderr
    [ping] = run.of(admin_client(server))
    # Over the socket: no TLS, so no certificate the server has not loaded yet can fail it.
    assert ping["argv"][1:] == ["--protocol=socket", f"--socket={pod.path_in('mysql', '/var/run/mysqld/mysqld.sock')}",
                                "ping"]
    assert ping["login"] == ROOT_LOGIN
    assert client_files_left(pod) == []


def test_a_server_that_does_not_answer_is_not_alive(make_pod):
    pod = make_pod("mysql 8.4", 0)
    pod.scenario["refused_connections"] = 1
    run = pod.run("mysql", probe="livenessProbe")
    assert run.status == 1
    assert "the server does not answer a ping" in run.stderr
    assert client_files_left(pod) == []


def test_liveness_uses_mysqladmin_where_the_mariadb_image_has_only_the_old_name(make_pod):
    pod = make_pod("mariadb 10.11", 0)
    pod.tools = pod.tools - {"mariadb-admin"} | {"mysqladmin"}
    run = pod.run("mysql", probe="livenessProbe")
    assert run.settled, run.stderr
    assert len(run.of("mysqladmin")) == 1


def test_the_liveness_probe_reads_the_root_password_from_the_secret_at_every_run(make_pod):
    pod = make_pod("mysql 8.4", 0)
    new_password = "a changed root password 'with' \"quotes\" \\ and spaces"
    pod.path_in("mysql", "/etc/mysql-cluster/secrets/root-password").write_text(new_password)
    pod.scenario["accounts"]["root"] = new_password
    assert pod.run("mysql", probe="livenessProbe").status == 0
