"""The read endpoint: only replicas that replicate, and are close enough behind, receive reads."""

import pytest

pytestmark = pytest.mark.e2e

# Stack config maxReplicationLagSeconds, lowered from its default (30) to keep the test short.
LAG_LIMIT = 2
# The probe may keep failing for failureThreshold x periodSeconds (10 s) before the pod is unready.
UNREADY_TIMEOUT = 40


@pytest.mark.timeout(240)
def test_a_replica_leaves_the_read_endpoint_while_its_replication_is_stopped_or_lagging(mariadb_cluster):
    """The read Service's endpoints are its Ready pods. ClusterIP Services are not emulated, so
    the test watches readiness, as judged by the rendered readiness probe.

    The lag is real rather than configured: a root session on the replica holds a read lock on
    the table that the primary writes to, as a long report query would, so the replica's SQL
    thread waits and Seconds_Behind_Master grows while the I/O thread keeps running.
    """
    cluster = mariadb_cluster(replicas=2, maxReplicationLagSeconds=LAG_LIMIT)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()

    def leaves_the_endpoint(pod: str, reason: str) -> None:
        harness.wait_until(lambda: not harness.is_ready(pod), UNREADY_TIMEOUT, f"{pod} unready")
        assert reason in harness.probe_failure(pod, "mysql", "readiness")
        assert harness.is_ready(cluster.primary)

    replica = "SLAVE" if cluster.flavor == "mariadb" else "REPLICA"
    harness.run_sql("mysql-1", f"STOP {replica}")
    leaves_the_endpoint("mysql-1", "the replication I/O thread is not running (No)")
    harness.run_sql("mysql-1", f"START {replica}")
    harness.wait_ready("mysql-1", timeout=30)

    lock = cluster.read_lock_events("mysql-1")
    try:
        cluster.insert_events(101, 200)
        leaves_the_endpoint("mysql-1", f"behind the primary (limit {LAG_LIMIT}s)")
        if cluster.flavor == "mariadb":  # MySQL's applier waits in a parallel worker instead
            assert cluster.replica_status("mysql-1")["Slave_SQL_Running_State"] == "Waiting for table metadata lock"
    finally:
        lock.close()
    harness.wait_ready("mysql-1", timeout=30)
    cluster.wait_caught_up()
    cluster.assert_events_everywhere(200)
