"""The restore drill, end to end: the CronJob's pod as rendered (restore.sh or the agent's
restore-tar, restore-drill-plan, restore-replay, restore-drill) against a real S3 server (`rclone
serve s3`), on MySQL 9.7 (a CLONE archived as a tar; the chain read from Previous-GTIDs events)
and MariaDB 11.8 (an xbstream; the chain read from Gtid_list events). It proves a good backup and its archive, with
the data equal to the source's where a pt-table-checksum round on the primary checksummed it;
and fails, saying what failed, on a gap in the archive, on an altered object, and on data that
differs from the source's. A failed drill is a failed Job: what kube-state-metrics reports as
kube_job_failed, the condition of MySQLClusterRestoreDrillFailed (promtool: tests/metrics)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from .checksum import checksum_replicas
from .kubelet import FAILED, SUCCEEDED
from .object_store import ObjectStore, copy_sealed
from .test_backups import (  # noqa: F401 (fixtures)
    SOURCE_PREFIX, backup_cluster, backup_object, checksum, run_backup, store, wait_archived,
)

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8"], indirect=True)]
DRILL = "mysql-restore-drill"
STEPS = ("restore", "restore-drill-plan", "restore-replay", "restore-drill")
CREATED_AFTER_THE_BACKUP = "CREATE TABLE after_the_backup (id INT PRIMARY KEY)"


def store_name(store: ObjectStore) -> str:
    """The name of the one backup in the store."""
    [name] = store.backups(SOURCE_PREFIX)
    return name


def run_drill(cluster, expect):
    pod = cluster.harness.run_job(DRILL, timeout=240)
    logs = {step: cluster.harness.job_log(pod, step) for step in STEPS}
    assert pod.phase == expect, f"{pod.failure}\n" + "\n".join(f"--- {s}\n{t}" for s, t in logs.items())
    return logs


def backed_up(backup_cluster, rows: int):
    """A one-pod cluster with `rows` events and a backup of them."""
    source = backup_cluster(1)
    source.create_events_table()
    if rows:
        source.insert_events(1, rows)
    run_backup(source)
    return source


def checksum_round(source) -> None:
    """A pt-table-checksum round on the primary (no replica to compare here): its checksum
    statements go into the binary log, for whatever replays it to recompute."""
    # Without deleting a table's earlier checksums first: on MariaDB that DELETE, logged as a
    # statement, matches no row when replayed, and the scratch server logs no empty transaction.
    report = checksum_replicas(source, "--no-empty-replicate-table")
    assert "events" in " ".join(report.tables), report.output


def archived_log_holding(store: ObjectStore, statement: str) -> Path:
    """The archived binary log (in the store) that logged `statement` (a statement's text is in its
    event as written, on either flavor)."""
    archive = store.bucket / SOURCE_PREFIX / "binlogs"
    with tempfile.TemporaryDirectory() as plain:
        copy_sealed(archive, Path(plain))
        for log in sorted(Path(plain).glob("*/mysql-bin.[0-9]*")):
            if statement.encode() in log.read_bytes():
                return archive / log.parent.name / f"{log.name}.bin"
    raise AssertionError(f"no archived binary log holds {statement}")


@pytest.mark.timeout(300)
def test_a_drill_proves_the_newest_backup_and_the_archive_up_to_the_newest_archived_position(
        backup_cluster, store):
    source = backed_up(backup_cluster, 500)
    source.insert_events(501, 600)  # after the backup: only the archive has them
    checksum_round(source)
    wait_archived(store, source)
    # The heartbeat keeps writing: the drill reaches wherever the archive then ends.
    logs = run_drill(source, SUCCEEDED)
    verdict = logs["restore-drill"].strip().splitlines()[-1]
    assert f"VERDICT: restore drill passed: backup {store_name(store)}" in verdict
    [events] = re.findall(r"checksum app\.events\s+(\d+)", logs["restore-drill"])
    assert events == checksum(source.harness, source.primary, "events")  # rows 1..600
    assert "form one chain" in logs["restore-drill-plan"]
    [chunks] = re.findall(r"(\d+) chunks checksummed by pt-table-checksum equal the source's", verdict)
    assert int(chunks) >= 1


@pytest.mark.timeout(300)
def test_a_drill_over_an_archive_with_a_missing_log_fails_naming_the_gap(backup_cluster, store):
    source = backed_up(backup_cluster, 0)
    source.app_sql(source.primary, CREATED_AFTER_THE_BACKUP)
    wait_archived(store, source)
    source.insert_events(1, 10)
    wait_archived(store, source)
    # As a bucket that lost an object: removed behind the S3 server, which then starts afresh
    # (rclone serve caches its listings).
    store.stop()
    archived_log_holding(store, CREATED_AFTER_THE_BACKUP).unlink()
    store.serve(source.harness)
    logs = run_drill(source, FAILED)
    assert "FATAL: GAP:" in logs["restore-drill-plan"], logs["restore-drill-plan"]
    assert "Take a new backup now" in logs["restore-drill-plan"]
    assert logs["restore-replay"] == "" and logs["restore-drill"] == "", "nothing replayed"


@pytest.mark.timeout(300)
def test_a_drill_over_an_altered_backup_object_fails_saying_it_failed_authentication(
        backup_cluster, store, server):
    source = backed_up(backup_cluster, 100)
    stream = store.bucket / SOURCE_PREFIX / "backups" / store_name(store) / f"{backup_object(server)}.bin"
    data = bytearray(stream.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stream.write_bytes(bytes(data))
    logs = run_drill(source, FAILED)
    assert "failed authentication" in logs["restore"], logs["restore"]
    assert logs["restore-drill-plan"] == "" and logs["restore-drill"] == ""


@pytest.mark.timeout(300)
def test_a_drill_fails_naming_the_table_when_the_restored_data_differs_from_the_sources(
        backup_cluster, store):
    source = backed_up(backup_cluster, 100)
    # A row changed on the primary outside its binary log: the archive cannot carry it, so the
    # restored data differs from the source's, which pt-table-checksum's next round records.
    source.harness.run_sql(source.primary, "SET SESSION sql_log_bin = 0; "
                           "UPDATE events SET payload = 'changed' WHERE seq = 7", database="app")
    checksum_round(source)
    wait_archived(store, source)
    logs = run_drill(source, FAILED)
    verdict = logs["restore-drill"].strip().splitlines()[-1]
    assert "VERDICT: restore drill FAILED: the restored data differs from the source's" in verdict, verdict
    assert "app.events chunk" in verdict and "take a new backup" in verdict
