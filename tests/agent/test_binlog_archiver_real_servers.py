"""The binary log archiver (binlog_archiver.Archiver) on real MySQL 9.7 and MariaDB 11.8 servers,
through the agent's own seam, into a local rclone remote configured as the component configures
its target (a claim: rclone's local backend, under the crypt remote `sealed:`). The clock that
decides rotations is the test's; the server, its binary logs and rclone are real."""
from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mysql_cluster_agent.binlog_archiver import Archiver, ArchiverSettings, RecoveryPoint, run_archiver
from mysql_cluster_agent.dialect import Dialect, Flavor, dialect_for
from mysql_cluster_agent.local_server import LocalServer
from mysql_cluster_agent.rclone_target import RcloneTarget

from e2e.object_store import BACKUP_KEY, read_sealed, rclone

from .real_server import SERVERS, RealServer, running_server

PASSWORD = "archive-pw"
INTERVAL = 300
NOW = 1_764_990_000

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[RealServer]:
    with running_server(request.param, "log-bin=mysql-bin\nserver-id=1\n",
                        f"ALTER USER root@localhost IDENTIFIED BY '{PASSWORD}'; "
                        "CREATE DATABASE app; CREATE TABLE app.t (v INT PRIMARY KEY)") as real:
        yield real


@dataclass
class Clock:
    monotonic: float = 1000.0
    wall: float = NOW


@dataclass
class Archive:
    archiver: Archiver
    clock: Clock
    recovery_point: RecoveryPoint
    logged: list[str]
    store: Path  # the target's directory: the cluster's prefix in it
    volume: Path

    def history(self) -> str:
        return json.loads((self.volume / "binlog-archive.json").read_text())["history"]

    def stored(self) -> list[str]:
        """The plain names of the logs in the history's directory on the target."""
        directory = self.store / "binlogs" / self.history()
        return sorted(p.name.removesuffix(".bin") for p in directory.iterdir() if p.name != "started.bin")


def _seam(server: RealServer) -> LocalServer:
    return LocalServer(server.directory / "mysqld.sock", lambda: PASSWORD)


def _dialect(server: RealServer) -> Dialect:
    return dialect_for(Flavor.MARIADB if server.is_mariadb else Flavor.MYSQL)


def _target(tmp_path: Path) -> RcloneTarget:
    key = tmp_path / "backup-key"
    key.write_text(BACKUP_KEY)
    env = {"RCLONE": rclone(), "CRYPT_PASSWORD_FILE": str(key), "RCLONE_CONFIG": "/dev/null",
           "RCLONE_CONFIG_TARGET_TYPE": "local", "RCLONE_CONFIG_SEALED_TYPE": "crypt",
           "RCLONE_CONFIG_SEALED_REMOTE": "target:", "RCLONE_CONFIG_SEALED_FILENAME_ENCRYPTION": "off",
           "RCLONE_CONFIG_SEALED_DIRECTORY_NAME_ENCRYPTION": "false", "PATH": "/usr/bin:/bin"}
    return RcloneTarget.from_env(env)


def _archive(server: RealServer, tmp_path: Path, store: Path | None = None, volume: Path | None = None,
             clock: Clock | None = None) -> Archive:
    store = store or tmp_path / "store" / "prefix"
    volume = volume or tmp_path / "volume"
    volume.mkdir(parents=True, exist_ok=True)
    clock = clock or Clock()
    settings = ArchiverSettings(f"sealed:{store}", volume, server.directory / "data", INTERVAL)
    recovery_point, logged = RecoveryPoint(), []
    archiver = Archiver(_seam(server), _target(tmp_path), _dialect(server), settings, recovery_point,
                        logged.append, monotonic=lambda: clock.monotonic, wall=lambda: clock.wall)
    return Archive(archiver, clock, recovery_point, logged, store, volume)


@pytest.fixture
def primary(server: RealServer) -> Iterator[RealServer]:
    _seam(server).execute("SET GLOBAL read_only = 0")
    yield server
    _seam(server).execute("SET GLOBAL read_only = 0")


def _logs(server: RealServer) -> list[str]:
    return [str(row[0]) for row in _seam(server).query("SHOW BINARY LOGS")]


def _write(server: RealServer, value: int) -> None:
    _seam(server).execute("INSERT INTO app.t VALUES (%s)", (value,))


def test_a_primary_archives_its_closed_logs_whole_and_begins_its_history_at_its_position(primary, tmp_path):
    archive = _archive(primary, tmp_path)
    _seam(primary).execute("FLUSH BINARY LOGS")
    closed = _logs(primary)[:-1]
    archive.archiver.round()
    position = _seam(primary).query(f"SELECT {_dialect(primary).gtid_position_expression}")[0][0]
    assert archive.stored() == closed
    history = archive.store / "binlogs" / archive.history()
    assert read_sealed(history / "started") == str(position).replace("\n", "").encode()
    for log in closed:
        assert read_sealed(history / log) == (primary.directory / "data" / log).read_bytes()
    assert [f"archived {log}" for log in closed] == [line for line in archive.logged if line.startswith("archived")]


