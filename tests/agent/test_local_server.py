"""The SQL seam over a real server's unix socket, as the agent logs in in the pods: root with
its password, PyMySQL, the session's sql_mode set by the client."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mysql_cluster_agent.dialect import Dialect, Flavor, dialect_for
from mysql_cluster_agent.local_server import SESSION_SQL_MODE, LocalServer, SqlError
from mysql_cluster_agent.own_state import read_own_state

from .real_server import SERVERS, RealServer, running_server

PASSWORD = "pw with 'quotes' and \\ backslash"
# What the official images make of root@localhost: a password only (docker-library/mariadb
# docker-entrypoint.sh installs with --auth-root-authentication-method=normal).
_ROOT_PASSWORD = "ALTER USER root@localhost IDENTIFIED BY '{password}'"
# A server whose global sql_mode would misparse the agent's statements if the session kept it;
# binary logs with GTIDs, as in the pods.
_OPTIONS = "sql-mode=ANSI_QUOTES,STRICT_TRANS_TABLES\nlog-bin=binlog\nserver-id=1\n"


def _dialect(server: RealServer) -> Dialect:
    flavor, version = server.name.split()
    return dialect_for(Flavor(flavor), version)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[RealServer]:
    with running_server(request.param, _OPTIONS, _ROOT_PASSWORD.format(password=_escaped(PASSWORD))) as real:
        yield real


def _socket(server: RealServer) -> Path:
    return server.directory / "mysqld.sock"


def _seam(server: RealServer, password: str = PASSWORD, **timeouts: float) -> LocalServer:
    return LocalServer(_socket(server), lambda: password, **timeouts)


def test_root_logs_in_over_the_socket_with_its_password_and_gets_rows(server):
    sql = _seam(server)
    assert sql.query("SELECT CURRENT_USER(), %s", ("it's",)) == [("root@localhost", "it's")]


def test_the_session_parses_statements_as_written_whatever_the_global_sql_mode(server):
    sql = _seam(server)
    assert sql.query("SELECT @@SESSION.sql_mode, \"a string\"") == [(SESSION_SQL_MODE, "a string")]


def test_a_wrong_password_is_refused_with_the_servers_error(server):
    with pytest.raises(SqlError) as refused:
        _seam(server, password="wrong").query("SELECT 1")
    assert refused.value.code == 1045


def test_a_missing_socket_says_the_server_cannot_be_reached(tmp_path):
    with pytest.raises(SqlError, match="cannot reach the server at .*absent.sock: .*No such file"):
        LocalServer(tmp_path / "absent.sock", lambda: PASSWORD).query("SELECT 1")


def test_a_statement_that_outlasts_the_bound_is_abandoned_and_the_next_one_reconnects(server):
    sql = _seam(server, statement_timeout=1)
    with pytest.raises(SqlError):
        sql.query("SELECT SLEEP(5)")
    assert sql.query("SELECT 2") == [(2,)]


def test_a_statement_error_keeps_its_code_and_the_seam_goes_on(server):
    sql = _seam(server)
    with pytest.raises(SqlError) as failed:
        sql.execute("SELECT * FROM no_such_schema.no_table")
    assert failed.value.code in (1049, 1146)
    sql.execute("DO 1")


def test_the_served_state_of_a_fresh_writable_server_has_no_heartbeat_yet(server):
    state = read_own_state(_seam(server), _dialect(server))
    assert state["read_only"] is False
    assert (state["heartbeat_micros"], state["heartbeat_writer_offset"]) == (None, None)
    assert isinstance(state["gtid_state"], str)


def test_the_served_state_shows_the_applied_heartbeat_and_its_writer(server):
    sql = _seam(server)
    sql.execute("CREATE DATABASE IF NOT EXISTS mysql_cluster")
    sql.execute("CREATE TABLE IF NOT EXISTS mysql_cluster.heartbeat (id INT PRIMARY KEY, "
                "server_id INT UNSIGNED NOT NULL, written_at DATETIME(6) NOT NULL)")
    sql.execute("REPLACE INTO mysql_cluster.heartbeat VALUES "
                "(1, @@GLOBAL.server_id + 2, '2026-12-06 10:00:00.250000')")
    sql.execute("SET GLOBAL read_only = 1")
    try:
        state = read_own_state(sql, _dialect(server))
    finally:
        sql.execute("SET GLOBAL read_only = 0")
        sql.execute("DROP DATABASE mysql_cluster")
    assert state["read_only"] is True
    assert state["heartbeat_micros"] == 1796551200250000
    assert state["heartbeat_writer_offset"] == 2
    assert state["gtid_state"] != ""
