"""Makes the local server load renewed certificate files without a restart."""
from __future__ import annotations

from .dialect import Dialect


def tls_reload_sql(dialect: Dialect) -> list[str]:
    """The statements, in one session. Nothing of it may reach the binary log: MariaDB logs a
    FLUSH unless told not to (the dialect's statement says NO_WRITE_TO_BINLOG), and on a replica
    that is a transaction of its own, which gtid_strict_mode then refuses to follow with the
    primary's (found by tests/e2e/test_tls.py). sql_log_bin=0 keeps ALTER INSTANCE out too,
    whatever MySQL does; the session logs again afterwards."""
    return ["SET SESSION sql_log_bin = 0", dialect.tls_reload, "SET SESSION sql_log_bin = 1"]
