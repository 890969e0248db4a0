"""What the role endpoints run (role_api.RoleActions), on real MySQL 9.7 and MariaDB 11.8 servers
through the agent's own seam: a demotion bounded by the lock wait leaves a server with a long
write in flight writable (issue 22, finding 7), the GTID wait, promotion, and the replica status
column the failover reads, by its name."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.local_server import LocalServer, SqlError
from mysql_cluster_agent.role import Replication
from mysql_cluster_agent.role_api import RoleActions

from .real_server import SERVERS, RealServer, running_server

PASSWORD = "role-actions-pw"
_OPTIONS = "log-bin=binlog\nserver-id=1\n"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[RealServer]:
    with running_server(request.param, _OPTIONS, f"ALTER USER root@localhost IDENTIFIED BY '{PASSWORD}'; "
                           "CREATE DATABASE app; CREATE TABLE app.t (v INT)") as real:
        yield real


def _seam(server: RealServer, seconds: float = 30) -> LocalServer:
    return LocalServer(server.directory / "mysqld.sock", lambda: PASSWORD, statement_timeout=seconds)


def _actions(server: RealServer) -> RoleActions:
    flavor = Flavor.MARIADB if server.is_mariadb else Flavor.MYSQL
    return RoleActions(dialect=dialect_for(flavor), ordinal=0, connect=lambda s: _seam(server, s),
                       replication=Replication("replicator", lambda: "pw", 3306, 5, None),
                       host_of=lambda n: f"127.0.0.{n + 10}", log=lambda _: None, lock=threading.Lock())


def _writable(server: RealServer) -> bool:
    return _seam(server).query("SELECT @@GLOBAL.read_only")[0][0] == 0


def test_a_demotion_that_waits_longer_than_its_bound_for_a_write_in_flight_leaves_the_server_writable(server):
    writer = _seam(server)
    write = threading.Thread(target=writer.execute, args=("INSERT INTO app.t SELECT SLEEP(6)",))
    write.start()
    try:
        threading.Event().wait(1)
        with pytest.raises(SqlError) as refused:
            _actions(server).read_only({"lock_wait_seconds": 1})
        assert refused.value.code == 1205  # ER_LOCK_WAIT_TIMEOUT
        assert _writable(server)
    finally:
        write.join()
    assert _writable(server)


def test_a_demotion_waits_for_a_shorter_write_and_makes_the_server_read_only(server):
    writer = _seam(server)
    write = threading.Thread(target=writer.execute, args=("INSERT INTO app.t SELECT SLEEP(2)",))
    write.start()
    threading.Event().wait(0.5)
    try:
        _actions(server).read_only({"lock_wait_seconds": 20})
        assert not _writable(server)
        write.join()
        assert _seam(server).query("SELECT COUNT(*) FROM app.t WHERE v = 0")[0][0] >= 1
    finally:
        write.join()
        _actions(server).promote({})
    assert _writable(server)


def test_the_wait_answers_applied_for_a_position_the_server_holds_and_not_for_one_ahead(server):
    actions = _actions(server)
    # MariaDB's wait looks at the replica position: a replica's, as the target of a move has.
    for statement in actions.dialect.carry_own_transactions():
        _seam(server).execute(statement)
    position = actions.position({})["position"]
    assert actions.wait({"position": position, "seconds": 1}) == {"applied": True, "result": "0"}
    ahead = "0-1-999999" if server.is_mariadb else "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"
    assert actions.wait({"position": ahead, "seconds": 1})["applied"] is False


def test_stopping_the_io_thread_of_a_channel_that_received_nothing_answers_an_empty_position(server):
    flavor = Flavor.MARIADB if server.is_mariadb else Flavor.MYSQL
    dialect = dialect_for(flavor)
    o = dialect.source_option
    seam = _seam(server)
    seam.execute(f"{dialect.change_source} {o}_HOST='127.0.0.9', {o}_USER='x', {dialect.use_gtid_option()}")
    try:
        assert _actions(server).stop_replication({"io_thread_only": True}) == {"received": ""}
    finally:
        seam.execute(dialect.reset_replica_all)
