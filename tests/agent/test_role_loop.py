"""The role loop's looks (RoleKeeper.step): what a decision makes it run on the server, what it
logs and what it remembers, against a fake Sql seam and views given by the test."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from mysql_cluster_agent.accounts import ClusterAccounts, Passwords
from mysql_cluster_agent.config import AgentConfig, ConfigProblem, TlsFiles
from mysql_cluster_agent.decide import FailOver, Fence, Follow, Promote, Rebuild, Situation, Stay
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.gather import Gathered
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.role import RebuildPaths, Replication, RoleError
from mysql_cluster_agent.role_loop import (
    RoleKeeper,
    RoleSettings,
    role_settings,
    wait_for_server,
)
from mysql_cluster_agent.primary_port import PrimaryRoute
from mysql_cluster_agent.state import ClusterView, LocalState, ServerState

from .fake_sql import FakeSql

NOW = 1_800_000_000
STARTED = NOW - 600
HOSTS = ("db-0.db", "db-1.db", "db-2.db")
SECRET = "app-s3cret"


def settings(tmp_path: Path, flavor: Flavor = Flavor.MARIADB, tls: TlsFiles | None = None) -> RoleSettings:
    return RoleSettings(
        dialect=dialect_for(flavor),
        replication=Replication("replicator", lambda: "repl-s3cret", 3306, 2, None),
        rebuild=RebuildPaths(tmp_path, "mysql"),
        watch_seconds=5,
        accounts=ClusterAccounts(flavor=flavor, replication_user="replicator", backup_user="backup",
                                 app_user="app", app_database="app", tls=False),
        passwords=lambda: Passwords(replication="repl-s3cret", backup="b", app=SECRET),
        role_taken_mark=tmp_path / "role-taken", donor_dir=donor_dir(tmp_path), max_lag_seconds=10,
        secrets_dir=tmp_path / "secrets", primary_port=3310, tls=tls)


def donor_dir(tmp_path: Path) -> Path:
    path = tmp_path / "donor"
    path.mkdir(exist_ok=True)
    return path


def state(ordinal: int, writable: bool = False, gtid: str = "0-100-10", heartbeat_writer: int | None = None,
          source: int | None = None) -> ServerState:
    return ServerState(ordinal, not writable, None if heartbeat_writer is None else NOW * 1_000_000 - 1,
                       heartbeat_writer, parse_gtid(Flavor.MARIADB, gtid),
                       None if source is None else HOSTS[source])


class Looks:
    """Views for successive looks; each is built with the role_given_at the keeper passes."""

    def __init__(self, me: ServerState, *peers: ServerState, started_at: int = STARTED) -> None:
        self.me, self.peers, self.started_at = me, peers, started_at

    def __call__(self, role_given_at: int | None) -> Gathered:
        view = ClusterView(me=LocalState(self.me, self.started_at, replica_configured=True),
                           peers={p.ordinal: p for p in self.peers}, designated_primary=0,
                           now_micros=NOW * 1_000_000, hosts=HOSTS, role_given_at=role_given_at)
        return Gathered(view, {})


def keeper(tmp_path: Path, looks: Callable[[int | None], Gathered], sql: FakeSql | None = None,
           tls: TlsFiles | None = None) -> tuple[RoleKeeper, FakeSql, list[str]]:
    sql = sql or FakeSql()
    logged: list[str] = []
    return (RoleKeeper(sql, settings(tmp_path, tls=tls), looks, logged.append, clock=lambda: float(NOW)),
            sql, logged)


def test_a_promotion_makes_the_server_writable_then_makes_the_accounts_without_logging_passwords(tmp_path: Path) -> None:
    roles, sql, logged = keeper(tmp_path, Looks(state(0, heartbeat_writer=0), state(1)))
    assert isinstance(roles.step(), Promote)
    assert sql.statements[:3] == ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"]
    assert any(text.startswith("CREATE USER") for text in sql.statements[3:])
    assert not any(SECRET in line for line in logged)
    assert roles.role_given_at == STARTED


def test_the_role_is_given_once_then_watched(tmp_path: Path) -> None:
    roles, sql, _ = keeper(tmp_path, Looks(state(1, source=0), state(0, writable=True)))
    assert isinstance(roles.step(), Follow)
    ran = len(sql.ran)
    assert isinstance(roles.step(), Stay)
    assert len(sql.ran) == ran


def test_a_fresh_clone_starts_from_its_position_once(tmp_path: Path) -> None:
    pending = RebuildPaths(tmp_path, "mysql").pending_coordinates
    pending.write_text("0-100-10\n")
    sql = FakeSql({"SELECT @@GLOBAL.gtid_slave_pos": [("",)]})
    roles, sql, _ = keeper(tmp_path, Looks(state(1), state(0, writable=True)), sql)
    roles.step()
    assert ("SET GLOBAL gtid_slave_pos = %s", ("0-100-10",)) in sql.ran
    assert not pending.exists() and pending.with_name("replication-source.applied").exists()


def test_a_server_that_restarted_gets_the_heartbeat_setup_and_its_role_again(tmp_path: Path) -> None:
    looks = Looks(state(1, source=0), state(0, writable=True))
    roles, sql, logged = keeper(tmp_path, looks)
    roles.step()
    looks.started_at = STARTED + 60
    sql.ran.clear()
    assert isinstance(roles.step(), Follow)
    assert "CREATE DATABASE IF NOT EXISTS mysql_cluster" in sql.statements
    assert any("restarted" in line for line in logged)
    assert roles.role_given_at == STARTED + 60


def test_a_rebuild_leaves_the_role_to_the_rebuilt_server(tmp_path: Path) -> None:
    roles, sql, _ = keeper(tmp_path, Looks(state(1, gtid="0-100-10,0-101-1"), state(0, writable=True)))
    assert isinstance(roles.step(), Rebuild)
    assert sql.statements == ["SHUTDOWN"] and RebuildPaths(tmp_path, "mysql").mark.exists()
    assert roles.role_given_at is None


def test_a_rebuild_leaves_its_donors_for_the_clone_before_it_stops_the_server(tmp_path: Path) -> None:
    diverged = state(2, gtid="0-100-10,0-102-1")
    roles, _, logged = keeper(tmp_path, Looks(diverged, state(0, writable=True, heartbeat_writer=0),
                                              state(1, heartbeat_writer=0)))
    assert isinstance(roles.step(), Rebuild)
    donors = donor_dir(tmp_path)
    assert {p.name: p.read_text() for p in donors.iterdir()} == {
        "donors": "2\n", "donor-1": f"{HOSTS[1]}\n", "donor-2": f"{HOSTS[0]}\n"}
    assert logged.index(next(line for line in logged if "the rebuild copies from" in line)) < logged.index(
        next(line for line in logged if line.startswith("stopping the server")))


def test_a_fresh_streamed_clone_starts_where_its_backup_info_says(tmp_path: Path) -> None:
    pending = RebuildPaths(tmp_path, "mysql").pending_coordinates
    pending.write_text("backup-info\n")
    (tmp_path / "mysql").mkdir()
    (tmp_path / "mysql" / "mariadb_backup_binlog_info").write_text("mysql-bin.000003\t385\t0-100-10\n")
    sql = FakeSql({"SELECT @@GLOBAL.gtid_slave_pos": [("",)]})
    roles, sql, logged = keeper(tmp_path, Looks(state(1), state(0, writable=True)), sql)
    roles.step()
    assert ("SET GLOBAL gtid_slave_pos = %s", ("0-100-10",)) in sql.ran
    assert f"replicating from {HOSTS[0]}, starting at the clone's GTID 0-100-10" in logged
    assert pending.with_name("replication-source.applied").exists()


def test_a_clone_whose_backup_info_is_refused_does_not_replicate_and_says_why(tmp_path: Path) -> None:
    pending = RebuildPaths(tmp_path, "mysql").pending_coordinates
    pending.write_text("backup-info\n")
    (tmp_path / "mysql").mkdir()
    (tmp_path / "mysql" / "xtrabackup_slave_info").write_text(
        "CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000009', MASTER_LOG_POS=1234;\n")
    roles, sql, _ = keeper(tmp_path, Looks(state(1), state(0, writable=True)))
    with pytest.raises(RoleError, match="has no GTID position: the donor replicates without GTIDs, so it is not a "
                                        "pod of this cluster.*delete this pod's PersistentVolumeClaim"):
        roles.step()
    assert sql.ran == [] and pending.exists()


def test_a_clone_without_backup_info_does_not_replicate_and_says_why(tmp_path: Path) -> None:
    pending = RebuildPaths(tmp_path, "mysql").pending_coordinates
    pending.write_text("backup-info\n")
    roles, sql, _ = keeper(tmp_path, Looks(state(1), state(0, writable=True)))
    with pytest.raises(RoleError, match="has no backup info file"):
        roles.step()
    assert sql.ran == []


def test_a_message_that_stays_true_is_said_once_a_minute_not_at_every_look(tmp_path: Path) -> None:
    looks = Looks(state(2), state(0, writable=True), state(1, writable=True))
    roles, _, logged = keeper(tmp_path, looks)
    roles.step()
    roles.step()
    assert sum("writable" in line for line in logged) == 1


def test_the_role_taken_mark_is_made_once_the_server_has_its_role(tmp_path: Path) -> None:
    roles, _, _ = keeper(tmp_path, Looks(state(1, source=0), state(0, writable=True)))
    roles.step()
    assert (tmp_path / "role-taken").exists()


def pod_certificate(tmp_path: Path) -> TlsFiles:
    files = TlsFiles(tmp_path / "ca.crt", tmp_path / "tls.crt", tmp_path / "tls.key")
    for path in (files.ca, files.cert, files.key):
        path.write_text(path.name)
    return files


def test_the_certificate_is_reloaded_before_the_role_taken_mark_then_after_a_restart(tmp_path: Path) -> None:
    looks = Looks(state(1, source=0), state(0, writable=True))
    mark = tmp_path / "role-taken"

    class MarkAbsentAtTheReload(FakeSql):
        def execute(self, sql: str, args: tuple[object, ...] = ()) -> None:
            super().execute(sql, args)
            if sql == "FLUSH NO_WRITE_TO_BINLOG SSL":
                self.mark_at_reload = mark.exists()

    sql = MarkAbsentAtTheReload()
    roles, _, logged = keeper(tmp_path, looks, sql, tls=pod_certificate(tmp_path))
    roles.step()
    assert sql.statements[-3:] == ["SET SESSION sql_log_bin = 0", "FLUSH NO_WRITE_TO_BINLOG SSL",
                                   "SET SESSION sql_log_bin = 1"]
    assert not sql.mark_at_reload and mark.exists()
    roles.step()
    assert sql.statements.count("FLUSH NO_WRITE_TO_BINLOG SSL") == 1
    looks.started_at = STARTED + 60
    roles.step()
    assert sql.statements.count("FLUSH NO_WRITE_TO_BINLOG SSL") == 2
    assert logged[-1].endswith("(it restarted)")


def test_without_tls_nothing_is_reloaded(tmp_path: Path) -> None:
    roles, sql, _ = keeper(tmp_path, Looks(state(1, source=0), state(0, writable=True)))
    roles.step()
    assert "FLUSH NO_WRITE_TO_BINLOG SSL" not in sql.statements


def test_a_follow_that_fails_keeps_the_clones_position_for_the_next_look(tmp_path: Path) -> None:
    pending = RebuildPaths(tmp_path, "mysql").pending_coordinates
    pending.write_text("0-100-10\n")
    sql = FakeSql({"SELECT @@GLOBAL.gtid_slave_pos": [("",)]},
                  failing={"START SLAVE": SqlError(1200, "the server is not configured as slave")})
    roles, _, _ = keeper(tmp_path, Looks(state(1), state(0, writable=True)), sql)
    with pytest.raises(SqlError):
        roles.step()
    assert pending.exists() and roles.role_given_at is None
    sql.failing.clear()
    assert isinstance(roles.step(), Follow)
    assert not pending.exists()


def test_the_loop_waits_for_the_offline_server_and_says_so_once() -> None:
    query = "SELECT @@GLOBAL.skip_networking"
    sql = FakeSql({query: [(0,)]}, failing={query: SqlError(2002, "no socket")})
    logged: list[str] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            if len(sql.ran) == 3:
                sql.failing.clear()
            return False

    wait_for_server(sql, Stop(), logged.append)
    assert len(sql.ran) == 4 and len(logged) == 1 and "waiting for the local server" in logged[0]


def test_the_image_entrypoints_temporary_server_is_not_given_a_role() -> None:
    query = "SELECT @@GLOBAL.skip_networking"
    sql = FakeSql({query: [(1,)]})
    logged: list[str] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            sql.answers[query] = [(0,)]  # the entrypoint has started the server itself
            return False

    wait_for_server(sql, Stop(), logged.append)
    assert len(sql.ran) == 2 and "temporary one" in logged[0]


def test_the_role_settings_name_a_missing_variable() -> None:
    config = AgentConfig(pod_name="db-1", statefulset="db", headless_service="db", namespace="ns",
                         cluster_domain="cluster.local", flavor="mariadb", agent_port=3308,
                         socket=Path("/run/s.sock"), root_password_file=Path("/s/root-password"),
                         topology_dir=Path("/topology"), tls=None, version="")
    with pytest.raises(ConfigProblem, match="SECRETS_DIR"):
        role_settings(config, {})


# Automatic failover (decide.FailOver): pod 0, the last primary, is down; this is pod 1.

class FailoverLooks:
    """Views for successive looks of pod 1, whose replica status is in the fake server: pod 0
    down, pod 2 as given (by default a replica as advanced as pod 1), every heartbeat 40 s old,
    failover after 30 s."""

    def __init__(self, *others: list[ServerState]) -> None:
        self.others = list(others)

    def __call__(self, role_given_at: int | None) -> Gathered:
        peers = self.others.pop(0) if len(self.others) > 1 else self.others[0]
        me = ServerState(1, True, (NOW - 40) * 1_000_000, 0, parse_gtid(Flavor.MARIADB, "0-100-12"), HOSTS[0])
        view = ClusterView(me=LocalState(me, STARTED, replica_configured=True),
                           peers={0: None} | {p.ordinal: p for p in peers}, designated_primary=0,
                           now_micros=NOW * 1_000_000, hosts=HOSTS, role_given_at=role_given_at,
                           failover_grace_micros=30_000_000)
        return Gathered(view, {})


def silent_replica(ordinal: int, gtid: str = "0-100-12") -> ServerState:
    return ServerState(ordinal, True, (NOW - 40) * 1_000_000, 0, parse_gtid(Flavor.MARIADB, gtid), HOSTS[0])


def relay_log(applied_in_time: bool) -> FakeSql:
    """Pod 1's server: it has received pod 0's transactions up to 0-100-12."""
    status = {"Slave_IO_Running": "No", "Slave_SQL_Running": "Yes", "Last_IO_Error": "", "Last_SQL_Error": "",
              "Master_Host": "db-0.db", "Gtid_IO_Pos": "0-100-12"}
    return FakeSql({"SELECT MASTER_GTID_WAIT(%s, %s)": [(0 if applied_in_time else -1,)]},
                   named={"SHOW SLAVE STATUS": [status]})


def failover_keeper(tmp_path: Path, looks: FailoverLooks, sql: FakeSql) -> tuple[RoleKeeper, list[str]]:
    logged: list[str] = []
    roles = RoleKeeper(sql, settings(tmp_path), looks, logged.append, clock=lambda: float(NOW))
    roles.role_given_at = STARTED  # the role watch: pod 1 replicated from pod 0 until it went down
    return roles, logged


def test_a_failover_stops_receiving_and_applies_what_was_received_before_the_replica_is_promoted(
        tmp_path: Path) -> None:
    sql = relay_log(applied_in_time=True)
    roles, logged = failover_keeper(tmp_path, FailoverLooks([silent_replica(2)]), sql)
    assert isinstance(roles.step(), FailOver)
    assert sql.statements[:6] == ["STOP SLAVE IO_THREAD", "SHOW SLAVE STATUS", "SELECT MASTER_GTID_WAIT(%s, %s)",
                                  "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"]
    assert ("SELECT MASTER_GTID_WAIT(%s, %s)", ("0-100-12", 20)) in sql.ran
    assert logged[0].startswith("FAILOVER: pod 0, the last primary, has been silent for 40s")
    assert "failover done: this pod is the primary" in logged[-1]


def test_a_failover_candidate_that_has_not_applied_its_relay_log_in_time_is_not_promoted_and_receives_again(
        tmp_path: Path) -> None:
    sql = relay_log(applied_in_time=False)
    roles, logged = failover_keeper(tmp_path, FailoverLooks([silent_replica(2)]), sql)
    roles.step()
    assert "SET GLOBAL read_only = 0" not in sql.statements
    assert sql.statements[-1] == "START SLAVE"
    assert any("not promoted yet, the next look waits again" in line for line in logged)


def test_a_failover_is_called_off_when_the_second_look_finds_a_peer_writable(tmp_path: Path) -> None:
    sql = relay_log(applied_in_time=True)
    writable = ServerState(2, False, NOW * 1_000_000, 2, parse_gtid(Flavor.MARIADB, "0-100-12,0-102-1"))
    roles, logged = failover_keeper(tmp_path, FailoverLooks([silent_replica(2)], [writable]), sql)
    roles.step()
    assert "SET GLOBAL read_only = 0" not in sql.statements
    assert sql.statements[-1] == "START SLAVE"
    assert any(line.startswith("failover called off") for line in logged)


def test_a_failover_is_called_off_when_the_second_look_finds_a_peer_more_advanced(tmp_path: Path) -> None:
    sql = relay_log(applied_in_time=True)
    roles, logged = failover_keeper(tmp_path, FailoverLooks([silent_replica(2)], [silent_replica(2, "0-100-13")]), sql)
    roles.step()
    assert "SET GLOBAL read_only = 0" not in sql.statements
    assert any("pod 2 holds every transaction" in line for line in logged if line.startswith("failover called off"))


def test_every_look_tells_the_primary_port_where_the_writable_server_is(tmp_path: Path) -> None:
    route = PrimaryRoute()
    roles = RoleKeeper(FakeSql(), settings(tmp_path), Looks(state(1, source=0), state(0, writable=True)),
                       lambda line: None, clock=lambda: float(NOW), route=route)
    roles.step()
    assert route.host() == "db-0.db"


# The primary's fence (decide.FENCED): pod 0, the writable primary, with automatic failover.

class PartitionLooks:
    """Pod 0's successive looks: each reaches the peers named (the others do not answer at all)."""

    def __init__(self, *reached: tuple[int, ...]) -> None:
        self.reached = list(reached)
        self.writable = True

    def __call__(self, role_given_at: int | None) -> Gathered:
        reached = self.reached.pop(0)
        me = ServerState(0, not self.writable, NOW * 1_000_000, 0, parse_gtid(Flavor.MARIADB, "0-100-12"))
        peers = {n: (state(n, gtid="0-100-12", heartbeat_writer=0, source=0) if n in reached else None) for n in (1, 2)}
        view = ClusterView(me=LocalState(me, STARTED, replica_configured=False), peers=peers, designated_primary=0,
                           now_micros=NOW * 1_000_000, hosts=HOSTS, role_given_at=role_given_at,
                           failover_grace_micros=30_000_000, unreachable=frozenset({1, 2} - set(reached)))
        return Gathered(view, {})


