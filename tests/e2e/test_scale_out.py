"""Adding replicas: a new pod clones the pod before it, then replicates from the primary."""

import threading
import time

import pytest

from .checksum import assert_replicas_match
from .cluster import gtid_sequence
from .errors import HarnessError

pytestmark = pytest.mark.e2e

# Bits per second the donor may send while a test watches or cuts its copy: the copy of a small
# cluster then takes seconds instead of one, long enough to be cut half way. MariaDB's backup
# stream is ~17 MB; MySQL's CLONE copies ~75 MB (system tablespace, undo logs, data dictionary).
SLOW_LINK = {"mariadb": 8_000_000, "mysql": 40_000_000}


# What the backup tool names its info files (MDEV-18931: renamed in 11.1).
INFO_FILE_PREFIX = {"mariadb-10.11": "xtrabackup", "mariadb-11.8": "mariadb_backup"}


# MariaDB's clone is a streamed backup whose info file differs between 10.11 and 11.8; MySQL's
# is the CLONE plugin (the next test).
@pytest.mark.parametrize("server", ["mariadb-11.8", "mariadb-10.11"], indirect=True)
@pytest.mark.timeout(300)
def test_a_new_pod_clones_a_replica_and_catches_up_after_the_binary_logs_were_purged(
        mariadb_cluster, server):
    cluster = mariadb_cluster(replicas=3)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 1000)
    cluster.wait_caught_up()
    # The primary forgets its history: nobody can replay it from the binary log any more.
    newest = harness.run_sql(cluster.primary, "FLUSH BINARY LOGS; SHOW MASTER STATUS")[0][0]

    def purged() -> bool:
        # A log that a replica still reads is kept; the replicas move on to the new one at once.
        remaining = harness.run_sql(cluster.primary, f"PURGE BINARY LOGS TO '{newest}'; SHOW BINARY LOGS")
        return [log for log, *_ in remaining] == [newest]

    harness.wait_until(purged, 30, f"the primary's binary logs purged up to {newest}")
    position = cluster.gtid_position(cluster.primary)

    harness.scale_to(4)
    cluster.insert_events(1001, 1100)
    cluster.wait_caught_up()

    # The clone came from pod 2, a replica: its backup says where pod 2 stood, by GTID, in the
    # info file of this version's backup tool (and no file of the other name).
    assert "streaming a backup from " + harness.dns_name("mysql-2") in harness.log_tail(
        "mysql-3", "clone-mysql", lines=10_000)
    datadir = harness.claim_path("mysql-3") / "mysql"
    info_files = sorted(path.name for path in datadir.glob("*_slave_info"))
    assert info_files == [f"{INFO_FILE_PREFIX[server]}_slave_info"]
    replica_info = (datadir / info_files[0]).read_text()
    # The primary's heartbeat commits every second, so pod 2 stood at or past that position.
    start = cluster.clone_start("mysql-3")
    assert gtid_sequence(start) >= gtid_sequence(position)
    assert f"gtid_slave_pos = '{start}'" in replica_info, replica_info
    cluster.assert_replicating("mysql-3")
    cluster.assert_events_everywhere(1100)