def test_no_recovery_point_is_claimed_before_the_first_rotation_then_it_is_when_the_rotation_was_decided(
        primary, tmp_path):
    archive = _archive(primary, tmp_path)
    archive.archiver.round()
    assert archive.recovery_point.get() is None
    _write(primary, 1)
    open_log = _logs(primary)[-1]
    archive.clock.monotonic += INTERVAL
    archive.clock.wall += INTERVAL
    archive.archiver.round()
    assert open_log in archive.stored(), "the log written to was rotated and archived in the same round"
    assert archive.recovery_point.get() == NOW + INTERVAL
    assert f"recovery point 2025-12-06T03:05:00Z ({NOW + INTERVAL}): every transaction committed before it " \
        "is archived" in archive.logged


def test_a_log_not_written_to_since_the_last_rotation_is_not_rotated_again(primary, tmp_path):
    archive = _archive(primary, tmp_path)
    archive.archiver.round()
    archive.clock.monotonic += INTERVAL
    archive.archiver.round()  # the first rotation
    logs = _logs(primary)
    archive.clock.monotonic += INTERVAL
    archive.clock.wall += INTERVAL
    archive.archiver.round()
    assert _logs(primary) == logs
    assert archive.recovery_point.get() == NOW + INTERVAL


def test_a_restarted_agent_continues_its_history_without_copying_a_log_twice(primary, tmp_path):
    first = _archive(primary, tmp_path)
    _seam(primary).execute("FLUSH BINARY LOGS")
    first.archiver.round()
    history, stored = first.history(), first.stored()
    again = _archive(primary, tmp_path, store=first.store, volume=first.volume)
    again.archiver.round()
    assert again.history() == history and again.stored() == stored
    assert not [line for line in again.logged if line.startswith("archived")]


def test_a_primary_whose_history_is_no_longer_the_newest_begins_a_new_one(primary, tmp_path):
    first = _archive(primary, tmp_path)
    first.archiver.round()
    (first.store / "binlogs" / "20991231T000000Z").mkdir()  # another primary's, since
    again = _archive(primary, tmp_path, store=first.store, volume=first.volume)
    again.archiver.round()
    assert again.history() == "20991231T000001Z"
    assert again.stored() == _logs(primary)[:-1], "every closed log the server still has"


def test_a_primary_that_becomes_a_replica_stops_archiving_and_withdraws_its_recovery_point(primary, tmp_path):
    archive = _archive(primary, tmp_path)
    archive.archiver.round()
    archive.clock.monotonic += INTERVAL
    archive.archiver.round()
    assert archive.recovery_point.get() is not None
    _seam(primary).execute("SET GLOBAL read_only = 1")
    _seam(primary).execute("FLUSH BINARY LOGS")
    stored = archive.stored()
    archive.archiver.round()
    assert archive.recovery_point.get() is None
    assert archive.stored() == stored
    assert "this server is no longer the primary; the primary archives from now on" in archive.logged


def test_a_copy_that_fails_is_said_once_and_claims_no_recovery_point_until_it_succeeds(primary, tmp_path):
    store = tmp_path / "store" / "prefix"
    archive = _archive(primary, tmp_path, store=store)
    archive.archiver.round()
    archive.clock.monotonic += INTERVAL
    # The history's directory replaced by a file: rclone cannot write into it.
    history = store / "binlogs" / archive.history()
    subprocess.run(["rm", "-r", str(history)], check=True)
    history.write_text("not a directory")
    for _ in range(2):
        archive.archiver.round_or_say()
    failures = [line for line in archive.logged if line.startswith("could not copy")]
    assert len(failures) == 1 and "retrying in 10s" in failures[0]
    assert archive.recovery_point.get() is None
    history.unlink()
    archive.archiver.round_or_say()
    assert archive.recovery_point.get() == NOW


def test_the_thread_archives_until_it_is_stopped(primary, tmp_path):
    archive = _archive(primary, tmp_path)
    _seam(primary).execute("FLUSH BINARY LOGS")
    stop = threading.Event()
    thread = threading.Thread(target=run_archiver, args=(archive.archiver, stop))
    thread.start()
    try:
        for _ in range(100):
            if any(line.startswith("archived") for line in archive.logged):
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert archive.logged[0] == "archiving the binary logs whenever this server is the primary"
    assert archive.stored() == _logs(primary)[:-1]
