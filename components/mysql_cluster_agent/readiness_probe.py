"""The pod's readiness probe, served by the agent: GET /ready answers 200 with the verdict while
the pod is ready and 503 with the reason while it is not (readiness.py judges), in plain text.

It has a port of its own, plain HTTP, because the kubelet probes without a client certificate
(so not the agent's port, mutual TLS with TLS on) and must reach it whether or not metrics are
on (so not the metrics port, which is optional and open to Prometheus). Its answers are the
verdicts the pod's log shows anyway, nothing secret.

The verdict is due within the probe's timeoutSeconds on a busy node: the local server is asked
with short bounds, on a connection of its own, and the peers all at once within what is left of
VERDICT_SECONDS. A change of verdict is logged, so that the pod's log says what failed and what
to do (the kubelet's events name only the HTTP status).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .config import AgentConfig, ConfigProblem
from .dialect import Dialect
from .local_server import LocalServer, Sql, SqlError
from .own_state import read_own_state
from .peers import PeerAnswer, peer_ordinals
from .readiness import (
    BackupListener,
    Cause,
    Limits,
    LocalView,
    NotReady,
    OwnServer,
    PeersNeeded,
    Verdict,
    judge,
    judge_with_peers,
)
from .replica_status import read_replica_status
from .state import ServerState

READY_PATH = "/ready"
# The probe's timeoutSeconds is 5 (mysql_cluster/pod_template.py): the local server and the peers
# together get 4, a peer at most 2, so that a dead primary (whose name may take seconds to
# resolve, or whose address no longer answers) leaves time for the rest.
VERDICT_SECONDS = 4.0
PEER_SECONDS = 2.0
LOCAL_CONNECT_SECONDS = 1.0
LOCAL_STATEMENT_SECONDS = 2.0
# /proc/net/tcp's state of a listening socket (TCP_LISTEN).
_LISTEN = "0A"
_SOCKET_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))

Log = Callable[[str], None]
AskPeers = Callable[[Sequence[int], float], list[PeerAnswer]]


@dataclass(frozen=True)
class ReadinessSettings:
    port: int
    limits: Limits
    # Made by the role loop once the server has its role (role_loop.RoleSettings).
    role_taken_mark: Path
    # MariaDB's backup port, which its backup container listens on once it serves clones.
    backup_port: int | None


def _whole_number(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    value = env.get(name, "")
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigProblem(f"environment variable {name} is {value[:40]!r}; the StatefulSet must set it to a "
                            f"whole number from {low} to {high}")
    return int(value)


def readiness_settings(dialect: Dialect, role_taken_mark: Path,
                       env: Mapping[str, str] = os.environ) -> ReadinessSettings:
    """From the agent container's environment; ConfigProblem naming a missing or wrong variable."""
    return ReadinessSettings(
        port=_whole_number(env, "READINESS_PORT", 1, 65535),
        limits=Limits(_whole_number(env, "MAX_REPLICATION_LAG_SECONDS", 1, 2**31),
                      _whole_number(env, "PRIMARY_DOWN_READ_SECONDS", 0, 2**31)),
        role_taken_mark=role_taken_mark,
        backup_port=None if dialect.clones_with_plugin else _whole_number(env, "BACKUP_PORT", 1, 65535))


def listens(port: int, tables: Sequence[str]) -> bool:
    """Whether a socket listens on TCP `port`, by the kernel's socket tables (/proc/net/tcp's
    form: `sl local_address rem_address st ...`, the address as hex IP:PORT). Read rather than
    connected to, because every connection to the backup port streams a whole backup."""
    suffix = f":{port:04X}"
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(suffix) and fields[3] == _LISTEN:
                return True
    return False


def _socket_tables() -> list[str]:
    tables = []
    for path in _SOCKET_TABLES:
        try:
            tables.append(path.read_text(encoding="ascii", errors="replace"))
        except FileNotFoundError:
            continue  # a kernel without IPv6
    return tables


def read_own_server(sql: Sql, dialect: Dialect) -> OwnServer:
    """What the verdict needs of the local server: the state it tells its peers (own_state.py)
    and its replication channel."""
    state = read_own_state(sql, dialect)
    heartbeat = state["heartbeat_micros"]
    return OwnServer(read_only=bool(state["read_only"]),
                     heartbeat_micros=heartbeat if isinstance(heartbeat, int) else None,
                     replica=read_replica_status(sql, dialect))