@pytest.mark.parametrize("server", ["mysql-9.7"], indirect=True)
@pytest.mark.timeout(300)
def test_a_new_mysql_pod_clones_a_replica_with_the_clone_plugin_after_the_binary_logs_were_purged(
        mariadb_cluster):
    cluster = mariadb_cluster(replicas=3)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 1000)
    cluster.wait_caught_up()
    # The primary forgets its history: nobody can replay it from the binary log any more.
    harness.run_sql(cluster.primary, "FLUSH BINARY LOGS")
    newest = harness.run_sql(cluster.primary, "SHOW BINARY LOGS")[-1][0]

    def purged() -> bool:
        remaining = harness.run_sql(cluster.primary, f"PURGE BINARY LOGS TO '{newest}'; SHOW BINARY LOGS")
        return [log for log, *_ in remaining] == [newest]

    harness.wait_until(purged, 30, f"the primary's binary logs purged up to {newest}")
    assert harness.run_sql(cluster.primary, "SELECT @@GLOBAL.gtid_purged") != [("",)]

    harness.scale_to(4)
    cluster.insert_events(1001, 1100)
    cluster.wait_caught_up()

    # The copy came from pod 2, a replica, by the CLONE plugin over TLS, and replication started
    # from the copy's own gtid_executed.
    clone_log = harness.log_tail("mysql-3", cluster.clone_container, lines=10_000)
    assert (f"cloning {harness.dns_name('mysql-2')}:3306 with the CLONE plugin over TLS"
            in clone_log), clone_log
    assert cluster.clone_start("mysql-3") == "gtid_executed"
    # The clone mark is gone, and no staging or scratch directory was made.
    assert sorted(path.name for path in harness.claim_path("mysql-3").iterdir()) == [
        "mysql", "replication-source.applied"]
    cluster.assert_replicating("mysql-3")
    cluster.assert_events_everywhere(1100)
    assert_replicas_match(cluster)


@pytest.mark.timeout(300)
def test_a_clone_cut_off_by_its_donor_fails_loudly_and_its_retry_makes_a_whole_replica(mariadb_cluster):
    """What serves the copy on the donor is killed (SIGKILL, like a crash) half way through it:
    MariaDB's backup sidecar, which streams a backup, or MySQL's server, which serves the CLONE
    plugin's copy.

    To be sure the cut falls inside the transfer, the donor's link is slowed first (a token
    bucket on its interface) and the donor is killed once part of the copy has arrived; the link
    is restored right after, as the killed container restarts.
    """
    cluster = mariadb_cluster(replicas=2)
    harness = cluster.harness
    mysql = cluster.flavor == "mysql"
    cluster.create_events_table()
    cluster.insert_events(1, 1000)
    cluster.wait_caught_up()
    claim = harness.claim_path("mysql-2")
    serving = "mysql" if mysql else "backup"

    harness.limit_egress("mysql-1", SLOW_LINK[cluster.flavor])
    harness.set_replicas(3)
    if mysql:
        # The agent clones into mysql-2's running server: the copy's progress is the server's.
        harness.wait_until(lambda: _cloned_bytes("mysql-2", harness) > 2_000_000, 90,
                           "part of the copy in mysql-2's server")
    else:
        harness.wait_until(lambda: _bytes_under(claim / "clone-staging") > 2_000_000, 60,
                           "part of the copy in mysql-2's staging directory")
    # A MySQL donor's server restarted once already, on its own clone (mysql_clone.py).
    restarts = harness.restart_count("mysql-1", serving)
    harness.kill_container("mysql-1", serving)
    harness.limit_egress("mysql-1", None)
    failed = "the clone from " + harness.dns_name("mysql-1") + " failed" if mysql else "attempt 1 failed"
    harness.wait_until(lambda: failed in harness.log_tail("mysql-2", cluster.clone_container, lines=10_000), 90,
                       "mysql-2's clone to notice the cut")

    clone_log = harness.log_tail("mysql-2", cluster.clone_container, lines=10_000)
    if mysql:
        # The pod clones again and serves nothing meanwhile: not ready, no role, the mark kept.
        assert "the next donor is tried in" in clone_log, clone_log
        assert (claim / "clone").exists()
        assert harness.pod_phase("mysql-2") == "Running" and not harness.is_ready("mysql-2")
    else:
        # The partial copy never became a data directory, and no server was started on it.
        assert not (claim / "mysql").exists()
        assert harness.pod_phase("mysql-2") == "Initializing"
        assert harness.log_tail("mysql-2", "mysql") == ""
        assert ("the transfer failed" in clone_log
                or "the stream ended before the backup was complete" in clone_log), clone_log
        assert "retrying in" in clone_log

    harness.scale_to(3)
    if mysql:
        # The donor's server restarted alone (skip-replica-start): its agent, still running,
        # gave it its role again, so it replicates and serves the retry.
        assert "giving it its role again" in harness.log_tail("mysql-1", "agent", lines=10_000)
    else:
        donor_log = harness.log_tail("mysql-1", "backup", lines=10_000, previous=True)
        assert "streaming a backup to a peer" in donor_log and "backup sent" not in donor_log
    assert harness.restart_count("mysql-1", serving) == restarts + 1
    cluster.insert_events(1001, 1100)
    cluster.wait_caught_up()

    cluster.clone_start("mysql-2")
    if mysql:
        # The retry made the copy the server restarted on, once; the mark is gone.
        assert "clone complete" in harness.log_tail("mysql-2", "agent", lines=10_000)
        assert not (claim / "clone").exists()
    else:
        # The retry, in the same run of clone-mysql, produced the data directory in one piece.
        assert harness.restart_count("mysql-2", "clone-mysql") == 0
        assert not (claim / "clone-staging").exists()
        # The server's only start was on the finished clone, not on an empty directory.
        assert harness.restart_count("mysql-2", "mysql") == 0
        assert "Initializing database files" not in harness.log_tail("mysql-2", "mysql", lines=10_000)
    cluster.assert_replicating("mysql-2")
    cluster.assert_events_everywhere(1100)


