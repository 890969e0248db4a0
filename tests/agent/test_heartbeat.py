"""The heartbeat's setup and the TLS reload as statements. What the servers make of them:
test_accounts_real_servers.py (the heartbeat tests share its servers)."""
from __future__ import annotations

import pytest
from mysql_cluster_agent.dialect import Dialect, Flavor, dialect_for
from mysql_cluster_agent.heartbeat import heartbeat_setup_sql, set_up_heartbeat

MYSQL = dialect_for(Flavor.MYSQL)
MARIADB = dialect_for(Flavor.MARIADB)


class FailingSql:
    """A seam that records what it runs and refuses one statement."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.ran: list[str] = []

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        raise AssertionError("the setup reads nothing")

    def execute(self, sql: str, args: tuple[object, ...] = ()) -> None:
        self.ran.append(sql)
        if sql.startswith(self.refused):
            raise RuntimeError("refused")


def test_mysql_lifts_super_read_only_for_the_setup_and_restores_it() -> None:
    statements = heartbeat_setup_sql(MYSQL)
    assert statements[:2] == ["SET @super_read_only = @@GLOBAL.super_read_only",
                              "SET GLOBAL super_read_only = 0"]
    assert statements[-1] == "SET GLOBAL super_read_only = @super_read_only"


def test_mariadb_leaves_read_only_alone() -> None:
    assert not any("read_only =" in statement.split(" WHERE ")[0]
                   for statement in heartbeat_setup_sql(MARIADB))


@pytest.mark.parametrize("dialect", [MYSQL, MARIADB], ids=["mysql", "mariadb"])
def test_every_change_of_the_setup_is_made_outside_the_binary_log(dialect: Dialect) -> None:
    statements = heartbeat_setup_sql(dialect)
    off = statements.index("SET SESSION sql_log_bin = 0")
    on = statements.index("SET SESSION sql_log_bin = 1")
    changes = [i for i, s in enumerate(statements) if s.startswith(("CREATE", "ALTER"))]
    assert off < min(changes) and max(changes) < on


@pytest.mark.parametrize("dialect", [MYSQL, MARIADB], ids=["mysql", "mariadb"])
def test_a_failed_setup_leaves_the_session_logging_and_read_only_as_it_was(dialect: Dialect) -> None:
    sql = FailingSql("CREATE EVENT")
    with pytest.raises(RuntimeError):
        set_up_heartbeat(sql, dialect)
    assert sql.ran[-1 if dialect is MARIADB else -2] == "SET SESSION sql_log_bin = 1"
    if dialect is MYSQL:
        assert sql.ran[-1] == "SET GLOBAL super_read_only = @super_read_only"


@pytest.mark.parametrize("dialect", [MYSQL, MARIADB], ids=["mysql", "mariadb"])
def test_a_successful_setup_runs_the_statements_in_order(dialect: Dialect) -> None:
    sql = FailingSql("never")
    set_up_heartbeat(sql, dialect)
    assert sql.ran == heartbeat_setup_sql(dialect)
