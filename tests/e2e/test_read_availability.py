"""The read endpoint judged by the primary's heartbeat: a replica cut off from a live primary leaves
it in time and returns caught up; replicas of a primary that is down keep serving reads for
primaryDownReadSeconds, then leave."""

import time

import pytest

from .service_client import ServiceClient

# Each flavor's default server (10.11 runs the same heartbeat and probe statements as 11.8; the
# scenarios are long: their outages are 30 s and about 50 s).
pytestmark = pytest.mark.e2e

# Stack config lowered from the defaults (30 s, 300 s) to keep the scenarios short.
LAG_LIMIT = 2
PRIMARY_DOWN_READS = 30
# Time for the harness's poll and this test's own queries.
SLACK = 5


def readiness_window(harness) -> float:
    """The longest Kubernetes takes to act on a readiness verdict that changed, as the rendered
    probe allows: the next probe starts up to one period later, failureThreshold failing probes
    run a period apart, and the last may use its whole timeout."""
    probe = next(container for container in harness.pod_spec["containers"]
                 if container["name"] == "mysql")["readinessProbe"]
    return probe["failureThreshold"] * probe["periodSeconds"] + probe["timeoutSeconds"]


def last_heartbeat(harness, pods: list[str]) -> float:
    """When (time.monotonic) the newest heartbeat any of the pods has applied was written."""
    ages = [int(harness.run_sql(pod, "SELECT TIMESTAMPDIFF(MICROSECOND, written_at, UTC_TIMESTAMP(6)) "
                                     "FROM mysql_cluster.heartbeat")[0][0]) / 1e6 for pod in pods]
    return time.monotonic() - min(ages)


@pytest.mark.timeout(300)
def test_a_replica_cut_off_under_writes_leaves_the_read_endpoint_in_time_and_returns_caught_up(
        mariadb_cluster, tmp_path):
    cluster = mariadb_cluster(3, maxReplicationLagSeconds=LAG_LIMIT,
                              primaryDownReadSeconds=PRIMARY_DOWN_READS)
    harness = cluster.harness
    cluster.create_events_table()
    writer = ServiceClient(cluster, tmp_path).writer("mysql-primary")
    harness.wait_until(lambda: len(writer.acked) > 50, 30, "writes through the primary Service")

    harness.cut_network("mysql-1")
    cut = time.monotonic()
    harness.wait_until(lambda: "mysql-1" not in harness.service_endpoints("mysql-read"),
                       LAG_LIMIT + readiness_window(harness) + SLACK, "mysql-1 out of the read endpoint")
    left_after = time.monotonic() - cut
    assert harness.service_endpoints("mysql-read") == ["mysql-0", "mysql-2"]
    assert "cannot tell a primary outage from being cut off" in harness.probe_failure(
        "mysql-1", "mysql", "readiness")
    time.sleep(max(0.0, 30 - (time.monotonic() - cut)))
    written_while_cut = len([at for at, _ in writer.acked if at >= cut])

    harness.restore_network("mysql-1")
    harness.wait_until(lambda: "mysql-1" in harness.service_endpoints("mysql-read"), 60,
                       "mysql-1 back in the read endpoint")
    # Back only once caught up: what it has applied is at most the lag limit old.
    (age,), = harness.run_sql("mysql-1", "SELECT TIMESTAMPDIFF(SECOND, written_at, UTC_TIMESTAMP(6)) "
                                         "FROM mysql_cluster.heartbeat")
    assert int(age) <= LAG_LIMIT + 1
    committed = writer.stop()
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(committed)
    print(f"left the read endpoint {left_after:.1f} s after the cut; "
          f"{written_while_cut} writes committed while it was cut off")


@pytest.mark.timeout(300)
def test_caught_up_replicas_serve_reads_while_the_primary_is_down_until_the_bound_then_leave(
        mariadb_cluster):
    cluster = mariadb_cluster(3, maxReplicationLagSeconds=LAG_LIMIT,
                              primaryDownReadSeconds=PRIMARY_DOWN_READS)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()

    harness.stop_pod("mysql-0")
    # The bound counts from the primary's last heartbeat, which the replicas hold.
    down = last_heartbeat(harness, ["mysql-1", "mysql-2"])
    window = readiness_window(harness)
    # Within the bound they stay (checked once the lag limit is past and the probe has had time to
    # act on it).
    time.sleep(max(0.0, down + LAG_LIMIT + window - time.monotonic()))
    assert time.monotonic() - down < PRIMARY_DOWN_READS
    assert harness.service_endpoints("mysql-read") == ["mysql-1", "mysql-2"]
    harness.wait_until(lambda: harness.service_endpoints("mysql-read") == [],
                       down + PRIMARY_DOWN_READS + window + SLACK - time.monotonic(),
                       "both replicas out of the read endpoint after the bound")
    left_after = time.monotonic() - down
    # Each replica judges by the heartbeat it holds: the two may differ by one beat (1 s).
    assert left_after >= PRIMARY_DOWN_READS - 1
    assert "the primary has been down for" in harness.probe_failure("mysql-1", "mysql", "readiness")

    harness.resume_pod("mysql-0")
    harness.wait_until(lambda: harness.service_endpoints("mysql-read") == ["mysql-0", "mysql-1", "mysql-2"],
                       60, "every pod back in the read endpoint")
    cluster.insert_events(101, 200)
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(list(range(1, 201)))
    print(f"the replicas left the read endpoint {left_after:.1f} s after the primary's last heartbeat "
          f"(bound {PRIMARY_DOWN_READS} s, readiness window {window:g} s)")
