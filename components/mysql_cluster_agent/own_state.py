"""What this server tells its peers about itself, read from it over the SQL seam: read_only, the
heartbeat it has applied (microseconds since the epoch by the primary's clock; None before the
first), which pod wrote that heartbeat relative to this one, and its GTID state."""
from __future__ import annotations

from .dialect import Dialect
from .heartbeat import applied_heartbeat_sql
from .local_server import Sql, SqlError

_NO_SUCH_TABLE = (1146, 1049)  # ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def read_own_state(sql: Sql, dialect: Dialect) -> dict[str, object]:
    """The state as JSON-ready values."""
    rows = sql.query(f"SELECT @@GLOBAL.read_only, {dialect.gtid_state_expression}")
    read_only, gtid_state = rows[0]
    heartbeat: int | None = None
    writer_offset: int | None = None
    # The heartbeat table does not exist before the agent has set the server up: then no heartbeat.
    try:
        beat = sql.query(applied_heartbeat_sql())
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
        # MySQL prints a GTID set over several lines.
        "gtid_state": "" if gtid_state is None else str(gtid_state).replace("\n", ""),
    }