def _cloned_bytes(pod: str, harness) -> int:
    """What the running clone has copied so far (0 when none runs or the server does not answer)."""
    try:
        rows = harness.run_sql(pod, "SELECT COALESCE(SUM(DATA), 0) FROM performance_schema.clone_progress")
    except HarnessError:  # the server may be starting or going down
        return 0
    return int(rows[0][0] or 0) if rows else 0


@pytest.mark.timeout(300)
def test_rows_written_while_a_replica_is_added_reach_every_pod_once(mariadb_cluster):
    """An application keeps inserting rows, one transaction each, through one connection to
    the primary, from before the new pod is created until after it is Ready."""
    cluster = mariadb_cluster(replicas=2)
    harness = cluster.harness
    cluster.create_events_table()
    before = gtid_sequence(cluster.gtid_position(cluster.primary)) if cluster.flavor == "mariadb" else 0
    writer = Writer(cluster.app_session(cluster.primary))
    writer.start()
    try:
        harness.wait_until(lambda: writer.session.sent >= 100, 30, "the first rows written")
        harness.scale_to(3)
        sent_when_ready = writer.session.sent
        harness.wait_until(lambda: writer.session.sent >= sent_when_ready + 100, 30,
                           "more rows written after the new pod is Ready")
    finally:
        writer.finish()
    cluster.wait_caught_up()

    if cluster.flavor == "mariadb":
        # The backup was taken in the middle of the writes: rows came both in the clone and
        # after it. (A MySQL clone starts from its own gtid_executed, which its log does not name.)
        after = gtid_sequence(cluster.gtid_position(cluster.primary))
        assert before < gtid_sequence(cluster.clone_start("mysql-2")) < after
    cluster.assert_events_everywhere(writer.session.sent)
    assert_replicas_match(cluster)


class Writer(threading.Thread):
    """Sends one INSERT every few milliseconds until told to stop (at most MAX_ROWS), numbering
    the rows from `first`."""

    MAX_ROWS = 20_000
    PAUSE = 0.005

    def __init__(self, session, first: int = 1):
        super().__init__(name="e2e-writer", daemon=True)
        self.session = session
        self.first = first
        self.stopping = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set() and self.session.sent < self.MAX_ROWS:
                seq = self.first + self.session.sent
                self.session.send(f"INSERT INTO events VALUES ({seq}, SHA2({seq}, 256))")
                time.sleep(self.PAUSE)
        except Exception as error:  # handed to the test thread by finish()
            self.error = error

    def finish(self) -> None:
        """Stop, wait for every statement sent to be committed; raise what went wrong."""
        self.stopping.set()
        self.join(timeout=30)
        self.session.close()
        if self.error is not None:
            raise self.error


def _bytes_under(directory) -> int:
    total = 0
    try:
        for path in directory.rglob("*"):
            if path.is_file():
                total += path.stat().st_size
    except OSError:  # the clone replaces the directory as it goes
        pass
    return total
