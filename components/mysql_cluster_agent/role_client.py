"""The switchover Job's side of the agents' port: every pod's state, and role requests to one
pod's agent (role_api.py), over mutual TLS with the pods' certificate or signed with the role key
(role_auth.py)."""
from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from .api import STATE_PATH
from .dialect import Flavor
from .gtid import GtidState, parse_gtid
from .peers import ANSWER_SECONDS, MAX_ANSWER_BYTES, _Connection, _describe
from .role_api import (
    FOLLOW,
    POSITION,
    PROMOTE,
    READ_ONLY,
    ROLE_PREFIX,
    STOP_REPLICATION,
    WAIT,
)
from .role_auth import signed_headers
from .state import ServerState

# A request that waits N seconds on the server gets this much longer here.
_SLACK_SECONDS = 20


class AgentError(Exception):
    """A role request that failed or got no answer; the message says which pod and why."""


class AgentClient:
    """Requests to the agents of pods 0..replicas-1. `address_of` says where to connect to a
    pod other than its host name (tests)."""

    def __init__(self, flavor: Flavor, replicas: int, host_of: Callable[[int], str], port: int,
                 context: ssl.SSLContext | None, key: Callable[[], bytes] | None,
                 address_of: Callable[[int], str] | None = None):
        if context is None and key is None:
            raise ValueError("role requests need TLS or the role key")
        self.flavor = flavor
        self.replicas = replicas
        self._host_of = host_of
        self._port = port
        self._context = context
        self._key = key
        self._address_of = address_of or host_of

    def _request(self, ordinal: int, method: str, path: str, body: bytes, seconds: float) -> dict[str, object]:
        host = self._host_of(ordinal)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._context is None and method == "POST":
            assert self._key is not None
            headers.update(signed_headers(self._key(), host, method, path, body))
        connection = _Connection(host, self._address_of(ordinal), self._port, self._context)
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(seconds)
            connection.request(method, path, body=body if method == "POST" else None, headers=headers)
            response = connection.getresponse()
            raw = response.read(MAX_ANSWER_BYTES + 1)
            answer = json.loads(raw) if len(raw) <= MAX_ANSWER_BYTES else None
        except (OSError, ValueError, ssl.SSLError) as error:
            raise AgentError(f"pod {ordinal}'s agent did not answer: {_describe(error)}") from None
        finally:
            connection.close()
        if not isinstance(answer, dict):
            raise AgentError(f"pod {ordinal}'s agent answered something that is not a JSON object")
        if response.status != 200:
            raise AgentError(f"pod {ordinal}'s agent answered HTTP {response.status}: {answer.get('error', 'no detail')}")
        return answer

    def _role(self, ordinal: int, name: str, body: Mapping[str, object], seconds: float = 0) -> dict[str, object]:
        return self._request(ordinal, "POST", ROLE_PREFIX + name, json.dumps(body).encode(),
                             seconds + _SLACK_SECONDS)

    def _state(self, ordinal: int) -> ServerState:
        return ServerState.from_wire(self.flavor, ordinal, self._request(ordinal, "GET", STATE_PATH, b"", ANSWER_SECONDS))

    def states(self) -> tuple[dict[int, ServerState | None], dict[int, str]]:
        """Every pod's state, None for a pod whose agent did not answer with a valid one, and
        why for those."""
        with ThreadPoolExecutor(max_workers=max(1, self.replicas), thread_name_prefix="agent") as pool:
            futures = {n: pool.submit(self._state, n) for n in range(self.replicas)}
            states: dict[int, ServerState | None] = {}
            problems: dict[int, str] = {}
            for n, future in futures.items():
                error = future.exception()
                states[n] = None if error else future.result()
                if error is not None:
                    problems[n] = str(error)
            return states, problems

    def read_only(self, ordinal: int, lock_wait_seconds: int) -> None:
        self._role(ordinal, READ_ONLY, {"lock_wait_seconds": lock_wait_seconds}, lock_wait_seconds)

    def position(self, ordinal: int) -> str:
        return _string(self._role(ordinal, POSITION, {}), "position", ordinal)

    def gtid_state(self, ordinal: int) -> GtidState:
        text = _string(self._role(ordinal, POSITION, {}), "gtid_state", ordinal)
        try:
            return parse_gtid(self.flavor, text)
        except ValueError as error:
            raise AgentError(f"pod {ordinal}'s GTID state is refused: {error}") from None

    def wait(self, ordinal: int, position: str, seconds: int) -> bool:
        return self._role(ordinal, WAIT, {"position": position, "seconds": seconds}, seconds).get("applied") is True

    def follow(self, ordinal: int, source: int) -> None:
        self._role(ordinal, FOLLOW, {"source": source})

    def stop_replication(self, ordinal: int, io_thread_only: bool) -> str:
        return _string(self._role(ordinal, STOP_REPLICATION, {"io_thread_only": io_thread_only}), "received", ordinal)

    def promote(self, ordinal: int) -> None:
        self._role(ordinal, PROMOTE, {})


def _string(answer: Mapping[str, object], name: str, ordinal: int) -> str:
    value = answer.get(name)
    if not isinstance(value, str):
        raise AgentError(f"pod {ordinal}'s agent answered without {name}")
    return value
