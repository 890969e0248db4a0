"""The role endpoints of the agent's port: the switchover Job asks each pod's agent to change its
own server's role, and the agent does it as root over the local socket, so that no account
reachable over the network needs any power to change a server (issue 22, finding 1).

Every endpoint is a POST of a JSON object to ROLE_PREFIX + name, authenticated first
(role_auth.py: the connection's mutual TLS, or without TLS the request's HMAC); a request that
fails it changes nothing and is logged with the reason. The answer is a JSON object: the
endpoint's values, or "error" saying what failed."""
from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Protocol, TypeVar

from .config import AgentConfig, ConfigProblem
from .dialect import Dialect
from .gtid import parse_gtid
from .local_server import LocalServer, Sql, SqlError
from .role import (
    Replication,
    RoleError,
    follow_statements,
    promote_statements,
    received_gtid,
    run,
    text_of,
    wait_applied,
)
from .role_auth import RefusedRequest, RequestVerifier, read_key

ROLE_PREFIX = "/v1/role/"
READ_ONLY, POSITION, WAIT, FOLLOW, STOP_REPLICATION, PROMOTE = (
    "read-only", "position", "wait", "follow", "stop-replication", "promote")
MAX_BODY_BYTES = 4096
# The longest wait a request may ask for (a lock wait or a GTID wait).
MAX_WAIT_SECONDS = 3600
# A statement that waits up to N seconds gets this much longer before its connection gives up,
# so that the server ends the wait itself and answers.
_SLACK_SECONDS = 10
_MAX_ORDINAL = 9999

Answer = tuple[HTTPStatus, dict[str, object]]
Log = Callable[[str], None]
_Read = TypeVar("_Read")


class Session(Sql, Protocol):
    """A connection of its own to the local server for one request."""

    def close(self) -> None: ...


class BadRequest(ValueError):
    """The request's body is not what the endpoint takes; the message says what."""


