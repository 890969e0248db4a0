"""What each role change runs on the server, in order (role.py), against a fake Sql seam."""
from __future__ import annotations

from pathlib import Path

import pytest
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.role import (
    OWN_GTID_STATE,
    RebuildPaths,
    Replication,
    RoleError,
    clone_position_statements,
    follow_statements,
    promote_statements,
    run,
    start_rebuild,
)

from .fake_sql import FakeSql

MYSQL = dialect_for(Flavor.MYSQL)
MARIADB = dialect_for(Flavor.MARIADB)
PASSWORD = "s3cret-replication"
HOST = "db-0.db.ns.svc.cluster.local"
UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"


def replication(tls_ca: str | None = None, password: str = PASSWORD) -> Replication:
    return Replication(user="replicator", password=lambda: password, port=3306, heartbeat_seconds=2,
                       tls_ca=tls_ca)


def executed(statements: list[tuple[str, tuple[object, ...]]]) -> tuple[FakeSql, list[str]]:
    sql, logged = FakeSql(), list[str]()
    run(sql, statements, logged.append)
    return sql, logged


def test_a_mysql_promotion_drops_the_channel_then_makes_the_server_writable_and_starts_the_scheduler() -> None:
    sql, _ = executed(promote_statements(MYSQL))
    assert sql.statements == ["STOP REPLICA", "RESET REPLICA ALL", "SET GLOBAL read_only = 0",
                              "SET GLOBAL event_scheduler = ON"]


def test_a_mariadb_promotion_drops_the_channel_then_makes_the_server_writable() -> None:
    sql, _ = executed(promote_statements(MARIADB))
    assert sql.statements == ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"]


def test_a_mysql_server_follows_read_only_with_a_fresh_channel_by_auto_position() -> None:
    sql, _ = executed(follow_statements(MYSQL, HOST, replication()))
    assert sql.statements[:4] == ["SET GLOBAL super_read_only = 1", "SET GLOBAL event_scheduler = OFF",
                                  "STOP REPLICA", "RESET REPLICA ALL"]
    change, args = sql.ran[4]
    assert change.startswith("CHANGE REPLICATION SOURCE TO SOURCE_HOST=%s, SOURCE_PORT=%s")
    assert "SOURCE_AUTO_POSITION=1" in change and "SOURCE_SSL=0" in change
    assert args == (HOST, 3306, "replicator", PASSWORD, 2)
    assert sql.statements[5:] == ["START REPLICA"]


def test_a_mariadb_server_that_was_primary_carries_its_own_transactions_into_its_replica_position() -> None:
    sql, _ = executed(follow_statements(MARIADB, HOST, replication()))
    assert sql.statements[:4] == ["SET GLOBAL read_only = 1", "STOP SLAVE", "RESET SLAVE ALL",
                                  "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos"]
    assert sql.statements[4].startswith("CHANGE MASTER TO MASTER_HOST=%s")
    assert sql.statements[4].endswith("MASTER_USE_GTID=slave_pos")
    assert sql.statements[5] == "START SLAVE"


def test_with_tls_the_channel_verifies_the_sources_certificate_against_the_ca() -> None:
    sql, _ = executed(follow_statements(MARIADB, HOST, replication(tls_ca="/tls/ca.crt")))
    change, args = sql.ran[4]
    assert "MASTER_SSL=1, MASTER_SSL_CA=%s, MASTER_SSL_VERIFY_SERVER_CERT=1" in change
    assert args[-1] == "/tls/ca.crt"


def test_the_replication_password_is_an_argument_and_never_logged() -> None:
    sql, logged = executed(follow_statements(MYSQL, HOST, replication()))
    assert not any(PASSWORD in text for text in sql.statements)
    assert any(PASSWORD in args for _, args in sql.ran)
    assert logged and not any(PASSWORD in line for line in logged)


def test_a_mysql_replication_password_over_32_characters_is_refused_before_any_statement() -> None:
    with pytest.raises(RoleError, match="refuses more than 32"):
        follow_statements(MYSQL, HOST, replication(password="x" * 33))


def test_mariadb_takes_a_long_replication_password() -> None:
    follow_statements(MARIADB, HOST, replication(password="x" * 100))


def test_a_fresh_mariadb_clone_starts_from_its_copied_position() -> None:
    sql = FakeSql({"SELECT @@GLOBAL.gtid_slave_pos": [("",)]})
    assert clone_position_statements(MARIADB, sql, "0-100-42") == [("SET GLOBAL gtid_slave_pos = %s", ("0-100-42",))]


def test_a_mariadb_clone_already_past_its_copied_position_is_not_rewound() -> None:
    sql = FakeSql({"SELECT @@GLOBAL.gtid_slave_pos": [("0-101-50",)]})
    assert clone_position_statements(MARIADB, sql, "0-100-42") == []


def test_a_fresh_mysql_clone_from_a_backup_empties_its_gtid_state_before_setting_the_copied_one() -> None:
    sql = FakeSql({"SELECT @@GLOBAL.gtid_executed": [("",)]})
    assert clone_position_statements(MYSQL, sql, f"{UUID}:1-42") == [
        ("RESET BINARY LOGS AND GTIDS", ()), ("SET GLOBAL gtid_purged = %s", (f"{UUID}:1-42",))]


def test_a_mysql_clone_plugin_copy_keeps_its_own_gtid_state() -> None:
    assert clone_position_statements(MYSQL, FakeSql(), OWN_GTID_STATE) == []


def test_the_clones_position_goes_between_the_channel_reset_and_the_new_channel() -> None:
    position: list[tuple[str, tuple[object, ...]]] = [("SET GLOBAL gtid_slave_pos = %s", ("0-100-42",))]
    sql, _ = executed(follow_statements(MARIADB, HOST, replication(), position))
    assert sql.ran[3] == position[0]
    assert "gtid_current_pos" not in " ".join(sql.statements)


def test_clone_coordinates_that_are_not_a_gtid_position_stop_the_follow_with_what_to_do() -> None:
    with pytest.raises(RoleError, match="PersistentVolumeClaim"):
        clone_position_statements(MARIADB, FakeSql(), "0-100-42'; DROP TABLE t; --")


def test_a_rebuild_writes_the_mark_naming_where_the_data_goes_then_stops_the_server(tmp_path: Path) -> None:
    sql, logged = FakeSql(), list[str]()
    paths = RebuildPaths(tmp_path, "mysql")
    start_rebuild(sql, paths, "20260101T000000Z", False, logged.append)
    assert paths.mark.read_text() == f"{tmp_path}/diverged-20260101T000000Z\n"
    assert not paths.clone_mark.exists()
    assert sql.statements == ["SHUTDOWN"]


def test_a_rebuild_where_the_agent_clones_also_marks_the_pod_to_clone(tmp_path: Path) -> None:
    sql = FakeSql()
    paths = RebuildPaths(tmp_path, "mysql")
    start_rebuild(sql, paths, "20260101T000000Z", True, lambda _: None)
    assert paths.mark.exists() and paths.clone_mark.exists()
    assert sql.statements == ["SHUTDOWN"]


def test_a_rebuild_whose_shutdown_loses_the_connection_goes_on(tmp_path: Path) -> None:
    sql = FakeSql(failing={"SHUTDOWN": SqlError(2013, "Lost connection to server during query")})
    start_rebuild(sql, RebuildPaths(tmp_path, "mysql"), "20260101T000000Z", False, lambda _: None)
    assert RebuildPaths(tmp_path, "mysql").mark.exists()
