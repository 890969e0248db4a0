"""Pod 0's `restore-plan` init container (restoreFrom): which backup an empty pod 0 restores and
whether it may. It chooses the backup (the newest complete one, or the one named; this cluster's
own unless restoreFrom names a prefix), reads its manifest strictly through the backup key and
refuses another cluster's backup under this cluster's own prefix, one of another flavor or of a
newer server version, and a point in time (restoreTo) without an archived binary log history. It
then fetches the archived binary logs restoreTo replays, writes the hand-over for the replay
(restore_handover.py) and, for the restore step that streams and checks the backup (restore.sh,
or restore_tar.py for a tar), one file a value in PLAN_DIR:

    object   the backup object to stream (sealed:.../backups/<name>/backup.<format>)
    sha256   what its sha256 must be
    format   xbstream or tar
    name     the backup's name, for the restore step's log lines
    gtid, end   the manifest's GTID (for the restore step's last log line) and end time

Nothing is written when pod 0's data directory already holds a database, or on another pod:
the restore step then does nothing.
"""
from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .backup_manifest import Manifest, ManifestRefused, is_backup_name, read_manifest, shown
from .backup_record import complete_backups
from .dialect import Flavor
from .gtid import parse_gtid
from .rclone_target import AuthenticationFailed, RcloneError, RcloneTarget, TargetProblem
from .restore_handover import RestoreHandover, binlogs_path, write_handover

_MAJOR_MINOR = re.compile(r"([0-9]+)\.([0-9]+)")


def _log(message: str) -> None:
    print(f"restore-plan: {message}", file=sys.stderr, flush=True)


class Refused(RuntimeError):
    """One line: why this backup is not restored, and what to do."""


@dataclass(frozen=True)
class RestoreSettings:
    remote: str  # the prefix restoreFrom names (or the cluster's own), as an rclone path
    requested: str  # a backup name or "latest"
    any_cluster: bool  # restoreFrom named a prefix: another cluster's backups may be restored
    restore_to: str
    cluster: str
    namespace: str
    flavor: Flavor
    version: str  # major.minor of this cluster's server
    format: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RestoreSettings:
        try:
            return cls(env["RESTORE_REMOTE"], env["RESTORE_NAME"], env.get("RESTORE_ANY_CLUSTER") == "true",
                       env.get("RESTORE_TO", ""), env["CLUSTER_NAME"], env["CLUSTER_NAMESPACE"],
                       Flavor(env["DB_FLAVOR"]), env["DB_VERSION"], env["BACKUP_FORMAT"])
        except (KeyError, ValueError) as error:
            raise TargetProblem(f"the restore's environment lacks or garbles {error}; the component sets it") from None

    @property
    def owner(self) -> str:
        return f"{self.namespace}/{self.cluster}"


def choose_backup(settings: RestoreSettings, complete: list[str],
                  owner_of: Callable[[str], tuple[str, str] | None]) -> str:
    """The backup to restore: the one named, or the newest complete one (this cluster's own,
    unless restoreFrom named a prefix). owner_of(name) is its manifest's (namespace, cluster),
    None when unreadable."""
    if settings.requested != "latest":
        if not is_backup_name(settings.requested):
            raise Refused(f"restoreFrom's backup name is not well-formed ('{shown(settings.requested)}'); "
                          "name a backup as 'rclone lsf' shows it (20260101T023000Z) or 'latest'")
        return settings.requested
    candidates = sorted(complete)
    if not settings.any_cluster:
        candidates = [name for name in candidates if owner_of(name) == (settings.namespace, settings.cluster)]
    if not candidates:
        raise Refused(f"restoreFrom: there is no complete backup of this cluster under {settings.remote}/backups; "
                      "take one, or point restoreFrom at another prefix")
    return candidates[-1]


def check_manifest(settings: RestoreSettings, manifest: Manifest) -> list[str]:
    """Refuses a backup this cluster must not restore; the lines to log otherwise."""
    name, notes = manifest.name, []
    if not manifest.belongs_to(settings.namespace, settings.cluster):
        if not settings.any_cluster:
            raise Refused(f"backup {name} belongs to cluster {manifest.owner}, not to this one ({settings.owner}); "
                          "to restore another cluster's backup, name its prefix in restoreFrom "
                          f"(e.g. <prefix>/{name})")
        notes.append(f"restoring backup {name} of cluster {manifest.owner}, whose prefix restoreFrom names")
    flavor, ours = manifest.flavor.value, settings.flavor.value
    if manifest.flavor is not settings.flavor:
        raise Refused(f"backup {name} is of a {flavor} server and this cluster runs {ours}, which cannot read "
                      f"its data; restore it into a {flavor} cluster, or choose a {ours} backup")
    version = _MAJOR_MINOR.fullmatch(settings.version)
    if version is None:
        raise Refused(f"DB_VERSION {shown(settings.version)} is not major.minor")
    if manifest.server_major_minor > (int(version.group(1)), int(version.group(2))):
        major, minor = manifest.server_major_minor
        raise Refused(f"backup {name} was taken by {ours} {manifest.server_version}, newer than this cluster's "
                      f"{settings.version}, which cannot read it; set version to {major}.{minor} or newer")
    if settings.restore_to and not manifest.binlog_history:
        raise Refused(f"backup {name} was taken while no binary logs were archived, so it cannot be rolled "
                      "forward; set restoreTo to \"\" or choose a later backup")
    if manifest.format != settings.format:
        raise Refused(f"backup {name} holds a {shown(manifest.format)} stream, and this cluster restores "
                      f"{settings.format}; choose a backup this cluster's servers took")
    try:
        gtid = parse_gtid(settings.flavor, manifest.gtid)
    except ValueError as error:
        raise Refused(f"the manifest of backup {name}: its gtid is not a {ours} GTID state ({error}); "
                      "choose another backup") from None
    if not str(gtid):
        raise Refused(f"backup {name} does not say which GTID position it holds; choose another backup")
    return notes


