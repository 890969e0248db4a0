"""Gathers the view one role decision is taken on (state.ClusterView): this pod's own server
first, over the local socket, then every peer's state from its agent, all at once.

The order matters: a peer's state read earlier would lack the heartbeats it has written since,
which this server may already hold, and this server would seem to hold transactions the peer
lacks (decide.py would rebuild a healthy replica)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .config import AgentConfig
from .dialect import Dialect, Flavor
from .local_server import Sql
from .own_state import read_own_state
from .peers import PeerAnswer, peer_ordinals
from .replica_status import read_replica_status
from .state import ClusterView, LocalState, ServerState

AskPeers = Callable[[Sequence[int]], list[PeerAnswer]]


def read_local_state(sql: Sql, dialect: Dialect, ordinal: int, now_seconds: int) -> LocalState:
    """This pod's server as its peers see it, with its replication channel and start time."""
    server = ServerState.from_wire(dialect.flavor, ordinal, read_own_state(sql, dialect))
    status = read_replica_status(sql, dialect)
    uptime = sql.query("SHOW GLOBAL STATUS LIKE 'Uptime'")
    if not uptime or not str(uptime[0][1]).isdigit():
        raise ValueError(f"the server's uptime is not a number: {uptime[:1]!r}")
    return LocalState(server=replace(server, source_host=(status.source_host or None) if status else None),
                      started_at=now_seconds - int(str(uptime[0][1])), replica_configured=status is not None)


def peer_states(flavor: Flavor, answers: Sequence[PeerAnswer]) -> tuple[dict[int, ServerState | None], dict[int, str]]:
    """The peers' states from their agents' answers; a state that is refused counts as no
    answer. Also why each peer that did not count did not."""
    states: dict[int, ServerState | None] = {}
    problems: dict[int, str] = {}
    for answer in answers:
        states[answer.ordinal] = None
        if answer.state is None:
            problems[answer.ordinal] = answer.problem
            continue
        try:
            states[answer.ordinal] = ServerState.from_wire(flavor, answer.ordinal, dict(answer.state))
        except ValueError as error:
            problems[answer.ordinal] = f"its state is refused: {error}"
    return states, problems


@dataclass(frozen=True)
class Gathered:
    view: ClusterView
    # Why peers did not count as answering, by ordinal (a pod that is down, a malformed state).
    problems: dict[int, str]


def gather(config: AgentConfig, sql: Sql, dialect: Dialect, ask: AskPeers, role_given_at: int | None,
           now_micros: int) -> Gathered:
    me = read_local_state(sql, dialect, config.ordinal, now_micros // 1_000_000)
    replicas = config.replicas()
    answers = ask(peer_ordinals(config.ordinal, replicas))
    peers, problems = peer_states(dialect.flavor, answers)
    view = ClusterView(me=me, peers=peers, designated_primary=config.designated_primary(),
                       now_micros=now_micros, hosts=tuple(config.pod_host(n) for n in range(max(replicas, config.ordinal + 1))),
                       role_given_at=role_given_at, failover_grace_micros=config.failover_grace_seconds() * 1_000_000,
                       unreachable=frozenset(answer.ordinal for answer in answers if not answer.reached))
    return Gathered(view, problems)
