"""Replication between running pods of the rendered StatefulSet."""

import json

import pytest

from .harness import SQL_CONTAINER, HarnessError

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(240)
def test_data_written_on_the_primary_appears_on_every_replica_which_refuses_writes(mariadb_cluster):
    cluster = mariadb_cluster(replicas=3)
    # The seed document's check: a database, a table and a row made on the primary.
    cluster.harness.run_sql(cluster.primary, "CREATE DATABASE test;"
                            "CREATE TABLE test.messages (message VARCHAR(250));"
                            "INSERT INTO test.messages VALUES ('hello')")
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()

    assert cluster.replicas() == ["mysql-1", "mysql-2"]
    for replica in cluster.replicas():
        assert cluster.harness.run_sql(replica, "SELECT message FROM test.messages") == [("hello",)]
        cluster.assert_replicating(replica)
    cluster.assert_events_everywhere(100)

    # Clients write as the application user, whom read-only stops (root could bypass it).
    cluster.app_sql(cluster.primary, "INSERT INTO events VALUES (101, 'through the primary')")
    for replica in cluster.replicas():
        with pytest.raises(HarnessError, match=r"ERROR 1290 \(HY000\).*--(super-)?read-only option"):
            cluster.app_sql(replica, "INSERT INTO events VALUES (102, 'through a replica')")
    cluster.wait_caught_up()
    cluster.assert_events_everywhere(101)
    # mysql-1 is a copy of the primary, with its heartbeat event enabled; no read-only server
    # complains about the events it may not run (MySQL's scheduler would, every second).
    for replica in cluster.replicas():
        assert "Unable to schedule event" not in cluster.harness.log(replica, SQL_CONTAINER)


@pytest.mark.timeout(240)
def test_each_pods_agent_serves_its_servers_state_to_the_other_pods_agents(mariadb_cluster):
    cluster = mariadb_cluster(replicas=3)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 10)
    cluster.wait_caught_up()

    # Asked as the agents ask each other: over HTTPS with the pod's certificate (the dev stack
    # has TLS), each agent answering for its own server, read over its socket as root.
    answers = [json.loads(line) for line in harness.exec(
        "mysql-2", "agent", ["python3", "-m", "mysql_cluster_agent", "peers"]).stdout.splitlines()]
    assert [(a["ordinal"], a["problem"]) for a in answers] == [(1, None), (0, None)]
    states = {answer["ordinal"]: answer["state"] for answer in answers}
    assert (states[0]["read_only"], states[1]["read_only"]) == (False, True)
    own = json.loads(harness.exec("mysql-2", "agent",
                                  ["python3", "-m", "mysql_cluster_agent", "state"]).stdout)
    assert own["read_only"] is True
    # Every server has applied the primary's heartbeat, which pod 0 wrote.
    for ordinal, state in {**states, 2: own}.items():
        assert state["heartbeat_micros"] > 0
        assert ordinal + state["heartbeat_writer_offset"] == 0
        assert state["gtid_state"]
    # The image's interpreter, with nothing but the shipped driver (the image has no PyMySQL).
    assert harness.exec("mysql-0", "agent", ["python3", "-c", "import pymysql; print(pymysql.__file__)"]
                        ).stdout.strip() == "/opt/mysql-cluster/agent/pymysql/__init__.py"
    assert "serving this server's state on port 3308 (HTTPS" in harness.log("mysql-0", "agent")


@pytest.mark.timeout(240)
def test_a_restarted_replica_keeps_its_data_and_resumes_without_cloning_again(mariadb_cluster):
    cluster = mariadb_cluster(replicas=3)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()

    # Every container of the pod goes, init containers included; its volume claim stays.
    harness.delete_pod("mysql-2")
    cluster.insert_events(101, 200)  # while it is away
    harness.wait_ready("mysql-2")
    cluster.insert_events(201, 300)
    cluster.wait_caught_up()

    # MariaDB's clone container finds the data; MySQL's donor step finds no clone to mark.
    assert "holds a database" in harness.log_tail("mysql-2", "clone-mysql" if cluster.flavor == "mariadb" else "donor")
    # The agent follows the primary from the server's own state, not from the clone's start again.
    agent = harness.log_tail("mysql-2", "agent", lines=10_000)
    assert "replicating from" in agent
    assert "at the clone's GTID" not in agent and "from the copy's own gtid_executed" not in agent
    if cluster.flavor == "mariadb":  # MySQL's donor serves a clone inside its server, unlogged
        # Its donor served one backup only: the first clone.
        assert harness.log_tail("mysql-1", "backup", lines=10_000).count("streaming a backup to a peer") == 1
    cluster.assert_replicating("mysql-2")
    cluster.assert_events_everywhere(300)


@pytest.mark.timeout(240)
def test_replicas_reconnect_to_a_restarted_primary_and_catch_up(mariadb_cluster):
    cluster = mariadb_cluster(replicas=3)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()
    address_before = harness.pod_ip(cluster.primary)
    # A MySQL replica's server restarted once already, on its clone (mysql_clone.py).
    restarts = {replica: harness.restart_count(replica, "mysql") for replica in cluster.replicas()}

    harness.restart_pod(cluster.primary)
    cluster.insert_events(101, 200)
    # Nothing is done to the replicas: they find the new pod by its DNS name.
    cluster.wait_caught_up()

    assert harness.pod_ip(cluster.primary) != address_before
    for replica in cluster.replicas():
        cluster.assert_replicating(replica)
        assert harness.restart_count(replica, "mysql") == restarts[replica]
    cluster.assert_events_everywhere(200)
