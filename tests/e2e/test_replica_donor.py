"""A replica serves a clone while it keeps replicating: its applier is never stopped or locked
for the copy, so it stays in the read endpoint, and the new pod ends equal to everyone else."""

import re
import threading

import pytest

from .test_scale_out import SLOW_LINK, Writer

pytestmark = pytest.mark.e2e


class _ReadinessWatch(threading.Thread):
    """Samples whether a pod is ready (in the read Service) until stopped."""

    def __init__(self, harness, pod: str):
        super().__init__(name=f"e2e-watch-{pod}", daemon=True)
        self.harness, self.pod = harness, pod
        self.samples: list[bool] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            self.samples.append(self.harness.is_ready(self.pod))

    def finish(self) -> list[bool]:
        self.stopping.set()
        self.join(timeout=10)
        return self.samples


@pytest.mark.timeout(300)
def test_a_replica_serving_a_clone_under_writes_keeps_applying_and_stays_in_the_read_endpoint(
        mariadb_cluster):
    cluster = mariadb_cluster(replicas=2)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 2000)
    cluster.wait_caught_up()
    writer = Writer(cluster.app_session(cluster.primary), first=2001)
    watch = _ReadinessWatch(harness, "mysql-1")
    # What the copy's two ends log: MariaDB's donor streams a backup from its sidecar; MySQL's
    # server serves the CLONE plugin, so the new pod's log tells when the copy runs.
    if cluster.flavor == "mariadb":
        copying = ("mysql-1", "backup", "streaming a backup to a peer")
        copied = ("mysql-1", "backup", "backup sent")
        received_from = "streaming a backup from " + harness.dns_name("mysql-1")
    else:
        copying = ("mysql-2", cluster.clone_container, "cloning " + harness.dns_name("mysql-1"))
        copied = ("mysql-2", cluster.clone_container, "clone complete")
        received_from = copying[2]
    # A slow link makes the copy last seconds, long enough to see the donor's applier at work.
    harness.limit_egress("mysql-1", SLOW_LINK[cluster.flavor])
    writer.start()
    watch.start()
    try:
        harness.set_replicas(3)
        harness.wait_until(lambda: _logged(harness, *copying), 60, "mysql-1 to start serving the clone")
        applied_at_start = cluster.gtid_position("mysql-1")
        harness.wait_until(lambda: _logged(harness, *copied), 120, "mysql-1 to finish serving the clone")
        applied_at_end = cluster.gtid_position("mysql-1")
        harness.limit_egress("mysql-1", None)
        harness.scale_to(3)
    finally:
        harness.limit_egress("mysql-1", None)
        samples = watch.finish()
        writer.finish()
    cluster.wait_caught_up()

    # The donor applied the primary's writes while it served the copy (a position only grows), and
    # never turned unready.
    assert applied_at_end != applied_at_start
    assert samples and all(samples), f"mysql-1 was unready in {samples.count(False)} of {len(samples)} samples"
    clone_log = harness.log_tail("mysql-2", cluster.clone_container, lines=10_000)
    assert received_from in clone_log, clone_log
    if cluster.flavor == "mysql":
        # A copy that lasts reports how far it is (performance_schema.clone_progress).
        assert re.search(r"clone in progress: stage \w+", clone_log), clone_log
    cluster.assert_replicating("mysql-2")
    cluster.assert_events_everywhere(2000 + writer.session.sent)


def _logged(harness, pod: str, container: str, line: str) -> bool:
    return line in harness.log_tail(pod, container, lines=10_000)
