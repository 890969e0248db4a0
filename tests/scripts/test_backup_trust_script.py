"""What a backup's bucket or claim holds is untrusted: the real backup steps (backup-job.sh then
the agent's backup-record; the agent's restore-plan then restore.sh or restore-tar; restore-replay.sh) run
against a local bucket through the real rclone and its crypt remote, as the component configures
them; the database and backup tools are stubs that record whether they ran. A crafted manifest
or hand-over file is refused with a line naming it and nothing runs; a changed object fails
authentication; retention leaves another cluster's backups alone."""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mysql_cluster.backups import SEALED_REMOTE
from scripted_pod import dialect_env

PROJECT = Path(__file__).resolve().parents[2]
SCRIPTS = PROJECT / "scripts"
AGENT_PATH = PROJECT / "components"
RCLONE = Path(os.environ.get("VIRTUAL_ENV", PROJECT / ".venv")) / "bin" / "rclone"
if not RCLONE.exists():
    RCLONE = PROJECT / ".venv" / "bin" / "rclone"
KEY = "backup-key-0123456789abcdef"
NAME = "20260101T023000Z"
PWNED = "/tmp/PWNED-backup-trust"
CRAFTED_GTID = f"0-100-seq[$(id>{PWNED})]"
END_RECORD = ("\nmysql-cluster: the backup tool finished\nserver_version = 11.8.9-MariaDB-0+deb13u1 from Debian-log\n"
              "binlog_pos = filename 'mysql-bin.000003', position '342', GTID of the last change '0-100-42'\n")


class Bucket:
    """A claim-like local bucket that the scripts reach as `sealed:<root>/<prefix>`, with the
    component's rclone environment."""

    def __init__(self, root: Path, key: str = KEY):
        self.root = root
        (root / "bucket").mkdir(parents=True, exist_ok=True)
        (root / "key").write_text(key)
        self.env = {"RCLONE": str(RCLONE), "RCLONE_CONFIG": "/dev/null",
                    "RCLONE_CONFIG_TARGET_TYPE": "local",
                    f"RCLONE_CONFIG_{SEALED_REMOTE.upper()}_TYPE": "crypt",
                    f"RCLONE_CONFIG_{SEALED_REMOTE.upper()}_REMOTE": "target:",
                    f"RCLONE_CONFIG_{SEALED_REMOTE.upper()}_FILENAME_ENCRYPTION": "off",
                    f"RCLONE_CONFIG_{SEALED_REMOTE.upper()}_DIRECTORY_NAME_ENCRYPTION": "false",
                    "CRYPT_PASSWORD_FILE": str(root / "key"), "TARGET_CREDENTIALS_DIR": ""}

    def remote(self, prefix: str) -> str:
        return f"{SEALED_REMOTE}:{self.root / 'bucket' / prefix}"

    def _rclone(self, *args: str, data: bytes | None = None) -> bytes:
        env = {**os.environ, **self.env}
        env["RCLONE_CONFIG_SEALED_PASSWORD"] = subprocess.run(
            [str(RCLONE), "obscure", "-"], input=KEY.encode(), capture_output=True, check=True,
            env=env).stdout.decode().strip()
        return subprocess.run([str(RCLONE), *args], input=data, capture_output=True, check=True,
                              env=env).stdout

    def put(self, path: str, data: bytes) -> None:
        self._rclone("rcat", f"{SEALED_REMOTE}:{self.root / 'bucket' / path}", data=data)

    def get(self, path: str) -> bytes:
        return self._rclone("cat", f"{SEALED_REMOTE}:{self.root / 'bucket' / path}")

    def stored(self, path: str) -> Path:
        """The object as the bucket holds it: ciphertext, named with ".bin"."""
        return self.root / "bucket" / f"{path}.bin"


