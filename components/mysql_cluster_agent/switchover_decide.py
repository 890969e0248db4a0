"""The switchover Job's decisions: pure functions over the states the pods' agents serve, in named
situations, so that every case is table-tested in milliseconds (tests/agent/test_switchover_decide.py).
switchover.py asks them and carries their steps out through the agents' role endpoints.

Moving the primary to pod `target`:
  - a switchover while the primary answers: the writable pod, or the last primary (the writer of
    the newest heartbeat) answering read-only, which an attempt that stopped half way leaves;
    no failover while the old primary answers, however slow it is to become read-only;
  - a failover once no pod has been writable for the failover wait and the last primary does not
    answer: the target first takes everything any answering pod holds that it lacks;
  - then every other answering pod follows the target, unless it holds transactions the target
    lacks (it rebuilds itself from a peer: role_loop.py).
This is where automatic failover will grow: the situations a pod's own agent would act on are
the ones named here."""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .gtid import GtidState, holds
from .state import ServerState


class Situation(enum.Enum):
    TARGET_IS_PRIMARY = "the target is the only writable pod already"
    WRITABLE_PRIMARY = "another pod is writable: a switchover from it"
    LAST_PRIMARY_READ_ONLY = "no pod is writable and the last primary answers read-only: the switchover goes on from it"
    SPLIT = "several pods are writable"
    TARGET_SILENT = "the target does not answer"
    PRIMARY_SILENT = "no pod is writable and the last primary does not answer"
    FAILOVER = "no pod has been writable for the failover wait and the last primary does not answer"


@dataclass(frozen=True)
class Done:
    situation: Situation
    why: str


@dataclass(frozen=True)
class SwitchOver:
    """Make pod `source` read-only, wait until the target applied its position, promote."""
    source: int
    situation: Situation
    why: str


@dataclass(frozen=True)
class FailOver:
    """Bring the target up to what it received and to every answering pod ahead, promote."""
    situation: Situation
    why: str


@dataclass(frozen=True)
class Wait:
    """Look again shortly: the primary or the target may answer."""
    situation: Situation
    why: str


@dataclass(frozen=True)
class Fail:
    """Nothing is changed; `why` says what happened and what to do."""
    situation: Situation
    why: str


Step = Done | SwitchOver | FailOver | Wait | Fail


@dataclass(frozen=True)
class JobView:
    """What the Job sees in one look: every pod's state by ordinal (None: its agent did not
    answer, `problems` says why), the target, and whether the failover wait is over."""
    target: int
    states: Mapping[int, ServerState | None]
    waited: bool
    failover_wait_seconds: int
    problems: Mapping[int, str] = field(default_factory=dict)

    @property
    def answered(self) -> tuple[ServerState, ...]:
        return tuple(s for _, s in sorted(self.states.items()) if s is not None)


def last_primary(states: tuple[ServerState, ...]) -> int | None:
    """The writer of the newest heartbeat any answering pod holds: the pod that was writable
    last (None in a cluster without a heartbeat yet)."""
    newest: ServerState | None = None
    for state in states:
        if state.heartbeat_micros is None or state.heartbeat_writer is None:
            continue
        if newest is None or newest.heartbeat_micros is None or state.heartbeat_micros > newest.heartbeat_micros:
            newest = state
    return None if newest is None else newest.heartbeat_writer


def next_step(view: JobView) -> Step:
    target = view.target
    writable = [s.ordinal for s in view.answered if not s.read_only]
    if len(writable) > 1:
        return Fail(Situation.SPLIT, f"pods {' and '.join(map(str, writable))} are all writable; make all but one "
                    "read-only by hand (SET GLOBAL read_only = 1) and see docs/operations.md")
    if view.states.get(target) is None:
        why = f" ({view.problems[target]})" if target in view.problems else ""
        if view.waited:
            return Fail(Situation.TARGET_SILENT, f"pod {target} does not answer{why}; the primary was not moved: start "
                        f"pod {target} or set primaryOrdinal to a pod that runs, and run `pulumi up` again")
        return Wait(Situation.TARGET_SILENT, f"waiting for pod {target} to answer{why}")
    if writable == [target]:
        return Done(Situation.TARGET_IS_PRIMARY, f"pod {target} is the primary already")
    if writable:
        return SwitchOver(writable[0], Situation.WRITABLE_PRIMARY,
                          f"switchover from pod {writable[0]}, the writable pod, to pod {target}")
    last = last_primary(view.answered)
    if last is not None and view.states.get(last) is not None:
        return SwitchOver(last, Situation.LAST_PRIMARY_READ_ONLY,
                          f"pod {last}, the last primary, answers read-only: the switchover to pod {target} goes "
                          "on from it")
    if view.waited:
        return FailOver(Situation.FAILOVER,
                        f"FAILOVER: no pod has been writable for {view.failover_wait_seconds}s and the last primary "
                        f"does not answer; pod {target} becomes the primary once it holds everything a pod that "
                        "answers holds. What the old primary committed but sent to no pod that answers is lost; "
                        "when it returns it rebuilds itself from a peer, its old data kept aside")
    who = "no pod has a heartbeat" if last is None else f"pod {last}, the last primary, does not answer"
    return Wait(Situation.PRIMARY_SILENT, f"no pod is writable and {who}")


def peers_ahead(target: GtidState, others: Mapping[int, GtidState]) -> list[int]:
    """The pods holding transactions the target lacks, in ordinal order: before a failover
    promotes it, the target replicates from each in turn until it holds what that one held."""
    return [ordinal for ordinal, state in sorted(others.items()) if not holds(target, state)]


@dataclass(frozen=True)
class Repoint:
    """After the move: each other answering pod either follows the new primary, or (holding
    transactions it lacks) is left to rebuild itself from a peer."""
    follow: tuple[int, ...]
    diverged: tuple[int, ...]


def repoint(primary: GtidState, others: Mapping[int, GtidState]) -> Repoint:
    follow = tuple(o for o, state in sorted(others.items()) if holds(primary, state))
    diverged = tuple(o for o, state in sorted(others.items()) if not holds(primary, state))
    return Repoint(follow, diverged)

