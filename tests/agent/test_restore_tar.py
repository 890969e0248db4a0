"""A MySQL backup's restore (restore_tar.py) against a real rclone on a local target: the object
is read once, checked against the manifest's sha256 and extracted; a tar from the bucket that
names a path outside the staging directory, a link leading out or a device is refused, and
nothing of a refused backup reaches the data directory."""
from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mysql_cluster_agent.rclone_target import RcloneTarget
from mysql_cluster_agent.restore_tar import main

from .test_rclone_target import target_env

NAME = "20260102T000000Z"
# What follows the tar in the object: the backup's end record (scripts/backup-stream-end.sh).
END_RECORD = b"end record after the archive"


def tar_of(*members: Callable[[tarfile.TarFile], None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for add in members:
            add(archive)
    return buffer.getvalue() + END_RECORD


def file(name: str, data: bytes = b"") -> Callable[[tarfile.TarFile], None]:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return add


def entry(name: str, kind: bytes, linkname: str = "") -> Callable[[tarfile.TarFile], None]:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, linkname
        archive.addfile(info)
    return add


CLONE = (entry("mysql", tarfile.DIRTYPE), file("mysql.ibd", b"dictionary"), file("mysql/db.sdi", b"{}"),
         file("auto.cnf", b"[auto]\nserver-uuid=donor\n"), file("ibdata1", b"x" * 300_000))


def stored_object(tmp_path: Path) -> Path:
    """The object as the bucket holds it (rclone's crypt adds .bin)."""
    return tmp_path / "bucket" / "backups" / NAME / "backup.tar.bin"


def pod_env(tmp_path: Path, stored: bytes | None, sha256: str | None = None) -> dict[str, str]:
    obj = f"sealed:{tmp_path}/bucket/backups/{NAME}/backup.tar"
    env = {**target_env(tmp_path), "DATA_VOLUME": str(tmp_path / "data"), "DATA_SUBDIR": "mysql",
           "PLAN_DIR": str(tmp_path / "plan"), "RESTORE_TO": ""}
    (tmp_path / "data").mkdir()
    (tmp_path / "plan").mkdir()
    if stored is not None:
        RcloneTarget.from_env(env).rcat(obj, stored)
        plan = {"name": NAME, "object": obj, "format": "tar", "gtid": "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5",
                "sha256": sha256 or hashlib.sha256(stored).hexdigest()}
        for key, value in plan.items():
            (tmp_path / "plan" / key).write_text(value + "\n")
    return env


def test_a_clone_whose_checksum_matches_becomes_the_data_directory_without_the_donors_uuid(tmp_path, capsys):
    env = pod_env(tmp_path, tar_of(*CLONE))
    assert main(env) == 0
    datadir = tmp_path / "data" / "mysql"
    assert (datadir / "mysql.ibd").read_bytes() == b"dictionary"
    assert (datadir / "ibdata1").stat().st_size == 300_000
    assert not (datadir / "auto.cnf").exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["mysql"]
    assert f"backup {NAME} restored at GTID 3e11fa47" in capsys.readouterr().err


def test_nothing_is_done_when_the_plan_found_nothing_to_restore(tmp_path, capsys):
    env = pod_env(tmp_path, None)
    assert main(env) == 0
    assert list((tmp_path / "data").iterdir()) == []
    assert "the restore plan found nothing to restore" in capsys.readouterr().err


def test_a_backup_whose_checksum_differs_from_the_manifest_is_refused_and_removed(tmp_path, capsys):
    env = pod_env(tmp_path, tar_of(*CLONE), sha256="0" * 64)
    assert main(env) == 1
    assert list((tmp_path / "data").iterdir()) == []
    assert f"backup {NAME} is damaged: its sha256 is" in capsys.readouterr().err


def test_a_backup_without_the_data_dictionary_is_refused(tmp_path, capsys):
    env = pod_env(tmp_path, tar_of(file("ibdata1", b"x")))
    assert main(env) == 1
    assert list((tmp_path / "data").iterdir()) == []
    assert "lacks the data dictionary (mysql.ibd)" in capsys.readouterr().err


@pytest.mark.parametrize("member", [
    file("/tmp/absolute-from-the-bucket", b"x"),
    file("../outside-the-staging-directory", b"x"),
    entry("mysql/escape", tarfile.SYMTYPE, "../../../outside"),
    entry("mysql/hard", tarfile.LNKTYPE, "/etc/passwd"),
    entry("mysql/device", tarfile.CHRTYPE),
], ids=["absolute path", "dot-dot", "symlink out", "hard link out", "device"])
def test_a_tar_from_the_bucket_that_reaches_outside_its_directory_is_refused(tmp_path, capsys, member):
    # The checksum matches: whoever altered the bucket could rewrite the manifest too.
    env = pod_env(tmp_path, tar_of(*CLONE[:2], member))
    assert main(env) == 1
    assert f"backup {NAME} holds a member a backup never holds" in capsys.readouterr().err
    assert list((tmp_path / "data").iterdir()) == []
    assert not (tmp_path / "outside-the-staging-directory").exists()
    assert not Path("/tmp/absolute-from-the-bucket").exists()


def test_a_backup_altered_in_the_bucket_fails_authentication_and_nothing_is_used(tmp_path, capsys):
    env = pod_env(tmp_path, tar_of(*CLONE))
    stored = stored_object(tmp_path)
    data = bytearray(stored.read_bytes())
    data[-100] ^= 1
    stored.write_bytes(bytes(data))
    assert main(env) == 1
    assert (f"backup {NAME} failed authentication with this cluster's backup key (backupKey): it was altered in "
            "the bucket or encrypted with another key; nothing of it was used") in capsys.readouterr().err
    assert list((tmp_path / "data").iterdir()) == []


def test_a_plan_naming_another_format_is_refused(tmp_path, capsys):
    env = pod_env(tmp_path, tar_of(*CLONE))
    (tmp_path / "plan" / "format").write_text("xbstream\n")
    assert main(env) == 1
    assert "this step restores tar only" in capsys.readouterr().err