def manifest(name: str = NAME, *, cluster: str = "mysql", namespace: str = "shop",
             sha256: str = "0" * 64, size: int = 0, history: str = "", **fields: str) -> str:
    values = {"name": name, "cluster": cluster, "namespace": namespace, "flavor": "mariadb",
              "serverVersion": "11.8.9-MariaDB-0+deb13u1 from Debian-log", "startTime": "2026-01-01T02:30:00Z",
              "endTime": "2026-01-01T02:31:00Z", "gtid": "0-100-42", "sizeBytes": size,
              "sha256": sha256, "donor": "mysql-1.mysql.shop.svc.cluster.local",
              "binlogHistory": history, "format": "xbstream", **fields}
    lines = [f'  "{key}": {value}' if isinstance(value, int) else f'  "{key}": "{value}"'
             for key, value in values.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def backup_stream(files: dict[str, str]) -> bytes:
    """The stub stream tool's format (a tar) holding the given files and the end record."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in {**files, "mysql-cluster-backup-end": END_RECORD}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def store_backup(bucket: Bucket, prefix: str, files: dict[str, str], name: str = NAME, **fields) -> None:
    stream = backup_stream(files)
    bucket.put(f"{prefix}/backups/{name}/backup.{fields.get('format', 'xbstream')}", stream)
    bucket.put(f"{prefix}/backups/{name}/manifest.json", manifest(
        name, sha256=hashlib.sha256(stream).hexdigest(), size=len(stream), **fields).encode())


@pytest.fixture
def pod(tmp_path):
    """A pod's volumes and stub tools; run(script, **env) runs a real script there."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    calls = tmp_path / "calls.log"
    for tool, body in {"mbstream": 'exec tar -x -C "$3"', "mariadb-backup": "exit 0",
                       "mariadbd": "exit 1", "mariadb": "exit 1", "mariadb-binlog": "exit 0",
                       "mysqld": "exit 1", "mysql": "exit 1", "mysqlbinlog": "exit 0",
                       "socat": 'cat "$STUB_STREAM_FILE"'}.items():
        (stubs / tool).write_text(f'#!/bin/bash\necho "{tool} $*" >>"{calls}"\n{body}\n')
        (stubs / tool).chmod(0o755)
    for directory in ("data", "tmp", "secrets", "client-options", "plan", "result"):
        (tmp_path / directory).mkdir()
    (tmp_path / "secrets" / "root-password").write_text("root-secret-1234")
    bucket = Bucket(tmp_path / "store")

    class Pod:
        def __init__(self):
            self.bucket, self.calls, self.data = bucket, calls, tmp_path / "data"

        def run(self, script: str, **env: str) -> subprocess.CompletedProcess:
            full_env = {"PATH": f"{stubs}:{os.environ['PATH']}", "TMPDIR": str(tmp_path / "tmp"),
                        "POD_NAME": "mysql-0", "STATEFULSET_NAME": "mysql", "CLUSTER_NAME": "mysql",
                        "CLUSTER_NAMESPACE": "shop", "CLUSTER_DOMAIN": "cluster.local",
                        "HEADLESS_SERVICE": "mysql", "DB_FLAVOR": "mariadb", "DB_VERSION": "11.8",
                        "BACKUP_FORMAT": "xbstream",
                        "DATA_VOLUME": str(self.data), "DATA_SUBDIR": "mysql",
                        "SECRETS_DIR": str(tmp_path / "secrets"),
                        "CLIENT_OPTIONS_DIR": str(tmp_path / "client-options"),
                        "BACKUP_REMOTE": bucket.remote("shop/mysql"),
                        "RESTORE_REMOTE": bucket.remote("shop/mysql"), "RESTORE_NAME": "latest",
                        "RESTORE_ANY_CLUSTER": "false", "PLAN_DIR": str(tmp_path / "plan"),
                        "RESULT_DIR": str(tmp_path / "result"), "PYTHONPATH": str(AGENT_PATH),
                        **bucket.env, **env}
            full_env |= dialect_env(full_env["DB_FLAVOR"], full_env["DB_VERSION"])
            command = ([sys.executable, "-m", "mysql_cluster_agent", script] if not script.endswith(".sh")
                       else ["bash", str(SCRIPTS / script)])
            return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=120)

        def steps(self, *steps: str, **env: str) -> subprocess.CompletedProcess:
            """The steps of one pod in order, as its init containers run: up to the first failure."""
            errors = ""
            for step in steps:
                result = self.run(step, **env)
                errors += result.stderr
                if result.returncode != 0:
                    break
            return subprocess.CompletedProcess(steps, result.returncode, "", errors)

        def restore(self, **env: str) -> subprocess.CompletedProcess:
            # A MySQL backup (tar) is restored by the agent's restore-tar, as the pod renders it.
            return self.steps("restore-plan", "restore-tar" if env.get("BACKUP_FORMAT") == "tar" else "restore.sh",
                              **env)

        def ran(self, tool: str) -> bool:
            return self.calls.exists() and any(
                line.startswith(f"{tool} ") for line in self.calls.read_text().splitlines())
    Path(PWNED).unlink(missing_ok=True)
    yield Pod()
    assert not Path(PWNED).exists(), "a value from the bucket ran as a command"


def test_a_mysql_backup_whose_manifest_names_no_mysql_gtid_set_is_refused_before_the_data_is_used(pod):
    # A tar as MySQL's backup Job writes it (a clone's data directory), its manifest well-formed
    # but naming a MariaDB position: the restore extracts it with the real rclone and refuses it.
    store_backup(pod.bucket, "shop/mysql", {"mysql.ibd": "", "mysql/general_log.sdi": ""},
                 flavor="mysql", serverVersion="9.7.4", format="tar")
    result = pod.restore(DB_FLAVOR="mysql", DB_VERSION="9.7", BACKUP_FORMAT="tar")
    assert result.returncode != 0
    assert "the manifest of backup 20260101T023000Z: its gtid is not a mysql GTID state" in result.stderr, \
        result.stderr
    assert not (pod.data / "mysql").exists() and not (pod.data / "restore-pending.json").exists()


def test_a_crafted_binlog_history_in_the_manifest_is_refused_before_anything_is_fetched(pod):
    store_backup(pod.bucket, "shop/mysql", {"mariadb_backup_binlog_info": "mysql-bin.000003\t342\t0-100-42\n"},
                 history="../../other-cluster/binlogs/x")
    result = pod.restore(RESTORE_NAME=NAME, RESTORE_TO="latest")
    assert result.returncode != 0
    assert "field binlogHistory is not well-formed ('../../other-cluster/binlogs/x'); refusing this backup" \
        in result.stderr, result.stderr
    assert not pod.ran("mbstream"), "nothing of the backup was read"


