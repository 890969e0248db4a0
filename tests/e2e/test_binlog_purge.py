"""Binary logs expire on the primary whether or not a replica is connected. From 11.4 MariaDB
purges only while at least slave_connections_needed_for_purge replicas are connected (default 1),
so a primary without replicas, or whose replicas are all gone, would keep every log until its
volume fills; the cluster's configuration sets 0 on 11.x.

The scenarios start with the primary alone: a replica's pod that goes away can leave its
connection open on the primary for minutes, as after the loss of a node. The retention is lowered
to one second at run time (the configured one is counted in days); the server applies it when it
rotates its binary log.
"""

import time

import pytest

pytestmark = pytest.mark.e2e

def binary_logs(cluster) -> list[str]:
    return [log for log, *_ in cluster.harness.run_sql(cluster.primary, "SHOW BINARY LOGS")]


def expire_and_rotate(cluster) -> list[str]:
    """Rotate past every log written so far, with a one-second retention; the logs before."""
    cluster.harness.run_sql(cluster.primary, "SET GLOBAL binlog_expire_logs_seconds = 1;"
                                             "FLUSH BINARY LOGS")
    before = binary_logs(cluster)[:-1]
    time.sleep(2)  # the older logs' last writes are now past the retention
    cluster.harness.run_sql(cluster.primary, "FLUSH BINARY LOGS")
    return before


@pytest.mark.timeout(120)
def test_a_primary_without_replicas_purges_its_expired_binary_logs(mariadb_cluster):
    cluster = mariadb_cluster(replicas=1)

    expired = expire_and_rotate(cluster)

    assert expired and not set(expired) & set(binary_logs(cluster))


# MariaDB 11.x only: no other server has slave_connections_needed_for_purge.
@pytest.mark.parametrize("server", ["mariadb-11.8"], indirect=True)
@pytest.mark.timeout(180)
def test_with_the_11_x_default_a_primary_keeps_expired_binary_logs_until_a_replica_connects(
        mariadb_cluster):
    cluster = mariadb_cluster(replicas=1)
    harness = cluster.harness
    harness.run_sql(cluster.primary, "SET GLOBAL slave_connections_needed_for_purge = DEFAULT")
    assert harness.run_sql(cluster.primary,
                           "SELECT @@slave_connections_needed_for_purge") == [("1",)]

    expired = expire_and_rotate(cluster)
    assert expired and set(expired) <= set(binary_logs(cluster))

    harness.scale_to(2)
    cluster.wait_caught_up()
    harness.run_sql(cluster.primary, "FLUSH BINARY LOGS")
    assert not set(expired) & set(binary_logs(cluster))
