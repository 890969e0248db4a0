"""Pod 0's `restore` init container for a MySQL backup (backupFormat tar: the data directory a
clone made, mysql_cluster/backups.py): gives the empty data directory the backup the restore plan
chose and checked (restore_plan.py, which leaves one file a value in PLAN_DIR; none when there is
nothing to restore).

The object is read once: `rclone cat` decrypts it block by block (a block that fails
authentication stops the stream), the bytes are hashed as they pass and extracted into a staging
directory. Only when the sha256 equals the manifest's and the copy holds the data dictionary is
the staging directory renamed into place; no server has run on the data until restore-replay.sh
has checked the target and replayed the logs. A clone is consistent as copied: nothing to prepare.

The bucket is untrusted input: a tar from it could name absolute paths, `..`, links pointing
outside, devices or set-uid files. tarfile's `data` filter refuses these
(https://docs.python.org/3/library/tarfile.html#tarfile.data_filter), absolute paths included,
which it would merely strip of their slash; a refused member refuses the whole backup, whatever
its checksum.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from .backup_manifest import shown
from .rclone_target import AuthenticationFailed, RcloneError, RcloneTarget, TargetProblem
from .rclone_target import shown as last_words

_CHUNK = 1 << 20


def _log(message: str) -> None:
    # Stamped as restore.sh's lines are (scripts/lib.sh), whichever server's restore runs.
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} restore: {message}", file=sys.stderr, flush=True)


class Refused(RuntimeError):
    """One line: why the backup was not restored, and what to do."""


def _member(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    if member.name.startswith("/"):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, path)


class _Hashing:
    """A reader that hashes what passes through it (tarfile's stream mode reads with read())."""

    def __init__(self, reader: IO[bytes]) -> None:
        self._reader = reader
        self.digest = hashlib.sha256()

    def read(self, size: int = _CHUNK) -> bytes:
        data = self._reader.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> str:
        """Hashes what follows the tar's end (its padding) and returns the whole stream's sha256."""
        while self.read(_CHUNK):
            pass
        return self.digest.hexdigest()


def receive(target: RcloneTarget, obj: str, name: str, staging: Path) -> str:
    """Extracts the object into staging as it streams; its sha256."""
    try:
        with target.stream(obj, f"backup {name}") as reader:
            hashing = _Hashing(reader)
            with tarfile.open(fileobj=hashing, mode="r|", bufsize=_CHUNK, copybufsize=_CHUNK) as archive:  # type: ignore[call-overload]
                archive.extractall(staging, filter=_member)
            return hashing.drain()
    except AuthenticationFailed as error:
        raise Refused(f"backup {name} failed authentication with this cluster's backup key (backupKey): it was "
                      "altered in the bucket or encrypted with another key; nothing of it was used. Choose "
                      f"another backup. rclone said: {last_words(error.said)}") from None
    except tarfile.FilterError as error:
        raise Refused(f"backup {name} holds a member a backup never holds ({shown(str(error))}); "
                      "nothing of it was used: it was not written by this cluster's backup. Choose another backup") from None
    except (tarfile.TarError, OSError) as error:
        raise RcloneError(f"the extraction of backup {name} into {staging} failed ({shown(str(error))}); "
                          "the pod retries", 0, str(error)) from None


def restore(env: Mapping[str, str]) -> None:
    plan_dir = Path(env["PLAN_DIR"])
    if not (plan_dir / "object").is_file():
        _log("the restore plan found nothing to restore")
        return
    plan = {key: (plan_dir / key).read_text().strip() for key in ("name", "object", "sha256", "format", "gtid")}
    name = plan["name"]
    if plan["format"] != "tar":
        raise TargetProblem(f"the restore plan names a {shown(plan['format'])} backup; this step restores tar only")
    data_volume = Path(env["DATA_VOLUME"])
    datadir, staging = data_volume / env["DATA_SUBDIR"], data_volume / "restore-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _log(f"streaming backup {name} from {plan['object']}")
    try:
        actual = receive(RcloneTarget.from_env(env), plan["object"], name, staging)
        if actual != plan["sha256"]:
            raise Refused(f"backup {name} is damaged: its sha256 is {actual}, the manifest says {plan['sha256']}; "
                          "choose another backup")
        # The GTID set is the one the clone recorded, which the manifest carries from the
        # stream's end record.
        if not ((staging / "mysql.ibd").is_file() and (staging / "mysql").is_dir()):
            raise Refused(f"backup {name} lacks the data dictionary (mysql.ibd) or the mysql schema although "
                          "its checksum matches; choose another backup")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # The donor's server UUID must not be inherited.
    (staging / "auto.cnf").unlink(missing_ok=True)
    # The replay's hand-over (restore-pending.json) was written by the restore plan before this
    # started; a crash before the rename leaves no data directory, so the restore repeats.
    os.sync()
    staging.rename(datadir)
    os.sync()
    restore_to = env.get("RESTORE_TO", "")
    _log(f"backup {name} restored at GTID {plan['gtid']}"
         + (f"; binary logs to replay up to {restore_to}" if restore_to else ""))


def main(env: Mapping[str, str]) -> int:
    try:
        restore(env)
    except (Refused, TargetProblem, RcloneError) as error:
        _log(str(error))
        return 1
    except (KeyError, OSError) as error:
        _log(f"the restore failed: {shown(str(error))}; the pod retries")
        return 1
    return 0