def test_a_primary_cut_off_after_reaching_a_majority_fences_itself_once_and_logs_it(tmp_path: Path) -> None:
    looks = PartitionLooks((1, 2), (), ())
    roles, sql, logged = keeper(tmp_path, looks)
    roles.role_given_at = STARTED
    assert roles.step() == Stay(Situation.STEADY_PRIMARY)
    assert isinstance(roles.step(), Fence)
    assert sql.statements == ["SET GLOBAL read_only = 1"]
    assert [line for line in logged if "FENCED" in line] == [logged[0]]
    looks.writable = False
    assert roles.step().situation is Situation.FENCED_CUT_OFF
    assert sql.statements == ["SET GLOBAL read_only = 1"]


def test_a_fenced_primary_takes_writes_again_when_a_majority_answers(tmp_path: Path) -> None:
    looks = PartitionLooks((1,), (), (2,), (2,))
    roles, sql, logged = keeper(tmp_path, looks)
    roles.role_given_at = STARTED
    roles.step()
    assert isinstance(roles.step(), Fence)
    looks.writable = False
    assert isinstance(roles.step(), Promote)
    assert "SET GLOBAL read_only = 0" in sql.statements
    looks.writable = True
    assert roles.step() == Stay(Situation.STEADY_PRIMARY)


def test_a_first_pod_alone_that_never_reached_a_majority_does_not_fence(tmp_path: Path) -> None:
    roles, sql, _ = keeper(tmp_path, PartitionLooks((), ()))
    roles.role_given_at = STARTED
    assert roles.step() == Stay(Situation.STEADY_PRIMARY)
    assert roles.step() == Stay(Situation.STEADY_PRIMARY)
    assert sql.statements == []
