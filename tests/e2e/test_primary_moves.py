"""Moving the primary with primaryOrdinal and `pulumi up` (here: harness.apply of the re-rendered
manifests): a switchover under writes loses no committed row and never has two writable servers,
and a long write makes it slower, never a failover; a failover promotes the named replica with
everything a surviving replica holds, and the old primary, back with writes it never sent,
rebuilds itself from a peer; a move that failed changes nothing until the next apply retries it."""

import threading
import time

import pytest

from .cluster import gtid_sequence
from .harness import HarnessError, RestartPolicy
from .service_client import ServiceClient

# On both server versions: moving the primary is what a user of either does by hand.
pytestmark = pytest.mark.e2e

PODS = ["mysql-0", "mysql-1", "mysql-2"]
# The readiness probe may keep failing for failureThreshold x periodSeconds before a pod is Ready.
PROBE_WINDOW = 10
# Longer than the switchover Job's client timeout for one statement (mysql_cluster_agent/peers.py).
LONG_WRITE = 15


class WritableWatch(threading.Thread):
    """Samples every pod's read_only while the primary moves: never two writable at once."""

    def __init__(self, harness):
        super().__init__(daemon=True)
        self.harness, self.samples, self.both = harness, 0, []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            writable = [pod for pod in PODS if self._writable(pod)]
            self.samples += 1
            if len(writable) > 1:
                self.both.append(writable)
            time.sleep(0.1)

    def _writable(self, pod: str) -> bool:
        try:
            return self.harness.run_sql(pod, "SELECT @@GLOBAL.read_only", timeout=5) == [("0",)]
        except Exception:  # a pod that does not answer is not writable
            return False

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


def assert_primary(cluster, primary: str) -> None:
    harness = cluster.harness
    assert cluster.primary == primary
    assert harness.service_endpoints("mysql-primary") == [primary]
    for pod in PODS:
        (read_only,), = harness.run_sql(pod, "SELECT @@GLOBAL.read_only")
        assert read_only == ("0" if pod == primary else "1"), pod
        if pod != primary:
            cluster.assert_replicating(pod)


def wait_for_primary_endpoint(harness, pod: str) -> None:
    """The primary Service selects the pod once it is Ready, within the readiness probe's window,
    as `pulumi up` waits for a Service to have endpoints."""
    harness.wait_until(lambda: harness.service_endpoints("mysql-primary") == [pod], PROBE_WINDOW,
                       f"{pod} the primary Service's endpoint")


def received(cluster, pod: str, position: str) -> bool:
    """Whether the pod has received every transaction of the primary's position gtid_position
    gave: applied, or in its relay log."""
    status = cluster.replica_status(pod)
    if cluster.flavor == "mariadb":
        return gtid_sequence(status["Gtid_IO_Pos"]) >= gtid_sequence(position)
    retrieved = status["Retrieved_Gtid_Set"].replace("\n", "")
    return cluster.harness.run_sql(pod, f"SELECT GTID_SUBSET(GTID_SUBTRACT('{position}', @@GLOBAL.gtid_executed), "
                                        f"'{retrieved}')") == [("1",)]


def io_thread_state(cluster, pod: str) -> str | None:
    status = cluster.replica_status(pod)
    return status.get("Slave_IO_Running", status.get("Replica_IO_Running"))


def set_aside(harness, pod: str) -> list[str]:
    """The diverged data a pod's rebuild has kept aside on its claim."""
    return [path.name for path in harness.claim_path(pod).iterdir() if path.name.startswith("diverged-")]


@pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8"], indirect=True)
@pytest.mark.timeout(360)
def test_switchover_to_a_replica_and_back_under_writes_loses_no_committed_row(mariadb_cluster, tmp_path):
    cluster = mariadb_cluster(3)
    harness = cluster.harness
    cluster.create_events_table()
    writer = ServiceClient(cluster, tmp_path).writer("mysql-primary")
    # The test's own warm-up, no bound of the product: writes flow before the move starts (the
    # client's start is slow on a loaded machine).
    harness.wait_until(lambda: len(writer.acked) > 5, 60, "writes through the primary Service")

    pauses = []
    for target in ("mysql-1", "mysql-0"):
        watch = WritableWatch(harness)
        watch.start()
        started = time.monotonic()
        harness.apply(cluster.render(primaryOrdinal=target[-1]))
        applied = time.monotonic()
        harness.wait_until(lambda: writer.acked[-1][0] > applied, 30, f"writes acknowledged by {target}")
        pauses.append(writer.longest_gap(started))
        watch.stop()
        assert watch.both == [] and watch.samples > 2
        cluster.primary = target
        assert_primary(cluster, target)

    committed = writer.stop()
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(committed)
    print(f"write pauses of the switchovers: {', '.join(f'{pause:.1f} s' for pause in pauses)}")


@pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8"], indirect=True)
@pytest.mark.timeout(420)
def test_failover_keeps_what_a_surviving_replica_holds_and_sets_aside_only_the_old_primarys_unsent_tail(
        mariadb_cluster):
    # The old primary's server stops once for its rebuild: the kubelet restarts it.
    cluster = mariadb_cluster(3, harness_options={"restart_policy": RestartPolicy(container_restarts=2)})
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()
    # Rows 101..110 reach every pod, but pod 1 only receives them: a read lock holds its applier
    # (on MySQL its parallel workers, while the coordinator has read all its relay log).
    lock = cluster.read_lock_events("mysql-1")
    cluster.insert_events(101, 110)
    position = cluster.gtid_position(cluster.primary)
    harness.wait_until(lambda: cluster.holds_position("mysql-2", position) and received(cluster, "mysql-1", position),
                       30, "rows 101..110 on mysql-2 and in mysql-1's relay log")
    assert cluster.events("mysql-1").high == 100, "the read lock holds mysql-1's applier"
    # Rows 111..120 reach pods 0 and 2, each acknowledged, but not pod 1: its link is down.
    cluster.io_thread("mysql-1", "STOP")
    cluster.insert_events(111, 120)
    harness.wait_until(lambda: cluster.events("mysql-2").high == 120, 30, "rows 111..120 on mysql-2")
    # Rows 121..130 reach pod 0 only: the tail it never sent.
    cluster.io_thread("mysql-2", "STOP")
    cluster.insert_events(121, 130)
    harness.stop_pod("mysql-0")
    for replica in ("mysql-1", "mysql-2"):
        cluster.io_thread(replica, "START")

    # The failover's first step on its target stops the I/O thread; the lock outlasts the Job's
    # client timeout for one statement (mysql_cluster_agent/peers.py), so the Job must wait for pod 1 to
    # apply what it received by GTID, however long its workers take.
    def unlock_once_the_failover_began() -> None:
        try:
            harness.wait_until(lambda: io_thread_state(cluster, "mysql-1") == "No", 120,
                               "the failover to stop mysql-1's I/O thread")
            time.sleep(LONG_WRITE)
        finally:
            lock.close()

    unlocker = threading.Thread(target=unlock_once_the_failover_began, daemon=True)
    unlocker.start()
    try:
        harness.apply(cluster.render(primaryOrdinal=1))
    finally:
        unlocker.join(timeout=150)
        lock.kill()
    cluster.primary = "mysql-1"
    # Behind pod 2 during the outage, pod 1 was unready: Ready again at its next probe once promoted.
    wait_for_primary_endpoint(harness, "mysql-1")
    assert cluster.events("mysql-1").high == 120
    cluster.insert_events(131, 150)

    harness.resume_pod("mysql-0", timeout=180)
    harness.wait_until(lambda: cluster.source_host("mysql-0") == harness.dns_name("mysql-1"),
                       120, "mysql-0 replicating from mysql-1")
    # Its agent decides the rebuild (the mysql container, restarted, carries it out).
    runs = harness.log("mysql-0", "agent", previous=True) + harness.log("mysql-0", "agent")
    assert "holds transactions that the primary (pod 1) lacks" in runs
    assert {pod: len(set_aside(harness, pod)) for pod in PODS} == {"mysql-0": 1, "mysql-1": 0, "mysql-2": 0}
    cluster.wait_caught_up()
    assert_primary(cluster, "mysql-1")
    cluster.assert_every_pod_holds(list(range(1, 121)) + list(range(131, 151)))


