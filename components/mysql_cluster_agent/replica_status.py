"""A server's replication channel as its replica status statement (Dialect.replica_status)
reports it, read by column name: the columns' names differ between the flavors (Replica_* and
Slave_*) and their number and order between versions. The one reader of the statement in the
agent (the role loop's view, the readiness verdict, the failover's received position).

The statement rather than a table: MariaDB has the status as a table
(information_schema.SLAVE_STATUS) only from 11.6, and MySQL's performance_schema tables are empty
when a user turns performance_schema off."""
from __future__ import annotations

from dataclasses import dataclass

from .dialect import Dialect
from .local_server import Sql

LAST_IO_ERROR = "Last_IO_Error"
LAST_SQL_ERROR = "Last_SQL_Error"


@dataclass(frozen=True)
class ReplicaStatus:
    """The replication threads' states ("Yes", "No", "Connecting" for the I/O thread), their
    last errors, the source's host and what the replica has received from it as a GTID position
    on one line ("" for none)."""

    io_running: str
    sql_running: str
    last_io_error: str = ""
    last_sql_error: str = ""
    source_host: str = ""
    received_gtids: str = ""


def read_replica_status(sql: Sql, dialect: Dialect) -> ReplicaStatus | None:
    """The channel's status; None when the server has no replication channel. ValueError naming
    the column when the server's answer lacks one."""
    rows = sql.query_named(dialect.replica_status)
    if not rows:
        return None
    row = rows[0]
    io, applier = dialect.replica_thread_columns
    source, received = dialect.replica_source_host_column, dialect.replica_received_gtid_column
    missing = [name for name in (io, applier, LAST_IO_ERROR, LAST_SQL_ERROR, source, received) if name not in row]
    if missing:
        raise ValueError(f"{dialect.replica_status} answered without the column {missing[0]}")

    def text(name: str) -> str:
        value = row[name]
        if value is None:
            return ""
        return bytes(value).decode() if isinstance(value, (bytes, bytearray)) else str(value)

    # MySQL prints a GTID set over several lines.
    return ReplicaStatus(text(io), text(applier), text(LAST_IO_ERROR), text(LAST_SQL_ERROR), text(source),
                         text(received).replace("\n", ""))