class Readiness:
    """Judges the pod's readiness at each call of verdict(), logging a change of verdict."""

    def __init__(self, config: AgentConfig, settings: ReadinessSettings, dialect: Dialect,
                 read_server: Callable[[], OwnServer], ask: AskPeers, log: Log,
                 clock: Callable[[], float] = time.time,
                 socket_tables: Callable[[], list[str]] = _socket_tables) -> None:
        """`read_server` reads the local server (read_own_server), raising SqlError when it
        does not answer."""
        self._config = config
        self._settings = settings
        self._dialect = dialect
        self._read_server = read_server
        self._ask = ask
        self._log = log
        self._clock = clock
        self._socket_tables = socket_tables
        self._lock = threading.Lock()
        self._last: Verdict | None = None

    def _primary_host(self) -> str:
        try:
            return self._config.pod_host(self._config.designated_primary())
        except (OSError, ValueError):
            return "the primary's pod name"

    def local_view(self) -> LocalView:
        server: OwnServer | None = None
        problem = ""
        try:
            server = self._read_server()
        except (SqlError, ValueError) as error:
            problem = str(error)
        port = self._settings.backup_port
        return LocalView(
            role_taken=self._settings.role_taken_mark.exists(),
            backup_listener=None if port is None else BackupListener(port, listens(port, self._socket_tables())),
            server=server, server_problem=problem, now_micros=int(self._clock() * 1_000_000),
            primary_host=self._primary_host(),
            ca_file=str(self._config.tls.ca) if self._config.tls is not None else None)

    def _peers(self, deadline: float) -> list[ServerState]:
        """The peers that answered with a state, all asked at once within `deadline`."""
        seconds = max(0.5, min(PEER_SECONDS, deadline - time.monotonic()))
        states = []
        for answer in self._ask(peer_ordinals(self._config.ordinal, self._config.replicas()), seconds):
            if answer.state is None:
                continue
            try:
                states.append(ServerState.from_wire(self._dialect.flavor, answer.ordinal, dict(answer.state)))
            except ValueError:
                continue  # a state that is refused counts as no answer (gather.py says why)
        return states

    def verdict(self) -> Verdict:
        deadline = time.monotonic() + VERDICT_SECONDS
        try:
            view = self.local_view()
            first = judge(view, self._settings.limits)
            result = (judge_with_peers(view, first.lag_seconds, self._peers(deadline), self._settings.limits)
                      if isinstance(first, PeersNeeded) else first)
        except ConfigProblem as problem:
            result = NotReady(Cause.CHECK_FAILED, f"the readiness check cannot run: {problem}")
        except Exception as error:  # noqa: BLE001 - the probe must answer, and say why
            result = NotReady(Cause.CHECK_FAILED, f"the readiness check failed unexpectedly ({type(error).__name__}: "
                                       f"{error}); this is a defect of the agent: please report it")
        self._tell(result)
        return result

    def _tell(self, verdict: Verdict) -> None:
        with self._lock:
            last, self._last = self._last, verdict
        if last is None or (last.ready, last.cause) != (verdict.ready, verdict.cause):
            self._log(f"readiness: {'ready' if verdict.ready else 'not ready'}: {verdict.message}")


class _Handler(BaseHTTPRequestHandler):
    server: ReadinessServer
    timeout = VERDICT_SECONDS + 1

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != READY_PATH:
            self.send_error(HTTPStatus.NOT_FOUND, f"only {READY_PATH} is served here")
            return
        verdict = self.server.readiness.verdict()
        body = f"{'ready' if verdict.ready else 'not ready'}: {verdict.message}\n".encode()
        self.send_response(HTTPStatus.OK if verdict.ready else HTTPStatus.SERVICE_UNAVAILABLE)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes are not logged: a change of verdict is (Readiness)."""


class ReadinessServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], readiness: Readiness):
        super().__init__(address, _Handler)
        self.readiness = readiness


def serve_readiness(config: AgentConfig, settings: ReadinessSettings, dialect: Dialect, ask: AskPeers,
                    log: Log) -> ReadinessServer:
    """Starts serving READY_PATH in a background thread, on a connection to the local server of
    its own with short bounds; `shutdown()` stops it."""
    sql = LocalServer(config.socket, config.root_password, LOCAL_CONNECT_SECONDS, LOCAL_STATEMENT_SECONDS)
    readiness = Readiness(config, settings, dialect, lambda: read_own_server(sql, dialect), ask, log)
    server = ReadinessServer(("", settings.port), readiness)
    threading.Thread(target=server.serve_forever, name="readiness", daemon=True).start()
    log(f"serving the pod's readiness on port {settings.port} (HTTP, {READY_PATH})")
    return server