@pytest.mark.parametrize("line", [
    '  "flavor": "mariadb$(id)"',
    '  "sizeBytes": 1e3',
    '  "sha256": "abc"',
    '  "extra": "field"',
    '  "serverVersion": "11.8.9; DROP TABLE x"',
], ids=["command", "number", "checksum", "unknown field", "version"])
def test_every_field_of_a_manifest_has_a_grammar(pod, line):
    key = line.split('"')[1]
    text = manifest()
    lines = [entry for entry in text.splitlines() if f'"{key}"' not in entry]
    crafted = "\n".join(lines[:2] + [line + ","] + lines[2:]) + "\n"
    pod.bucket.put(f"shop/mysql/backups/{NAME}/manifest.json", crafted.encode())
    result = pod.restore(RESTORE_NAME=NAME)
    assert result.returncode != 0 and "refusing" in result.stderr, result.stderr
    assert not pod.ran("mbstream")


def test_an_object_changed_in_the_bucket_fails_authentication_and_nothing_is_used(pod):
    store_backup(pod.bucket, "shop/mysql", {"mariadb_backup_binlog_info": "mysql-bin.000003\t342\t0-100-42\n"})
    stored = pod.bucket.stored(f"shop/mysql/backups/{NAME}/backup.xbstream")
    data = bytearray(stored.read_bytes())
    data[-100] ^= 1
    stored.write_bytes(bytes(data))
    result = pod.restore()
    assert result.returncode != 0
    assert (f"backup {NAME} failed authentication with this cluster's backup key (backupKey): it was "
            "altered in the bucket or encrypted with another key; nothing of it was used") in result.stderr, \
        result.stderr
    assert not pod.ran("mariadb-backup"), "nothing was prepared"
    assert not (pod.data / "mysql").exists() and not (pod.data / "restore-staging").exists()


def test_a_backup_under_another_key_is_refused_at_its_manifest(pod, tmp_path):
    store_backup(pod.bucket, "shop/mysql", {"mariadb_backup_binlog_info": "mysql-bin.000003\t342\t0-100-42\n"})
    (tmp_path / "other-key").write_text("another-key-0123456789")
    result = pod.restore(RESTORE_NAME=NAME, CRYPT_PASSWORD_FILE=str(tmp_path / "other-key"))
    assert result.returncode != 0
    assert f"backup {NAME} failed authentication with this cluster's backup key" in result.stderr, result.stderr


def test_a_backup_of_another_cluster_under_this_prefix_is_refused_unless_its_prefix_is_named(pod):
    store_backup(pod.bucket, "shop/mysql", {"mariadb_backup_binlog_info": "mysql-bin.000003\t342\t0-100-42\n"},
                 namespace="prod")
    refused = pod.restore(RESTORE_NAME=NAME)
    assert refused.returncode != 0
    assert (f"backup {NAME} belongs to cluster prod/mysql, not to this one (shop/mysql); to restore "
            "another cluster's backup, name its prefix in restoreFrom") in refused.stderr, refused.stderr
    latest = pod.restore()
    assert latest.returncode != 0 and "no complete backup of this cluster" in latest.stderr, latest.stderr

    named = pod.restore(RESTORE_NAME=NAME, RESTORE_ANY_CLUSTER="true")
    assert named.returncode == 0, named.stderr
    assert f"restoring backup {NAME} of cluster prod/mysql, whose prefix restoreFrom names" in named.stderr
    assert (pod.data / "mysql").is_dir()


def test_retention_of_one_cluster_leaves_another_clusters_backups_under_a_shared_prefix(pod):
    others = [f"2026010{day}T023000Z" for day in (1, 2, 3)]
    for name in others:
        store_backup(pod.bucket, "shared", {"f": "x"}, name=name, namespace="staging")
    stream = pod.data.parent / "stream"
    stream.write_bytes(backup_stream({"f": "y"}))
    for attempt in range(3):
        result = pod.steps("backup-job.sh", "backup-record", BACKUP_REMOTE=pod.bucket.remote("shared"), DONOR_HOSTS="mysql-1",
                         BACKUP_PORT="3307", RETENTION_COUNT="1", RETENTION_DAYS="0",
                         STUB_STREAM_FILE=str(stream))
        assert result.returncode == 0, result.stderr
        if attempt < 2:
            subprocess.run(["sleep", "1.1"], check=True)  # names are their start second
    names = sorted(entry.name for entry in (pod.bucket.root / "bucket" / "shared" / "backups").iterdir())
    ours = [name for name in names if name not in others]
    assert len(ours) == 1, names  # retention count 1 applies to this cluster's backups
    assert set(others) <= set(names), "the other cluster's backups are all kept"
    facts = pod.bucket.get(f"shared/backups/{ours[0]}/manifest.json").decode()
    assert '"namespace": "shop"' in facts and '"cluster": "mysql"' in facts