# Not on 10.11: what it exercises (the scripts' decisions, read_only's wait for a running
# statement) is the same there as on 11.8, and CI's time is short.
@pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8"], indirect=True)
@pytest.mark.timeout(420)
def test_a_failed_move_leaves_the_acting_primary_writable_through_its_restart_and_the_next_apply_retries_it(
        mariadb_cluster, tmp_path):
    cluster = mariadb_cluster(3)
    harness = cluster.harness
    cluster.create_events_table()
    writer = ServiceClient(cluster, tmp_path).writer("mysql-primary")
    harness.wait_until(lambda: len(writer.acked) > 5, 60, "writes through the primary Service")  # warm-up

    harness.stop_pod("mysql-2")
    with pytest.raises(HarnessError, match="pod 2 does not answer"):
        harness.apply(cluster.render(primaryOrdinal=2))
    # The move failed: the primary that is stays the primary, and the Service with it.
    failed = time.monotonic()
    harness.wait_until(lambda: writer.acked[-1][0] > failed, 10, "writes after the failed move")
    assert harness.service_endpoints("mysql-primary") == ["mysql-0"]

    # Its pod restarts (an eviction, a node reboot): it comes back as the primary.
    harness.restart_pod("mysql-0")
    back = time.monotonic()
    harness.wait_until(lambda: writer.acked[-1][0] > back, PROBE_WINDOW, "writes after mysql-0's restart")
    assert harness.service_endpoints("mysql-primary") == ["mysql-0"]
    (read_only,), = harness.run_sql("mysql-0", "SELECT @@GLOBAL.read_only")
    assert read_only == "0"

    # With pod 2 back, the next apply of the same configuration moves the primary.
    harness.resume_pod("mysql-2")
    harness.apply(cluster.render(primaryOrdinal=2))
    cluster.primary = "mysql-2"
    moved = time.monotonic()
    harness.wait_until(lambda: writer.acked[-1][0] > moved, 30, "writes acknowledged by mysql-2")
    assert_primary(cluster, "mysql-2")
    committed = writer.stop()
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(committed)


# Not on 10.11: what it exercises (the scripts' decisions, read_only's wait for a running
# statement) is the same there as on 11.8, and CI's time is short.
@pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8"], indirect=True)
@pytest.mark.timeout(300)
def test_a_write_longer_than_the_jobs_client_timeout_slows_the_switchover_and_never_turns_it_into_a_failover(
        mariadb_cluster):
    cluster = mariadb_cluster(3)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()

    # One statement that runs LONG_WRITE seconds on the primary, then commits row 101.
    long_write = threading.Thread(target=lambda: outcome.append(cluster.app_sql(
        "mysql-0", f"INSERT INTO events SELECT 101, SHA2(101, 256) FROM DUAL WHERE SLEEP({LONG_WRITE}) = 0",
        timeout=LONG_WRITE + 30)), daemon=True)
    outcome: list = []
    long_write.start()
    harness.wait_until(lambda: "User sleep" in str(harness.run_sql("mysql-0", "SHOW PROCESSLIST")), 10,
                       "the long write running")
    started = time.monotonic()
    harness.apply(cluster.render(primaryOrdinal=1))
    moved_after = time.monotonic() - started
    long_write.join(timeout=30)
    assert outcome == [[]], "the long write was not acknowledged"

    cluster.primary = "mysql-1"
    wait_for_primary_endpoint(harness, "mysql-1")
    assert_primary(cluster, "mysql-1")
    # A switchover: the old primary follows with all it had, nothing set aside.
    assert set_aside(harness, "mysql-0") == []
    cluster.insert_events(102, 150)
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(list(range(1, 151)))
    print(f"the switchover took {moved_after:.1f} s with a {LONG_WRITE} s write in flight")
