"""Keeps the local server on the pod's current certificate without a restart.

The kubelet updates the TLS Secret's files in place when the certificate is renewed; the server
reads them only at start or when told to reload them. The agent tells it: once it has given the
server its role, again after every restart of the server it notices, and whenever the files
differ from what it read right before its last reload. It reads the files first and reloads
after, so a renewal that lands in between makes the next look reload again: a renewal is never
missed. It reaches the server over the unix socket, which needs no TLS, so a new CA that does not
verify the server's old certificate cannot lock it out (the liveness probe pings over the socket
too: scripts/liveness.sh).
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .config import TlsFiles
from .dialect import Dialect
from .local_server import Sql, SqlError
from .state import START_SLACK_SECONDS

Log = Callable[[str], None]
# A reload that keeps failing is said again this often, so that it is in the recent log.
REPEAT_SECONDS = 60


def tls_reload_sql(dialect: Dialect) -> list[str]:
    """The statements, in one session. Nothing of it may reach the binary log: MariaDB logs a
    FLUSH unless told not to (the dialect's statement says NO_WRITE_TO_BINLOG), and on a replica
    that is a transaction of its own, which gtid_strict_mode then refuses to follow with the
    primary's (found by tests/e2e/test_tls.py). sql_log_bin=0 keeps ALTER INSTANCE out too,
    whatever MySQL does; the session logs again afterwards."""
    return ["SET SESSION sql_log_bin = 0", dialect.tls_reload, "SET SESSION sql_log_bin = 1"]


def reload_certificate(sql: Sql, dialect: Dialect) -> None:
    """Runs tls_reload_sql in the seam's one session; whatever fails, the session logs again."""
    first, reload, restore = tls_reload_sql(dialect)
    sql.execute(first)
    try:
        sql.execute(reload)
    finally:
        sql.execute(restore)


class Why(Enum):
    """Why the server is told to reload its certificate files."""

    ROLE_GIVEN = "its role was given"
    SERVER_RESTARTED = "it restarted"
    FILES_CHANGED = "the files changed"


@dataclass(frozen=True)
class Reloaded:
    """The last reload the server took: the server it was for (its start time, seconds since the
    epoch) and the files' digest as read right before it."""

    server_started_at: int
    files: str


def reload_reason(last: Reloaded | None, server_started_at: int, files: str) -> Why | None:
    """Whether a server that has its role must reload the files whose digest is `files`: it never
    did, it restarted since (a start time is known to a second or two), or the files are not what
    was read before the last reload."""
    if last is None:
        return Why.ROLE_GIVEN
    if server_started_at > last.server_started_at + START_SLACK_SECONDS:
        return Why.SERVER_RESTARTED
    if files != last.files:
        return Why.FILES_CHANGED
    return None


def files_digest(tls: TlsFiles) -> str:
    """What changes when the certificate is renewed: the CA, the certificate and the key. A
    digest only, so that the key is never kept or logged. OSError when a file cannot be read."""
    digest = hashlib.sha256()
    for path in (tls.ca, tls.cert, tls.key):
        content = path.read_bytes()
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


class CertificateKeeper:
    """Reloads the server's certificate when reload_reason says so, one look at a time."""

    def __init__(self, sql: Sql, dialect: Dialect, tls: TlsFiles, log: Log,
                 clock: Callable[[], float] = time.time) -> None:
        self._sql = sql
        self._dialect = dialect
        self._tls = tls
        self._log = log
        self._clock = clock
        self.last: Reloaded | None = None
        self._failure = ("", 0.0)

    def look(self, server_started_at: int) -> None:
        """For a server that has its role and started at `server_started_at`; a failure is
        logged with what to do, and the next look tries again."""
        try:
            files = files_digest(self._tls)
        except OSError as error:
            self._fail(f"cannot read the certificate file {error.filename}: {error.strerror}; the TLS Secret "
                       "must hold ca.crt, tls.crt and tls.key; the server keeps the certificate it has")
            return
        why = reload_reason(self.last, server_started_at, files)
        if why is None:
            return
        try:
            reload_certificate(self._sql, self._dialect)
        except SqlError as error:
            self._fail(f"the server did not reload the certificate ({why.value}): {error}; it keeps the one it "
                       f"has. Check that tls.crt and tls.key in {self._tls.cert.parent} belong together and "
                       "that ca.crt issued tls.crt; the agent tries again at its next look")
            return
        renewed = self.last is not None and files != self.last.files
        self.last = Reloaded(server_started_at, files)
        self._failure = ("", 0.0)
        self._log(f"the server reloaded the {'renewed ' if renewed else ''}certificate of "
                  f"{self._tls.cert.parent} ({why.value})")

    def _fail(self, message: str) -> None:
        """Logs a failure once, and again every REPEAT_SECONDS while it stays the same."""
        now = self._clock()
        said, at = self._failure
        if message != said or now - at >= REPEAT_SECONDS:
            self._failure = (message, now)
            self._log(message)
