"""The heartbeat: every second, the writable server writes the time (UTC, microseconds) into the
one row of mysql_cluster.heartbeat; the row replicates like any write. A replica's lag is then
its own clock minus the heartbeat it has applied, which keeps growing when its link is silently
dead, unlike the replication threads' own view (Seconds_Behind_Master stays 0 while the I/O
thread waits for a timeout). It assumes the pods' clocks agree to well under a second (NTP on
the nodes): a skew adds to or hides that much lag.

The schema and the event are made on every server by its own agent, outside the binary log, so
none is replicated: a replicated event would arrive disabled (SLAVESIDE_DISABLED) and need
enabling at each promotion. The event writes only while its server is writable, so a demoted or
read-only server never adds heartbeats, whichever server's event it is.

The metrics exporter reads the same row through the view exporter_heartbeat, in pt-heartbeat's
layout (columns ts and server_id) that its heartbeat collector expects (prometheus/mysqld_exporter
collector/heartbeat.go): each pod then exports the heartbeat it has applied and its own clock.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .dialect import Dialect

if TYPE_CHECKING:  # the seam's module imports the driver, which this one does not need
    from .local_server import Sql

SCHEMA = "mysql_cluster"
TABLE = "heartbeat"
EXPORTER_VIEW = "exporter_heartbeat"


def _lifts_super_read_only(dialect: Dialect) -> bool:
    # MySQL's super_read_only refuses the setup even to root; MariaDB's read_only lets root
    # (READ_ONLY ADMIN) write.
    return dialect.read_only_variable == "super_read_only"


def _lift(dialect: Dialect) -> list[str]:
    if not _lifts_super_read_only(dialect):
        return []
    return ["SET @super_read_only = @@GLOBAL.super_read_only", "SET GLOBAL super_read_only = 0"]


def _restore(dialect: Dialect) -> list[str]:
    restore = ["SET SESSION sql_log_bin = 1"]
    if _lifts_super_read_only(dialect):
        restore.append("SET GLOBAL super_read_only = @super_read_only")
    return restore


def _body() -> list[str]:
    return [
        "SET SESSION sql_log_bin = 0",
        f"CREATE DATABASE IF NOT EXISTS {SCHEMA}",
        (f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} ("
         " id TINYINT UNSIGNED NOT NULL PRIMARY KEY,"
         " written_at DATETIME(6) NOT NULL,"
         " server_id INT UNSIGNED NOT NULL"
         ") ENGINE=InnoDB"),
        (f"CREATE EVENT IF NOT EXISTS {SCHEMA}.{TABLE} ON SCHEDULE EVERY 1 SECOND"
         f" DO REPLACE INTO {SCHEMA}.{TABLE}"
         " SELECT 1, UTC_TIMESTAMP(6), @@server_id FROM DUAL WHERE @@GLOBAL.read_only = 0"),
        f"ALTER EVENT {SCHEMA}.{TABLE} ENABLE",
        (f"CREATE OR REPLACE VIEW {SCHEMA}.{EXPORTER_VIEW} AS"
         f" SELECT written_at AS ts, server_id FROM {SCHEMA}.{TABLE} WHERE id = 1"),
    ]


def heartbeat_setup_sql(dialect: Dialect) -> list[str]:
    """The statements that give this server the heartbeat table, event and view, outside the
    binary log, in the order one session runs them."""
    return _lift(dialect) + _body() + _restore(dialect)


def set_up_heartbeat(sql: Sql, dialect: Dialect) -> None:
    """Runs heartbeat_setup_sql in the seam's one session; whatever fails, the session logs again
    and MySQL's super_read_only is back to what it was."""
    for statement in _lift(dialect):
        sql.execute(statement)
    try:
        for statement in _body():
            sql.execute(statement)
    finally:
        for statement in _restore(dialect):
            sql.execute(statement)


def _applied(column: str) -> str:
    return f"SELECT {column} FROM {SCHEMA}.{TABLE} WHERE id = 1"


# The applied heartbeat as microseconds since the epoch (no row before the first).
_MICROS = "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', written_at)"
# Which pod wrote the applied heartbeat, relative to the pod that answers: server ids are the
# ordinals plus one offset (init_config.py), so their difference is the ordinals' difference.
_WRITER_OFFSET = "CAST(server_id AS SIGNED) - CAST(@@GLOBAL.server_id AS SIGNED)"


def heartbeat_micros_sql() -> str:
    return _applied(_MICROS)


def heartbeat_writer_offset_sql() -> str:
    return _applied(_WRITER_OFFSET)


def applied_heartbeat_sql() -> str:
    """Both in one row: what a server tells its peers (own_state.py)."""
    return _applied(f"{_MICROS}, {_WRITER_OFFSET}")
