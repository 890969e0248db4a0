"""What the readiness verdict reads of the local server (readiness_probe.read_own_server, the
replica status by column name), on real MySQL 9.7 and MariaDB 11.8 servers through the agent's
seam: no channel, a channel before it starts, and one that cannot reach its source."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from mysql_cluster_agent.dialect import Dialect, Flavor, dialect_for
from mysql_cluster_agent.local_server import LocalServer
from mysql_cluster_agent.readiness import OwnServer
from mysql_cluster_agent.readiness_probe import read_own_server
from mysql_cluster_agent.replica_status import ReplicaStatus, read_replica_status

from .real_server import SERVERS, RealServer, running_server

PASSWORD = "readiness-pw"
_OPTIONS = "log-bin=binlog\nserver-id=2\n"
# Nothing listens there: the I/O thread cannot connect.
_CLOSED_PORT = 9

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[RealServer]:
    with running_server(request.param, _OPTIONS, f"ALTER USER root@localhost IDENTIFIED BY '{PASSWORD}'") as real:
        yield real


def _seam(server: RealServer) -> LocalServer:
    return LocalServer(server.directory / "mysqld.sock", lambda: PASSWORD)


def _dialect(server: RealServer) -> Dialect:
    return dialect_for(Flavor.MARIADB if server.is_mariadb else Flavor.MYSQL)


@pytest.fixture
def channel(server: RealServer) -> Iterator[LocalServer]:
    """A channel to a port nothing listens on, removed afterwards."""
    sql, dialect = _seam(server), _dialect(server)
    option = dialect.source_option
    sql.execute(f"{dialect.change_source} {option}_HOST='127.0.0.1', {option}_PORT={_CLOSED_PORT}, "
                f"{option}_USER='replicator', {option}_PASSWORD='pw', {option}_CONNECT_RETRY=1")
    try:
        yield sql
    finally:
        sql.execute(dialect.stop_replica)
        sql.execute(dialect.reset_replica_all)


def test_a_server_without_a_channel_has_no_replica_status(server: RealServer) -> None:
    assert read_replica_status(_seam(server), _dialect(server)) is None


def test_a_writable_server_without_heartbeat_reads_as_such(server: RealServer) -> None:
    assert read_own_server(_seam(server), _dialect(server)) == OwnServer(
        read_only=False, heartbeat_micros=None, replica=None)


def test_a_channel_before_it_starts_has_both_threads_stopped_its_source_and_nothing_received(
        server: RealServer, channel: LocalServer) -> None:
    assert read_replica_status(channel, _dialect(server)) == ReplicaStatus(
        "No", "No", "", "", source_host="127.0.0.1", received_gtids="")


def test_a_channel_that_cannot_reach_its_source_reports_it_by_column_name(
        server: RealServer, channel: LocalServer) -> None:
    dialect = _dialect(server)
    channel.execute(dialect.start_replica)
    deadline = time.monotonic() + 30
    status = read_replica_status(channel, dialect)
    while status is not None and not status.last_io_error and time.monotonic() < deadline:
        time.sleep(0.5)
        status = read_replica_status(channel, dialect)
    assert status is not None
    assert status.io_running == "Connecting"
    assert status.sql_running == "Yes"
    assert "connecting" in status.last_io_error.lower() and str(_CLOSED_PORT) in status.last_io_error