def _integer(body: Mapping[str, object], name: str, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return value


@dataclass
class RoleActions:
    """What each endpoint does to this pod's server. `connect(seconds)` opens a session whose
    statements may take that long; `lock` is held while the role changes, so that two changes
    never interleave."""
    dialect: Dialect
    ordinal: int
    connect: Callable[[float], Session]
    replication: Replication
    host_of: Callable[[int], str]
    log: Log
    lock: threading.Lock

    def _run(self, seconds: float, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        session = self.connect(seconds)
        try:
            with self.lock:
                run(session, statements, self.log)
        finally:
            session.close()

    def _read(self, seconds: float, read: Callable[[Sql], _Read]) -> _Read:
        session = self.connect(seconds)
        try:
            return read(session)
        finally:
            session.close()

    def _query(self, seconds: float, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return self._read(seconds, lambda session: session.query(sql, args))

    def read_only(self, body: Mapping[str, object]) -> dict[str, object]:
        """Read-only, giving up after lock_wait_seconds of waiting for the global read lock (a
        long write in flight): then the server is left as it was, writable."""
        seconds = _integer(body, "lock_wait_seconds", 1, MAX_WAIT_SECONDS)
        self._run(seconds + _SLACK_SECONDS, [("SET SESSION lock_wait_timeout = %s", (seconds,)),
                                             *((s, ()) for s in self.dialect.demote())])
        return {}

    def position(self, body: Mapping[str, object]) -> dict[str, object]:
        """The GTID position a new primary must have applied (what this server logged), and
        its whole GTID state."""
        rows = self._read(_SLACK_SECONDS, lambda session: session.query(
            f"SELECT {self.dialect.gtid_position_expression}, {self.dialect.gtid_state_expression}"))
        position, state = rows[0]
        # MySQL prints a GTID set over several lines.
        return {"position": text_of(position), "gtid_state": text_of(state)}

    def wait(self, body: Mapping[str, object]) -> dict[str, object]:
        """Whether this server applied `position` within `seconds`."""
        seconds = _integer(body, "seconds", 0, MAX_WAIT_SECONDS)
        position = body.get("position")
        if not isinstance(position, str):
            raise BadRequest("position must be a GTID position (a string)")
        try:
            wanted = str(parse_gtid(self.dialect.flavor, position))
        except ValueError as error:
            raise BadRequest(f"position: {error}") from None
        applied, result = self._read(seconds + _SLACK_SECONDS,
                                     lambda session: wait_applied(session, self.dialect, wanted, seconds))
        return {"applied": applied, "result": result}

    def follow(self, body: Mapping[str, object]) -> dict[str, object]:
        """Read-only, replicating from pod `source` by GTID."""
        source = _integer(body, "source", 0, _MAX_ORDINAL)
        if source == self.ordinal:
            raise BadRequest(f"source {source} is this pod; a server cannot replicate from itself")
        self._run(_SLACK_SECONDS * 3, follow_statements(self.dialect, self.host_of(source), self.replication))
        return {}

    def stop_replication(self, body: Mapping[str, object]) -> dict[str, object]:
        """Stops replication (with io_thread_only, only the fetching of new transactions) and
        tells what this server has received from its source."""
        io_thread_only = body.get("io_thread_only", False)
        if not isinstance(io_thread_only, bool):
            raise BadRequest("io_thread_only must be true or false")
        stop = self.dialect.stop_replica + (" IO_THREAD" if io_thread_only else "")
        self._run(_SLACK_SECONDS * 3, [(stop, ())])
        return {"received": self._read(_SLACK_SECONDS, lambda session: received_gtid(session, self.dialect))}

    def promote(self, body: Mapping[str, object]) -> dict[str, object]:
        self._run(_SLACK_SECONDS * 3, promote_statements(self.dialect))
        return {}


class RoleRequests:
    """Authenticates a role request and carries it out. `verifier` checks signed requests (the
    cluster without TLS); over mutual TLS the connection has proven the client already."""

    def __init__(self, actions: RoleActions, verifier: RequestVerifier | None, log: Log):
        self._actions = actions
        self._verifier = verifier
        self._log = log
        self._endpoints: dict[str, Callable[[Mapping[str, object]], dict[str, object]]] = {
            READ_ONLY: actions.read_only, POSITION: actions.position, WAIT: actions.wait,
            FOLLOW: actions.follow, STOP_REPLICATION: actions.stop_replication, PROMOTE: actions.promote}

    def handle(self, path: str, headers: Mapping[str, str], body: bytes, client: str,
               over_mutual_tls: bool) -> Answer:
        name = path.removeprefix(ROLE_PREFIX)
        endpoint = self._endpoints.get(name) if path.startswith(ROLE_PREFIX) else None
        if endpoint is None:
            return HTTPStatus.NOT_FOUND, {"error": f"no such role endpoint; ask one of "
                                                   f"{', '.join(ROLE_PREFIX + n for n in self._endpoints)}"}
        try:
            if not over_mutual_tls:
                if self._verifier is None:
                    raise RefusedRequest("this agent has no role key and no TLS: it takes no role request")
                self._verifier.verify("POST", path, headers, body)
        except RefusedRequest as refused:
            self._log(f"refused a role request from {client} to {name}: {refused}")
            return HTTPStatus.FORBIDDEN, {"error": f"refused: {refused}"}
        try:
            parsed = json.loads(body or b"{}")
            if not isinstance(parsed, dict):
                raise BadRequest("the body must be a JSON object")
            self._log(f"role request from {client}: {name} {json.dumps(parsed, sort_keys=True)}")
            answer = endpoint(parsed)
        except (BadRequest, json.JSONDecodeError, UnicodeDecodeError) as error:
            self._log(f"role request {name} from {client} is malformed: {error}")
            return HTTPStatus.BAD_REQUEST, {"error": str(error)}
        except (SqlError, RoleError, OSError) as error:
            self._log(f"role request {name} failed: {error}")
            return HTTPStatus.CONFLICT, {"error": str(error)}
        self._log(f"role request {name} done{': ' + json.dumps(answer, sort_keys=True) if answer else ''}")
        return HTTPStatus.OK, {"done": True, **answer}


def role_requests(config: AgentConfig, dialect: Dialect, replication: Replication, lock: threading.Lock,
                  log: Log, env: Mapping[str, str]) -> RoleRequests:
    """The role endpoints of this pod's agent (`lock`: the one its role loop holds while it
    acts). Without TLS they need the role key (ROLE_KEY_FILE): ConfigProblem when it is not
    there, so that the agent stops at start rather than refuse every move later."""
    verifier = None
    if config.tls is None:
        key_file = Path(env.get("ROLE_KEY_FILE", ""))
        if not key_file.is_absolute():
            raise ConfigProblem("environment variable ROLE_KEY_FILE is not an absolute path; without TLS it names "
                                "the credentials Secret's file of the key that signs role requests")
        try:
            read_key(key_file)
        except (OSError, ValueError) as error:
            raise ConfigProblem(f"cannot read the role key: {error}") from None
        verifier = RequestVerifier(functools.partial(read_key, key_file), config.own_host)

    def connect(seconds: float) -> Session:
        return LocalServer(config.socket, config.root_password, statement_timeout=seconds)

    actions = RoleActions(dialect=dialect, ordinal=config.ordinal, connect=connect, replication=replication,
                          host_of=config.pod_host, log=log, lock=lock)
    return RoleRequests(actions, verifier, log)