def load_manifest(target: RcloneTarget, remote: str, name: str) -> Manifest:
    try:
        text = target.cat(f"{remote}/backups/{name}/manifest.json", f"backup {name}")
    except AuthenticationFailed as error:
        raise Refused(str(error)) from None
    except RcloneError as error:
        raise Refused(f"backup {remote}/backups/{name} has no readable manifest, so it is not a complete backup "
                      f"({shown(error.said)}); choose one that 'rclone lsf {remote}/backups' shows with a "
                      "manifest.json") from None
    try:
        return read_manifest(text, name)
    except ManifestRefused as refused:
        raise Refused(str(refused)) from None


def _owner_reader(target: RcloneTarget, remote: str) -> Callable[[str], tuple[str, str] | None]:
    def owner_of(name: str) -> tuple[str, str] | None:
        try:
            manifest = load_manifest(target, remote, name)
        except Refused as refused:
            _log(f"leaving backup {name} out: {refused}")
            return None
        return (manifest.namespace or "", manifest.cluster)
    return owner_of


def data_directory_is_empty(datadir: Path) -> bool:
    """Whether pod 0 still needs its data: False once it holds a database (a restart)."""
    if (datadir / "mysql").is_dir():
        _log(f"{datadir} already holds a database")
        return False
    if datadir.is_dir():
        try:
            datadir.rmdir()
        except OSError:
            raise Refused(f"{datadir} holds files but no database; move it away (or delete the pod's "
                          "PersistentVolumeClaim) to make it anew") from None
    return True


def _write_plan(plan_dir: Path, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        (plan_dir / key).write_text(value + "\n")


def plan(env: Mapping[str, str]) -> None:
    settings = RestoreSettings.from_env(env)
    pod, statefulset = env.get("POD_NAME", ""), env.get("STATEFULSET_NAME", "")
    ordinal = pod.removeprefix(f"{statefulset}-")
    if not statefulset or not ordinal.isdigit():
        raise TargetProblem(f"pod name '{shown(pod)}' is not of the form '{statefulset}-<ordinal>'")
    if ordinal != "0":
        _log(f"pod {ordinal} clones from a peer; only pod 0 of a new cluster restores")
        return
    data_volume = Path(env["DATA_VOLUME"])
    if not data_directory_is_empty(data_volume / env["DATA_SUBDIR"]):
        return
    target = RcloneTarget.from_env(env)
    complete = complete_backups(target, settings.remote) if settings.requested == "latest" else []
    name = choose_backup(settings, complete, _owner_reader(target, settings.remote))
    manifest = load_manifest(target, settings.remote, name)
    for note in check_manifest(settings, manifest):
        _log(note)
    binlogs = binlogs_path(data_volume)
    shutil.rmtree(binlogs, ignore_errors=True)
    if settings.restore_to:
        history = f"{settings.remote}/binlogs/{manifest.binlog_history}"
        _log(f"fetching the binary logs archived in {history}")
        try:
            target.copy(history, str(binlogs), "--exclude", "started")
        except RcloneError as error:
            raise Refused(f"cannot fetch the archived binary logs of {history}: {error}") from None
    write_handover(data_volume, RestoreHandover(
        backup=name, end_time=manifest.end_time, gtid=manifest.gtid, format=manifest.format,
        binlog_history=manifest.binlog_history if settings.restore_to else "",
        restore_to=settings.restore_to), settings.flavor)
    _write_plan(Path(env["PLAN_DIR"]), {
        "object": f"{settings.remote}/backups/{name}/backup.{manifest.format}", "sha256": manifest.sha256,
        "format": manifest.format, "name": name, "gtid": manifest.gtid, "end": manifest.end_time})
    _log(f"restoring backup {name} ({manifest.size_bytes} bytes, {manifest.server_version}, GTID {manifest.gtid})")


def main(env: Mapping[str, str]) -> int:
    try:
        plan(env)
    except (Refused, TargetProblem, RcloneError) as error:
        _log(str(error))
        return 1
    return 0
