"""The mysql container's probes: liveness (and startup) ask the server for a ping; readiness asks
the primary for a query and a replica for healthy, recent replication. Both log in as root with
the password of the Secret."""
from __future__ import annotations

import pytest
from scripted_pod import (
    ONE_PER_FLAVOR,
    PASSWORDS,
    SERVERS,
    STATUS_QUERY,
    admin_client,
    sql_client,
)

pytest_plugins = ["pod_fixtures"]

ROOT_LOGIN = {"user": "root", "password": PASSWORDS["root-password"], "mode": "0o600"}
HEALTHY = {"io": "Yes", "sql": "Yes", "lag": "0"}


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


@pytest.mark.parametrize("server", SERVERS)
def test_the_writable_primary_is_ready_when_it_answers_a_query(make_pod, server):
    pod = make_pod(server, 0)
    run = pod.run("mysql", probe="readinessProbe")
    assert run.settled, run.stderr
    [query] = run.of(sql_client(server))
    assert query["argv"][1:7] == ["--protocol=tcp", "--host=127.0.0.1", "--port=3306", "--batch",
                                  "--skip-column-names", "-e"]
    assert query["argv"][7].startswith("SELECT @@GLOBAL.read_only, ")
    assert query["login"] == ROOT_LOGIN
    assert client_files_left(pod) == []


def test_a_primary_that_does_not_answer_is_not_ready(make_pod):
    pod = make_pod("mysql 8.4", 0)
    pod.scenario["refused_connections"] = 1
    run = pod.run("mysql", probe="readinessProbe")
    assert run.status == 1
    assert "the server does not answer queries" in run.stderr


@pytest.mark.parametrize("server", SERVERS)
def test_a_replica_with_both_threads_running_and_a_recent_heartbeat_is_ready(make_pod, server):
    pod = make_pod(server, 1)
    pod.replicating(**HEALTHY)
    run = pod.run("mysql", probe="readinessProbe")
    assert run.settled, run.stderr
    [_, query] = run.of(sql_client(server))
    assert query["argv"][1:] == ["--protocol=tcp", "--host=127.0.0.1", "--port=3306", "--vertical",
                                 "-e", STATUS_QUERY[server]]
    assert query["login"] == ROOT_LOGIN
    assert client_files_left(pod) == []


NOT_READY = {
    "I/O thread stopped": ({"io": "No", "sql": "Yes", "lag": "NULL"},
                           "the replication I/O thread is not running (No)"),
    # The primary does not answer, and no peer either: it may be down, or this pod cut off.
    "I/O thread reconnecting and no peer answers": (
        {"io": "Connecting", "sql": "Yes", "lag": "40",
         "io_error": "error connecting to source 'replicator@mysql-0:3306' - retry-time: 10 retries: 3"},
        "and no peer answers, so it cannot tell a primary outage from being cut off"),
    "SQL thread stopped": ({"io": "Yes", "sql": "No", "lag": "NULL"},
                           "the replication SQL thread is not running (No)"),
    "no heartbeat yet": ({"io": "Yes", "sql": "Yes", "lag": "NULL"},
                         "no heartbeat from the primary has reached this replica yet"),
    "lag over the limit": ({"io": "Yes", "sql": "Yes", "lag": "31"},
                           "the replica is 31s behind the primary (limit 30s)"),
    "replication not configured": (None, "replication is not configured yet"),
}


# SHOW REPLICA STATUS names its fields Replica_*/*_Source, SHOW SLAVE STATUS Slave_*/*_Master.
@pytest.mark.parametrize("server", ONE_PER_FLAVOR)
@pytest.mark.parametrize("state", NOT_READY)
def test_a_replica_is_not_ready(make_pod, server, state):
    status, reason = NOT_READY[state]
    pod = make_pod(server, 2)
    if status is not None:
        pod.replicating(**status)
    run = pod.run("mysql", probe="readinessProbe")
    assert run.status == 1
    assert reason in run.stderr
    assert client_files_left(pod) == []


def test_a_replica_exactly_at_the_lag_limit_is_ready(make_pod):
    pod = make_pod("mysql 8.4", 1)
    pod.replicating(lag="30")
    assert pod.run("mysql", probe="readinessProbe").status == 0


def test_the_lag_limit_is_the_stacks_max_replication_lag_seconds(make_pod):
    pod = make_pod("mariadb 11.4", 1, maxReplicationLagSeconds=5)
    pod.replicating(lag="6")
    run = pod.run("mysql", probe="readinessProbe")
    assert run.status == 1
    assert "the replica is 6s behind the primary (limit 5s)" in run.stderr


def test_a_replica_whose_server_does_not_answer_is_not_ready(make_pod):
    pod = make_pod("mysql 8.4", 1)
    pod.scenario["refused_connections"] = 1
    run = pod.run("mysql", probe="readinessProbe")
    assert run.status == 1
    assert "the server does not answer queries" in run.stderr


def test_the_probes_read_the_root_password_from_the_secret_at_every_run(make_pod):
    pod = make_pod("mysql 8.4", 0)
    new_password = "a changed root password 'with' \"quotes\" \\ and spaces"
    pod.path_in("mysql", "/etc/mysql-cluster/secrets/root-password").write_text(new_password)
    pod.scenario["accounts"]["root"] = new_password
    assert pod.run("mysql", probe="livenessProbe").status == 0
    assert pod.run("mysql", probe="readinessProbe").status == 0
