"""What the agent knows about the servers: each server's state as it tells it (its own agent
reads it from the server and serves it to the peers as JSON), and the view of the whole cluster
one decision is taken on. A peer's state is untrusted input: from_dict checks every field."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from .dialect import Flavor
from .gtid import GtidState, parse_gtid

# The biggest ordinal and time (microseconds) a peer may report: bounds that keep arithmetic on
# them sane whatever a peer sends.
_MAX_ORDINAL = 9999
_MAX_MICROS = 2**63 - 1
# A start time is computed from whole seconds of uptime: two starts closer than this are one.
START_SLACK_SECONDS = 2


@dataclass(frozen=True)
class ServerState:
    """One server as its agent reads it.

    heartbeat_micros: the heartbeat it has applied, microseconds since the epoch by the clock of
    the primary that wrote it (None before the first); heartbeat_writer: the ordinal of the pod
    that wrote that heartbeat (None before the first); gtid: every transaction it holds;
    source_host: the host its replication channel points at (None: no channel; known of this
    pod's own server only)."""
    ordinal: int
    read_only: bool
    heartbeat_micros: int | None
    heartbeat_writer: int | None
    gtid: GtidState
    source_host: str | None = None

    def to_wire(self) -> dict[str, object]:
        """The state as an agent serves it (own_state.read_own_state's form): the writer
        relative to the pod that answers, as the server reads it (server ids are the ordinals
        plus one offset)."""
        return {
            "read_only": self.read_only,
            "heartbeat_micros": self.heartbeat_micros,
            "heartbeat_writer_offset": None if self.heartbeat_writer is None else self.heartbeat_writer - self.ordinal,
            "gtid_state": str(self.gtid),
        }

    @classmethod
    def from_wire(cls, flavor: Flavor, ordinal: int, data: object) -> ServerState:
        """The state pod `ordinal`'s agent sent (to_wire's form); ValueError naming the field on
        anything else. Fields a newer agent may add are ignored."""
        if not isinstance(data, dict):
            _refuse("a server state must be a JSON object")
        missing = sorted({"read_only", "heartbeat_micros", "heartbeat_writer_offset", "gtid_state"} - set(data))
        if missing:
            raise ValueError(f"a server state lacks the fields {missing}")
        gtid = data["gtid_state"]
        if not isinstance(gtid, str):
            _refuse("the server state's gtid_state is not a string")
        offset = data["heartbeat_writer_offset"]
        if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int)
                                   or not 0 <= ordinal + offset <= _MAX_ORDINAL):
            raise ValueError("the server state's heartbeat_writer_offset does not name a pod")
        return cls(
            ordinal=ordinal,
            read_only=_boolean(data["read_only"], "read_only"),
            heartbeat_micros=_optional_integer(data["heartbeat_micros"], "heartbeat_micros", _MAX_MICROS),
            heartbeat_writer=None if offset is None else ordinal + offset,
            gtid=parse_gtid(flavor, gtid),
        )


def _refuse(message: str) -> NoReturn:
    raise ValueError(message)


def _boolean(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        _refuse(f"the server state's {name} is not true or false")
    return value


def _integer(value: object, name: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"the server state's {name} is not a number from 0 to {limit}")
    return value


def _optional_integer(value: object, name: str, limit: int) -> int | None:
    return None if value is None else _integer(value, name, limit)


@dataclass(frozen=True)
class LocalState:
    """This pod's own server, with what only its agent sees.

    started_at: when the server started (seconds since the epoch, from its uptime: to a second);
    replica_configured: the server has a replication channel (a server never made a replica has
    none; a clone of a replica has its donor's)."""
    server: ServerState
    started_at: int
    replica_configured: bool


@dataclass(frozen=True)
class ClusterView:
    """Everything one decision is taken on, gathered once.

    peers: every other pod of the cluster (by the topology's replicas), with its state, or None
    when its agent did not answer; designated_primary: the topology's primaryOrdinal, the last
    requested move (which may have failed); now_micros: this pod's clock, for heartbeat ages;
    role_given_at: when the server that was last given its role by this agent started (None: no
    role given yet, as at the agent's start); hosts: each pod's stable host name, by ordinal;
    failover_grace_micros: how long the primary's heartbeat may be silent before the pods fail
    over by themselves (0: no automatic failover); unreachable: the peers whose agents sent no
    answer at all (refused connections, timeouts, names that do not resolve), unlike those that
    refused to give a state (503 while they clone); majority_heard: this agent has reached a
    majority of the pods at some look (a new cluster's pod 0 alone never has); fenced: this
    agent made its writable server read-only because it heard no majority (decide.FENCED), and
    it has not taken a role since."""
    me: LocalState
    peers: Mapping[int, ServerState | None]
    designated_primary: int
    now_micros: int
    hosts: tuple[str, ...]
    role_given_at: int | None = None
    failover_grace_micros: int = 0
    unreachable: frozenset[int] = frozenset()
    majority_heard: bool = False
    fenced: bool = False
    answered: tuple[ServerState, ...] = field(init=False)

    def __post_init__(self) -> None:
        answered = tuple(s for _, s in sorted(self.peers.items()) if s is not None)
        object.__setattr__(self, "answered", answered)

    @property
    def ordinal(self) -> int:
        return self.me.server.ordinal

    @property
    def restarted(self) -> bool:
        """The server started after the one this agent gave its role to (a crash, an OOM kill,
        the liveness probe): it is read-only again and, on a replica, without replication."""
        return self.role_given_at is not None and self.me.started_at > self.role_given_at + START_SLACK_SECONDS

    @property
    def needs_role(self) -> bool:
        """The server has not been given its role yet, or restarted since."""
        return self.role_given_at is None or self.restarted

    @property
    def pods_reached(self) -> int:
        """The pods whose agents answered at all, this one included."""
        return 1 + sum(1 for ordinal in self.peers if ordinal not in self.unreachable)

    def host(self, ordinal: int) -> str:
        return self.hosts[ordinal]

    def heartbeat_age_micros(self, state: ServerState) -> int | None:
        """How old the heartbeat a server applied is, by this pod's clock."""
        if state.heartbeat_micros is None:
            return None
        return self.now_micros - state.heartbeat_micros
