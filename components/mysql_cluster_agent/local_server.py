"""The SQL seam: the `Sql` protocol every module that runs SQL takes, and its implementation over
the local server's unix socket with PyMySQL, the one module that imports a driver.

The agent logs in as root over the socket the server container shares with it (an emptyDir at the
server's socket directory). PyMySQL sends a password only over a channel it counts as secure, and
a unix socket is one: caching_sha2_password's full authentication over plain TCP would need the
server's RSA key, which PyMySQL handles only with the `cryptography` package, not pure Python
(PyMySQL pymysql/_auth.py, caching_sha2_password_auth).
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Callable, Protocol

import pymysql
import pymysql.connections

# The session parses the agent's statements as written, whatever global sql_mode the server has
# (ANSI_QUOTES would turn quoted strings into names); the same mode the scripts' client sets
# (scripts/lib.sh, CLIENT_SESSION_OPTIONS).
SESSION_SQL_MODE = "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"
CONNECT_TIMEOUT_SECONDS = 5
# A statement that takes longer is abandoned: the local server is hung or badly overloaded.
STATEMENT_TIMEOUT_SECONDS = 30

# The client error of a connection that could not be made (PyMySQL pymysql/connections.py).
CR_CONN_HOST_ERROR = 2003

Row = tuple[object, ...]


class SqlError(Exception):
    """A statement failed or the server could not be reached; `code` is the server's error
    number (0 when there is none, e.g. the socket is missing)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message


class Sql(Protocol):
    """What every part of the agent that runs SQL needs of a server."""

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[Row]:
        """The rows of one statement; `args` fill %s placeholders, escaped by the driver."""
        ...

    def execute(self, sql: str, args: tuple[object, ...] = ()) -> None:
        """Runs one statement for its effect."""
        ...

    def query_named(self, sql: str) -> list[dict[str, object]]:
        """The rows of one statement, each by its column names: for the statements whose columns
        differ in order or number between servers and versions (SHOW REPLICA STATUS)."""
        ...


class LocalServer:
    """`Sql` over the local server's unix socket as root, one connection kept open and made
    anew after a failure. Safe to share between threads (one statement at a time)."""

    def __init__(self, socket: Path, password: Callable[[], str],
                 connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
                 statement_timeout: float | None = STATEMENT_TIMEOUT_SECONDS):
        """`password` is called at each connection (the Secret's file may have changed);
        `statement_timeout` None: a statement may take as long as it takes (a clone)."""
        self._socket = socket
        self._password = password
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._connection: pymysql.connections.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> pymysql.connections.Connection:
        return pymysql.connect(
            unix_socket=str(self._socket), user="root", password=self._password(),
            connect_timeout=self._connect_timeout, read_timeout=self._statement_timeout,
            write_timeout=self._statement_timeout, autocommit=True, charset="utf8mb4",
            init_command=f"SET SESSION sql_mode='{SESSION_SQL_MODE}'")

    def _run(self, sql: str, args: tuple[object, ...]) -> tuple[list[Row], list[str]]:
        """The rows and the names of their columns."""
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                with self._connection.cursor() as cursor:
                    # Without args the driver leaves the text alone (a literal % stays one).
                    cursor.execute(sql, args or None)
                    names = [str(column[0]) for column in cursor.description or ()]
                    return [tuple(row) for row in cursor.fetchall()], names
            except pymysql.MySQLError as error:
                self.close_locked()
                code = error.args[0] if error.args and isinstance(error.args[0], int) else 0
                message = str(error.args[1]) if len(error.args) > 1 else str(error)
                if code == CR_CONN_HOST_ERROR:  # the driver names 'localhost', not the socket
                    message = f"cannot reach the server at {self._socket}: {message}"
                raise SqlError(code, message) from None
            except OSError as error:  # the socket file is missing, refused, timed out
                self.close_locked()
                raise SqlError(0, f"cannot reach the server at {self._socket}: {error}") from None

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[Row]:
        return self._run(sql, args)[0]

    def execute(self, sql: str, args: tuple[object, ...] = ()) -> None:
        self._run(sql, args)

    def query_named(self, sql: str) -> list[dict[str, object]]:
        rows, names = self._run(sql, ())
        return [dict(zip(names, row)) for row in rows]

    def close_locked(self) -> None:
        if self._connection is not None:
            # A broken connection may refuse even to close: it is dropped either way.
            with contextlib.suppress(pymysql.MySQLError, OSError):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self.close_locked()
