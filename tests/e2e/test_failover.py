"""Automatic failover (automaticFailover): with it on, losing the primary's pod makes the most
advanced replica the writable primary within the bound below, writes through the primary Service
(the agents' primary port) succeed again, the other replica follows it, no write acknowledged and
replicated before the loss is lost, and the old pod, back, becomes its replica (rebuilt when it
holds a transaction it never sent, such as its last heartbeat). A primary cut off from the
others by the network fences itself (read-only) before a replica takes its place, so that two
servers never take writes, and takes writes again if the network returns before anyone failed
over. With it off, nobody fails over."""

import threading
import time

import pytest

from .harness import RestartPolicy
from .service_client import ServiceClient

pytestmark = pytest.mark.e2e

PODS = ["mysql-0", "mysql-1", "mysql-2"]
GRACE = 20  # failoverGraceSeconds' least (settings.MIN_FAILOVER_GRACE_SECONDS)
# What the product promises from the primary's loss to a writable replica: the grace period,
# then up to two role looks (5 s apart) to notice it and to look again after the relay log is
# applied (at most 20 s), plus each look's wait for the peers' answers. Generous, so that it
# holds on a busy two-core machine.
FAILOVER_BOUND = GRACE + 60
# Then every agent forwards the primary Service's connections to it from its next look (5 s).
ROUTE_BOUND = FAILOVER_BOUND + 10


class ReadOnlyWatch(threading.Thread):
    """Samples every pod's read_only, a round every few tenths of a second: when each pod was
    seen writable, and every round where two were. A pod that rebuilds (its rebuild or clone mark
    on its volume) runs, on MySQL, a new empty database, writable for the image's entrypoint, that
    it clones into; its agent serves no state meanwhile, so no pod and no Service takes it for a
    primary: such rounds are counted apart."""

    def __init__(self, harness):
        super().__init__(daemon=True)
        self.harness = harness
        self.rounds: list[tuple[float, list[str]]] = []  # (time.monotonic() at the round's end, writable pods)
        self.rebuilding_writable = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            found = writable(self.harness, PODS)
            # Looked at after read_only: a mark removed in between (the rebuild done) errs on the strict side.
            rebuilding = [pod for pod in found if self._rebuilding(pod)]
            self.rebuilding_writable += len(rebuilding)
            self.rounds.append((time.monotonic(), [pod for pod in found if pod not in rebuilding]))
            time.sleep(0.2)

    def _rebuilding(self, pod: str) -> bool:
        claim = self.harness.claim_path(pod)
        return (claim / "rebuild").exists() or (claim / "clone").exists()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)

    def both(self) -> list[list[str]]:
        return [found for _, found in self.rounds if len(found) > 1]

    def last_writable(self, pod: str, before: float) -> float:
        return max(at for at, found in self.rounds if pod in found and at < before)

    def first_writable(self, pods: list[str], since: float) -> float:
        return min(at for at, found in self.rounds if set(found) & set(pods) and at >= since)

    def seen_writable(self, pods: list[str], since: float) -> bool:
        return any(set(found) & set(pods) and at >= since for at, found in self.rounds)


def replicates_from(cluster, pod: str, source: str) -> bool:
    """Whether the pod's server replicates from `source`; a server without a channel (a fenced
    primary) or that does not answer (rebuilding) does not."""
    try:
        return cluster.source_host(pod) == cluster.harness.dns_name(source)
    except Exception:
        return False


def writable(harness, pods: list[str]) -> list[str]:
    found = []
    for pod in pods:
        try:
            if harness.run_sql(pod, "SELECT @@GLOBAL.read_only", timeout=5) == [("0",)]:
                found.append(pod)
        except Exception:  # a pod that does not answer is not writable
            pass
    return found


def failover_cluster_written_through_the_service(mariadb_cluster, tmp_path):
    """Three pods with automatic failover at the least grace, rows written through the primary
    Service and on every pod: the cluster, the Service's client and the acknowledged rows."""
    # The old primary's server may stop once to rebuild itself: the kubelet restarts it.
    cluster = mariadb_cluster(3, harness_options={"restart_policy": RestartPolicy(container_restarts=2)},
                              automaticFailover="true", failoverGraceSeconds=str(GRACE))
    cluster.create_events_table()
    client = ServiceClient(cluster, tmp_path)
    writer = client.writer("mysql-primary")
    cluster.harness.wait_until(lambda: len(writer.acked) > 20, 60, "writes through the primary Service")
    acknowledged = writer.stop()
    cluster.wait_caught_up()
    return cluster, client, acknowledged


@pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8"], indirect=True)
@pytest.mark.timeout(480)
def test_a_lost_primary_is_replaced_by_the_most_advanced_replica_and_returns_as_its_replica(
        mariadb_cluster, tmp_path):
    cluster, client, acknowledged = failover_cluster_written_through_the_service(mariadb_cluster, tmp_path)
    harness = cluster.harness

    harness.stop_pod("mysql-0", grace_seconds=0)
    lost = time.monotonic()
    # An application that keeps writing through the primary Service meanwhile.
    writer = client.writer("mysql-primary", first=acknowledged[-1] + 1)
    harness.wait_until(lambda: writable(harness, ["mysql-1", "mysql-2"]) != [], FAILOVER_BOUND,
                       "a replica writable after the primary's loss")
    took = time.monotonic() - lost
    # Both replicas hold the same transactions: the lower ordinal is chosen, and only it.
    assert writable(harness, ["mysql-1", "mysql-2"]) == ["mysql-1"]
    # Its agent logs the end once the accounts are made, just after the server became writable.
    harness.wait_until(lambda: "failover done: this pod is the primary" in harness.log("mysql-1", "agent"), 10,
                       "mysql-1's agent saying the failover is done")
    assert "FAILOVER: pod 0, the last primary, has been silent for" in harness.log("mysql-1", "agent")
    cluster.primary = "mysql-1"
    # The agents forward the primary Service's connections to it from their next look on.
    harness.wait_until(lambda: len(writer.acked) > 5, lost + ROUTE_BOUND - time.monotonic(),
                       "writes through the primary Service again")
    writes_again = writer.acked[0][0] - lost
    harness.wait_until(lambda: cluster.source_host("mysql-2") == harness.dns_name("mysql-1"), 30,
                       "mysql-2 replicating from mysql-1")

    harness.resume_pod("mysql-0", timeout=240)
    harness.wait_until(lambda: cluster.source_host("mysql-0") == harness.dns_name("mysql-1"), 120,
                       "mysql-0 back as a replica of mysql-1")
    assert writable(harness, PODS) == ["mysql-1"]
    # Through whichever pod the Service picks, mysql-0 included, writes reach mysql-1.
    back = time.monotonic()
    harness.wait_until(lambda: writer.acked[-1][0] > back, 30, "writes through the primary Service")
    acknowledged += writer.stop()
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(acknowledged)
    print(f"failover: mysql-1 writable {took:.1f} s and writes through the primary Service again "
          f"{writes_again:.1f} s after mysql-0 was killed (bounds {FAILOVER_BOUND} s and {ROUTE_BOUND} s, "
          f"grace {GRACE} s)")


@pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8"], indirect=True)
@pytest.mark.timeout(600)
def test_a_primary_cut_off_by_the_network_fences_itself_before_a_replica_takes_its_place(mariadb_cluster, tmp_path):
    cluster, client, acknowledged = failover_cluster_written_through_the_service(mariadb_cluster, tmp_path)
    harness = cluster.harness
    watch = ReadOnlyWatch(harness)
    watch.start()
    harness.wait_until(lambda: len(watch.rounds) > 2, 30, "the read_only watch sampling")

    harness.cut_network("mysql-0")
    cut = time.monotonic()
    # The application keeps writing through the primary Service; nothing reaches mysql-0 now.
    writer = client.writer("mysql-primary", first=acknowledged[-1] + 1)
    harness.wait_until(lambda: watch.seen_writable(["mysql-1", "mysql-2"], cut), FAILOVER_BOUND,
                       "a replica writable after the primary was cut off")
    promoted = watch.first_writable(["mysql-1", "mysql-2"], cut) - cut
    fenced = watch.last_writable("mysql-0", cut + promoted) - cut
    # mysql-0 was last seen writable before any replica was: it fenced itself first, as its agent
    # says, and within what the grace leaves (a replica may be promoted once its newest heartbeat,
    # written at most a second before the cut, is GRACE s old).
    assert fenced < promoted
    assert fenced < GRACE - 1
    assert "FENCED: this pod reaches 1 of 3 pods (a majority is 2); pods 1, 2 do not answer at all" in harness.log(
        "mysql-0", "agent")
    assert writable(harness, ["mysql-1", "mysql-2"]) == ["mysql-1"]
    harness.wait_until(lambda: "failover done: this pod is the primary" in harness.log("mysql-1", "agent"), 10,
                       "mysql-1's agent saying the failover is done")
    cluster.primary = "mysql-1"
    harness.wait_until(lambda: len(writer.acked) > 5, cut + ROUTE_BOUND - time.monotonic(),
                       "writes through the primary Service reaching mysql-1")
    writes_again = writer.acked[0][0] - cut

    harness.restore_network("mysql-0")
    # Its last heartbeats never reached the others: it follows mysql-1, rebuilt if need be.
    harness.wait_until(lambda: replicates_from(cluster, "mysql-0", "mysql-1"), 240, "mysql-0 back as a replica of mysql-1")
    back = time.monotonic()
    harness.wait_until(lambda: writer.acked[-1][0] > back, 30, "writes through the primary Service")
    acknowledged += writer.stop()
    watch.stop()
    assert watch.both() == []
    assert writable(harness, PODS) == ["mysql-1"]
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(acknowledged)
    print(f"partition: mysql-0 fenced (last seen writable) {fenced:.1f} s after the cut, mysql-1 writable "
          f"{promoted:.1f} s after it and writes through the primary Service {writes_again:.1f} s after it (grace "
          f"{GRACE} s); {len(watch.rounds)} rounds of read_only samples, never two writable ({watch.rebuilding_writable} "
          "samples of a rebuilding pod's new database writable)")


# On one server: what it shows (the fenced primary's own decision) is the same on both.
@pytest.mark.parametrize("server", ["mariadb-11.8"], indirect=True)
@pytest.mark.timeout(300)
def test_a_fenced_primary_takes_writes_again_when_the_network_returns_before_anyone_failed_over(mariadb_cluster):
    grace = 60  # long enough that the network is back before the replicas may fail over
    cluster = mariadb_cluster(3, automaticFailover="true", failoverGraceSeconds=str(grace))
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 10)
    cluster.wait_caught_up()

    harness.cut_network("mysql-0")
    cut = time.monotonic()
    harness.wait_until(lambda: writable(harness, PODS) == [], grace / 2, "mysql-0 fenced (read-only)")
    harness.restore_network("mysql-0")
    restored = time.monotonic()
    assert restored - cut < grace
    # Its next look reaches the others, nobody wrote a newer heartbeat: it is the primary again.
    harness.wait_until(lambda: writable(harness, PODS) == ["mysql-0"], 30, "mysql-0 writable again")
    assert "a majority answers again (" in harness.log("mysql-0", "agent")
    cluster.insert_events(11, 20)
    cluster.wait_caught_up()
    cluster.assert_every_pod_holds(list(range(1, 21)))
    for replica in ("mysql-1", "mysql-2"):
        assert "FAILOVER" not in harness.log(replica, "agent")


# On one server: what it shows (the agents' decision not to act) is the same on both.
@pytest.mark.parametrize("server", ["mariadb-11.8"], indirect=True)
@pytest.mark.timeout(240)
def test_without_automatic_failover_no_replica_becomes_writable_when_the_primary_is_lost(mariadb_cluster):
    cluster = mariadb_cluster(3, failoverGraceSeconds=str(GRACE))
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 10)
    cluster.wait_caught_up()

    harness.stop_pod("mysql-0", grace_seconds=0)
    # Past what the bound above gives a failover that is on.
    time.sleep(FAILOVER_BOUND)
    assert writable(harness, ["mysql-1", "mysql-2"]) == []
    for replica in ("mysql-1", "mysql-2"):
        assert "has not answered for" in harness.log(replica, "agent")
        assert "no failover is automatic" in harness.log(replica, "agent")
    harness.resume_pod("mysql-0")
    harness.wait_until(lambda: writable(harness, PODS) == ["mysql-0"], 60, "mysql-0 the primary again")
