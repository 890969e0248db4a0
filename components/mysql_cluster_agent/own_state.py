"""What this server tells its peers about itself, read from it over the SQL seam.

The fields of scripts/topology.sh peer_state_sql: read_only, the heartbeat it has applied
(microseconds since the epoch by the primary's clock; None before the first), which pod wrote
that heartbeat relative to this one, and its GTID state.
"""
from __future__ import annotations

from .local_server import Sql, SqlError

# The schema of the heartbeat table (scripts/heartbeat.sh HEARTBEAT_SCHEMA).
HEARTBEAT_SCHEMA = "mysql_cluster"
# A server's GTID state (scripts/gtid.sh gtid_state_expression): MariaDB's binary log state with
# the replica position (a fresh clone has no binary log yet), MySQL's executed set on one line.
_GTID_STATE = {
    "mariadb": "CONCAT_WS(',', NULLIF(@@GLOBAL.gtid_binlog_state, ''), "
               "NULLIF(@@GLOBAL.gtid_slave_pos, ''))",
    "mysql": "REPLACE(@@GLOBAL.gtid_executed, '\\n', '')",
}
# The heartbeat table does not exist before the agent has set the server up: then no heartbeat.
_HEARTBEAT = (f"SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', written_at), "
              f"CAST(server_id AS SIGNED) - CAST(@@GLOBAL.server_id AS SIGNED) "
              f"FROM {HEARTBEAT_SCHEMA}.heartbeat WHERE id = 1")
_NO_SUCH_TABLE = (1146, 1049)  # ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def read_own_state(sql: Sql, flavor: str) -> dict[str, object]:
    """The state as JSON-ready values."""
    rows = sql.query(f"SELECT @@GLOBAL.read_only, {_GTID_STATE[flavor]}")
    read_only, gtid_state = rows[0]
    heartbeat: int | None = None
    writer_offset: int | None = None
    try:
        beat = sql.query(_HEARTBEAT)
    except SqlError as error:
        if error.code not in _NO_SUCH_TABLE:
            raise
        beat = []
    if beat:
        heartbeat, writer_offset = _optional_int(beat[0][0]), _optional_int(beat[0][1])
    return {
        "read_only": int(str(read_only)) != 0,
        "heartbeat_micros": heartbeat,
        "heartbeat_writer_offset": writer_offset,
        "gtid_state": "" if gtid_state is None else str(gtid_state),
    }
