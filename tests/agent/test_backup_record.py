"""The backup Job's record step: the end record read from the stream's last bytes, the history
being archived at the start, and, against a real rclone on a local target, that an upload the
target does not hold whole is removed and never gets a manifest."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mysql_cluster_agent.backup_manifest import read_manifest
from mysql_cluster_agent.backup_record import (
    JobSettings, RecordFailed, end_record, gtid_of, history_at, read_result, record)
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.rclone_target import RcloneTarget

from .test_rclone_target import target_env

NAME = "20260101T023000Z"
END = (b"...backup bytes\nmysql-cluster: the backup tool finished\nserver_version = 11.8.9-MariaDB-log\n"
       b"binlog_pos = filename 'mysql-bin.000003', position '342', GTID of the last change '0-100-42'\n")


def test_the_end_record_gives_the_server_version_and_gtid():
    record_ = end_record(END)
    assert record_["server_version"] == "11.8.9-MariaDB-log" and gtid_of(record_) == "0-100-42"


def test_a_stream_cut_before_its_end_record_has_none():
    assert end_record(END[:20]) == {}


def test_a_clone_without_a_gtid_has_an_empty_one():
    assert gtid_of(end_record(b"mysql-cluster: the backup tool finished\nserver_version = 9.7.0\n")) == ""


@pytest.mark.parametrize(("histories", "history"), [
    (["20251231T000000Z", "20260101T000000Z"], "20260101T000000Z"),
    (["20251231T000000Z", "20260101T030000Z"], "20251231T000000Z"),  # begun after the backup started
    ([], ""), (["junk"], ""),
])
def test_the_history_is_the_one_archived_into_when_the_backup_started(histories, history):
    assert history_at(histories, NAME) == history


def write_result(directory: Path, data: bytes, **changes: str) -> None:
    values = {"name": NAME, "start": "2026-01-01T02:30:00Z", "finish": "2026-01-01T02:31:00Z",
              "donor": "mysql-1.mysql.shop.svc.cluster.local", "bytes": str(len(data)),
              "sha256": f"{hashlib.sha256(data).hexdigest()}  -", **changes}
    for key, value in values.items():
        (directory / key).write_text(value + "\n")
    (directory / "tail").write_bytes(data[-65536:])


@pytest.mark.parametrize(("change", "problem"), [
    ({"bytes": "12x"}, "the stream's bytes is not well-formed"),
    ({"name": "../x"}, "the stream's name is not well-formed"),
    ({"sha256": "zz"}, "the stream's sha256 is not well-formed"),
])
def test_a_result_the_stream_did_not_write_is_refused(tmp_path, change, problem):
    write_result(tmp_path, END, **change)
    with pytest.raises(RecordFailed, match=problem):
        read_result(tmp_path)


@pytest.fixture
def job(tmp_path) -> tuple[RcloneTarget, JobSettings]:
    (tmp_path / "bucket").mkdir()
    return (RcloneTarget.from_env(target_env(tmp_path)),
            JobSettings(f"sealed:{tmp_path}/bucket/shop/mysql", "mysql", "shop", Flavor.MARIADB, "xbstream",
                        1, 0, True))


def test_a_whole_upload_gets_its_manifest(tmp_path, job):
    target, settings = job
    target.rcat(f"{settings.remote}/backups/{NAME}/backup.xbstream", END)
    target.rcat(f"{settings.remote}/binlogs/20251231T000000Z/started", b"")
    write_result(tmp_path, END)
    record(target, settings, read_result(tmp_path))
    manifest = read_manifest(target.cat(f"{settings.remote}/backups/{NAME}/manifest.json"), NAME)
    assert (manifest.gtid, manifest.size_bytes, manifest.binlog_history, manifest.namespace) == (
        "0-100-42", len(END), "20251231T000000Z", "shop")


def test_an_upload_the_target_does_not_hold_whole_is_removed_and_gets_no_manifest(tmp_path, job):
    target, settings = job
    target.rcat(f"{settings.remote}/backups/{NAME}/backup.xbstream", END[:-5])
    write_result(tmp_path, END)
    with pytest.raises(RecordFailed) as failed:
        record(target, settings, read_result(tmp_path))
    assert f"the target holds {len(END) - 5} bytes of" in str(failed.value)
    assert "no backup was recorded and none was deleted" in str(failed.value)
    assert target.list(f"{settings.remote}/backups") == []


def test_a_stream_without_its_end_record_gets_no_manifest(tmp_path, job):
    target, settings = job
    target.rcat(f"{settings.remote}/backups/{NAME}/backup.xbstream", b"cut")
    write_result(tmp_path, b"cut")
    with pytest.raises(RecordFailed, match="ended before the backup tool finished"):
        record(target, settings, read_result(tmp_path))
    assert target.list(f"{settings.remote}/backups") == []
