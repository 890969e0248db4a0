"""Automatic failover's two questions, pure so that decide.py's situations over them are
table-tested: is the primary lost (its heartbeat silent for the grace period on every pod that
answers, and those pods a majority of the StatefulSet), and which replica takes its place.

The pods decide alone, each on its own view, and each reaches the same answer from the same
states: only the chosen pod acts, the others wait for it to be writable and follow it
(decide.FOLLOW_NEW_PRIMARY). The rules are the peers': MOCO fails over only while more than half
of the replicas are healthy and promotes the replica whose GTID set holds every other's, refusing
when two have errant transactions (github.com/cybozu-go/moco clustering/status.go isFailed,
pkg/dbop/gtid.go FindTopRunner); mariadb-operator promotes the replica with the highest
gtid_current_pos among those with no relay log left to apply (github.com/mariadb-operator/
mariadb-operator pkg/controller/replication/failover.go). Here the candidate applies its relay
log before it becomes writable (role.catch_up_received)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .gtid import holds
from .state import ServerState


def majority(pods: int) -> int:
    """The fewest pods that are more than half of `pods`."""
    return pods // 2 + 1


def silent_micros(states: Sequence[ServerState], now_micros: int) -> int | None:
    """How long the newest heartbeat any of `states` applied is silent, by this pod's clock;
    None when none has one (a new cluster: there is no primary to lose)."""
    beats = [s.heartbeat_micros for s in states if s.heartbeat_micros is not None]
    return now_micros - max(beats) if beats else None


@dataclass(frozen=True)
class Candidate:
    ordinal: int


@dataclass(frozen=True)
class Diverged:
    """No pod holds every transaction the others hold: promoting any would drop some."""
    ordinals: tuple[int, ...]


def candidate(states: Sequence[ServerState]) -> Candidate | Diverged:
    """The pod whose GTID state holds every other's, the lowest ordinal among equals; Diverged
    naming the pods that each hold something another lacks when there is none."""
    holders = [s.ordinal for s in states if all(holds(s.gtid, other.gtid) for other in states)]
    if holders:
        return Candidate(min(holders))
    ahead = [s.ordinal for s in states if not any(holds(o.gtid, s.gtid) for o in states if o is not s)]
    return Diverged(tuple(sorted(ahead)))
