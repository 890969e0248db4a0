"""The backup Job's last step (`backup-record`): what makes an upload a backup. The stream
(scripts/backup-job.sh, in the backup image) leaves its results in RESULT_DIR, one file a value:

    name     the backup's name (its start time, 20260101T023000Z)
    start, finish  when the stream started and ended (2026-01-01T02:30:00Z)
    donor    the pod that served it
    bytes    how many bytes were sent (wc -c)
    sha256   their sha256 (sha256sum's line)
    tail     the stream's last bytes, which hold its end record (backup-stream-end.sh)

This step checks each of them, that the target holds every byte sent, reads the server version
and GTID from the end record, writes the manifest, then applies retention
(backup_retention.py). Until the manifest is written nothing is deleted; a failure before it
removes the attempt and says that no backup was recorded.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .backup_manifest import (
    DONOR,
    SHA256,
    UTC_TIME,
    Manifest,
    ManifestRefused,
    is_backup_name,
    read_manifest,
    shown,
)
from .backup_retention import retention
from .dialect import Flavor
from .rclone_target import RcloneError, RcloneTarget, TargetProblem

# The line the donor's stream ends with before the backup tool's info (backup-stream-end.sh).
END_LINE = b"mysql-cluster: the backup tool finished"
_END_RECORD_LINES = 60
_GTID_IN_BINLOG_POS = re.compile(r"GTID of the last change '([^']*)'")
_NUMBER = re.compile(r"0|[1-9][0-9]{0,17}")


def _log(message: str) -> None:
    print(f"backup-record: {message}", file=sys.stderr, flush=True)


class RecordFailed(RuntimeError):
    """One line: what failed; the attempt is removed and no backup is recorded."""


def end_record(tail: bytes) -> dict[str, str]:
    """The `key = value` lines of the end record found in the stream's last bytes; {} when the
    stream has none (it was cut before the backup tool finished)."""
    lines = tail.split(b"\n")
    starts = [index for index, line in enumerate(lines) if line == END_LINE]
    if not starts:
        return {}
    values: dict[str, str] = {}
    for line in lines[starts[-1] + 1:starts[-1] + 1 + _END_RECORD_LINES]:
        key, separator, value = line.decode(errors="replace").partition(" = ")
        if separator and key not in values:
            values[key] = value
    return values


def gtid_of(record: Mapping[str, str]) -> str:
    match = _GTID_IN_BINLOG_POS.search(record.get("binlog_pos", ""))
    return match.group(1) if match else ""


def history_at(histories: list[str], backup: str) -> str:
    """The binary log history being archived when the backup started: the newest begun before."""
    begun = sorted(name for name in histories if is_backup_name(name) and name <= backup)
    return begun[-1] if begun else ""


@dataclass(frozen=True)
class StreamResult:
    name: str
    start: str
    end: str
    donor: str
    bytes_sent: int
    sha256: str
    tail: bytes


def read_result(directory: Path) -> StreamResult:
    def value(name: str, grammar: Callable[[str], bool]) -> str:
        try:
            text = (directory / name).read_text().strip()
        except OSError as error:
            raise RecordFailed(f"the stream left no {name} in {directory} ({error})") from None
        if not grammar(text):
            raise RecordFailed(f"the stream's {name} is not well-formed ('{shown(text)}')")
        return text
    sha256 = value("sha256", lambda text: SHA256.fullmatch(text.split(" ")[0]) is not None).split(" ")[0]
    try:
        tail = (directory / "tail").read_bytes()
    except OSError as error:
        raise RecordFailed(f"the stream left no tail in {directory} ({error})") from None
    return StreamResult(
        name=value("name", is_backup_name), start=value("start", lambda text: UTC_TIME.fullmatch(text) is not None),
        end=value("finish", lambda text: UTC_TIME.fullmatch(text) is not None),
        donor=value("donor", lambda text: DONOR.fullmatch(text) is not None),
        bytes_sent=int(value("bytes", lambda text: _NUMBER.fullmatch(text) is not None)), sha256=sha256, tail=tail)


@dataclass(frozen=True)
class JobSettings:
    remote: str
    cluster: str
    namespace: str
    flavor: Flavor
    format: str
    retention_count: int
    retention_days: int
    local_target: bool  # a claim: rclone leaves empty directories behind

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JobSettings:
        try:
            return cls(env["BACKUP_REMOTE"], env["CLUSTER_NAME"], env["CLUSTER_NAMESPACE"],
                       Flavor(env["DB_FLAVOR"]), env["BACKUP_FORMAT"], int(env["RETENTION_COUNT"]),
                       int(env["RETENTION_DAYS"]), env.get("RCLONE_CONFIG_TARGET_TYPE") == "local")
        except (KeyError, ValueError) as error:
            raise TargetProblem(f"the backup Job's environment lacks or garbles {error}; the component sets it") from None


def manifest_of(result: StreamResult, job: JobSettings, history: str) -> Manifest:
    record = end_record(result.tail)
    if not record:
        raise RecordFailed(f"the stream from {result.donor} ended before the backup tool finished (no end record)")
    manifest = Manifest(
        name=result.name, cluster=job.cluster, namespace=job.namespace, flavor=job.flavor,
        server_version=record.get("server_version", ""), start_time=result.start, end_time=result.end,
        gtid=gtid_of(record), size_bytes=result.bytes_sent, sha256=result.sha256, donor=result.donor,
        binlog_history=history, format=job.format)
    try:
        manifest.to_json()
    except ManifestRefused as refused:
        raise RecordFailed(f"the manifest would not be well-formed: {refused}") from None
    return manifest


def own_backups(target: RcloneTarget, remote: str, names: list[str], job: JobSettings) -> list[str]:
    own = []
    for name in names:
        try:
            manifest = read_manifest(target.cat(f"{remote}/backups/{name}/manifest.json", f"backup {name}"), name)
        except (RcloneError, ManifestRefused) as error:
            _log(f"leaving backup {name} alone: {error}")
            continue
        if manifest.belongs_to(job.namespace, job.cluster):
            own.append(name)
        else:
            _log(f"backup {name} under {remote} is cluster {manifest.owner}'s, not this one's: leaving it alone")
    return own


def complete_backups(target: RcloneTarget, remote: str) -> list[str]:
    """The backups with a manifest under <remote>/backups, oldest first."""
    listed = target.list(f"{remote}/backups", "--recursive", "--files-only", "--include", "/*/manifest.json")
    return sorted(line.split("/")[0] for line in listed
                  if line.endswith("/manifest.json") and is_backup_name(line.split("/")[0]))


def directories(target: RcloneTarget, path: str) -> list[str]:
    return [line.rstrip("/") for line in target.list(path, "--dirs-only") if is_backup_name(line.rstrip("/"))]


def apply_retention(target: RcloneTarget, job: JobSettings, new_backup: str, now: datetime) -> None:
    remote = job.remote
    complete = complete_backups(target, remote)
    plan = retention(own_backups(target, remote, complete, job), directories(target, f"{remote}/backups"),
                     complete, new_backup, now, job.retention_count, job.retention_days)
    for name in plan.backups:
        _log(f"retention: deleting backup {name}")
        try:
            # The manifest first: a backup half deleted must not look complete.
            target.delete_file(f"{remote}/backups/{name}/manifest.json")
            target.purge(f"{remote}/backups/{name}")
        except RcloneError as error:
            raise RecordFailed(f"retention could not delete backup {name}; check the target's permissions: {error}") from None
    for name in plan.attempts:
        _log(f"retention: deleting {name}, an attempt that never completed")
        try:
            target.purge(f"{remote}/backups/{name}")
        except RcloneError as error:
            raise RecordFailed(f"retention could not delete {name}: {error}") from None
    age = plan.binlogs_older_than_seconds
    _log(f"retention: keeping {len(plan.kept)} backups; deleting binary logs archived more than {age}s ago")
    try:
        target.delete(f"{remote}/binlogs", "--min-age", f"{age}s", "--exclude", "started")
        if job.local_target:  # object stores have no empty directories; a claim keeps them
            target.run(["rmdirs", "--leave-root", remote], remote)
    except RcloneError as error:
        raise RecordFailed(f"retention could not delete old binary logs: {error}") from None


def record(target: RcloneTarget, job: JobSettings, result: StreamResult) -> Manifest:
    """Checks the upload and writes the manifest; raises RecordFailed before it when anything is amiss."""
    backup_dir = f"{job.remote}/backups/{result.name}"
    try:
        history = history_at(directories(target, f"{job.remote}/binlogs"), result.name)
        manifest = manifest_of(result, job, history)
        stored = target.size(f"{backup_dir}/backup.{job.format}")
        if stored != result.bytes_sent:
            raise RecordFailed(f"the target holds {'no' if stored is None else stored} bytes of "
                               f"{backup_dir}/backup.{job.format}, {result.bytes_sent} were sent")
        target.rcat(f"{backup_dir}/manifest.json", manifest.to_json().encode())
    except (RecordFailed, RcloneError) as error:
        try:
            target.purge(backup_dir)
        except RcloneError:
            _log(f"could not remove {backup_dir}; retention removes it later")
        raise RecordFailed(f"{error}; no backup was recorded and none was deleted") from None
    return manifest


def main(env: Mapping[str, str]) -> int:
    try:
        target = RcloneTarget.from_env(env)
        job = JobSettings.from_env(env)
        result = read_result(Path(env.get("RESULT_DIR", "")))
        manifest = record(target, job, result)
        _log(f"backup {manifest.name} complete: {manifest.size_bytes} bytes, sha256 {manifest.sha256}, "
             f"GTID {manifest.gtid}, from {manifest.donor}")
        apply_retention(target, job, manifest.name, datetime.now(timezone.utc))
    except (TargetProblem, RecordFailed, RcloneError) as error:
        _log(str(error))
        return 1
    return 0

