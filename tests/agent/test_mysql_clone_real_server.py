"""The agent's clone into the running server (mysql_clone.py) on real MySQL 9.7: a read-only
new server copies a donor in place over TCP, answers ERROR 3707 and shuts itself down; started
again it runs on the copy (the donor's rows and gtid_executed), its clone_status says Completed
across restarts, and the agent's next step ends the clone."""
from __future__ import annotations

import random
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.local_server import LocalServer, SqlError
from mysql_cluster_agent.mysql_clone import CloneSource, Cloner, clone_bytes, last_clone_bytes
from mysql_cluster_agent.peers import PeerAnswer
from mysql_cluster_agent.role import OWN_GTID_STATE, RebuildPaths
from mysql_cluster_agent.state import ServerState

from .real_server import RealServer, running_server

pytestmark = pytest.mark.timeout(300)
DONOR_ROOT = "donor-root-pw"
BACKUP = "b4ckup-pw"
_SERVER = "plugin-load-add=mysql_clone.so\nmysqlx=OFF\nlog-bin=binlog\n"


def _restart(server: RealServer) -> None:
    """Starts the server again on its data directory, as its container would."""
    assert server.process is not None
    server.process.wait(timeout=120)
    server.process = subprocess.Popen(server._argv("mysqld", f"--defaults-file={server._inside(server.config)}"),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _until_it_answers(sql: LocalServer) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            sql.query("SELECT 1")
            return
        except SqlError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_new_read_only_server_clones_a_donor_in_place_and_runs_on_the_copy_after_its_restart(tmp_path: Path):
    port = 33000 + random.randrange(1000)
    donor_options = f"{_SERVER}server-id=1\nskip-networking=OFF\nbind-address=127.0.0.1\nport={port}\n"
    setup = (f"CREATE USER backup@'%' IDENTIFIED BY '{BACKUP}'; GRANT BACKUP_ADMIN ON *.* TO backup@'%'; "
             "CREATE DATABASE app; CREATE TABLE app.t (v INT PRIMARY KEY); INSERT INTO app.t VALUES (1), (2); "
             f"ALTER USER root@localhost IDENTIFIED BY '{DONOR_ROOT}'")
    with running_server("mysql 9.7", donor_options, setup) as donor, \
            running_server("mysql 9.7", f"{_SERVER}server-id=2\nsuper-read-only=ON\n", "SELECT 1") as recipient:
        donor_gtid = str(LocalServer(donor.directory / "mysqld.sock", lambda: DONOR_ROOT).query(
            "SELECT @@GLOBAL.gtid_executed")[0][0])
        passwords = {"root": ""}
        sql = LocalServer(recipient.directory / "mysqld.sock", lambda: passwords["root"])
        paths = RebuildPaths(tmp_path, "mysql")
        paths.clone_mark.touch()
        logged: list[str] = []
        gtid = parse_gtid(Flavor.MYSQL, donor_gtid)
        donor_state = PeerAnswer(0, ServerState(0, False, None, None, gtid).to_wire())
        cloner = Cloner(sql, lambda: LocalServer(recipient.directory / "mysqld.sock", lambda: passwords["root"],
                                                 statement_timeout=None),
                        paths, CloneSource("backup", lambda: BACKUP, port, None, 0), 1, lambda: 2,
                        lambda _: "127.0.0.1", lambda _: [donor_state], 10, logged.append)

        cloner.step(threading.Event())
        assert "is in place and the server shuts down to start on it (3707:" in logged[-1], logged
        assert all(BACKUP not in line for line in logged)
        assert paths.clone_mark.exists()
        _restart(recipient)
        passwords["root"] = DONOR_ROOT  # the copy has the donor's accounts
        _until_it_answers(sql)
        cloner.step(threading.Event())

        assert not paths.clone_mark.exists(), logged
        assert paths.pending_coordinates.read_text() == OWN_GTID_STATE + "\n"
        assert sql.query("SELECT v FROM app.t ORDER BY v") == [(1,), (2,)]
        assert sql.query("SELECT @@GLOBAL.gtid_executed, @@GLOBAL.super_read_only") == [(donor_gtid, 1)]
        # Completed stays what the server says after a further restart.
        sql.execute("SHUTDOWN")
        _restart(recipient)
        _until_it_answers(sql)
        assert sql.query("SELECT STATE FROM performance_schema.clone_status") == [("Completed",)]
        # What the agent's metrics read of a clone: nothing runs now; the last one's bytes are
        # the server's own figures (metrics.py serves them while a clone runs).
        assert clone_bytes(sql) is None
        last = last_clone_bytes(sql)
        assert 0 < last.copied <= last.estimated, last
