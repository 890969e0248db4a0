"""The role decision: one pure function from the cluster as this pod sees it (state.ClusterView)
to what this pod's server should do, over named situations. Nothing here reads or changes
anything, so every situation is table-tested in milliseconds (tests/agent/test_decide.py).

Two moments ask it: the role at start (the agent's first look, and every look after the server
restarted: it comes back read-only and, on a replica, without replication, since servers run
with skip-replica-start), and the role watch (every later look). Automatic failover is made
here only when the cluster asks for it (automaticFailover; failover.py says whether and who):
then a replica that finds no pod writable and the last primary silent past the grace period,
with a majority of the pods agreeing, promotes itself if it is the most advanced. Otherwise the
situations say why there is no failover, and every pod waits for someone to move the primary
(docs/operations.md#automatic-failover). Its other side: a writable primary whose agent reaches
no majority of the pods fences itself (read-only) well before such a failover may happen, and
takes writes again when a majority answers and no other pod became writable meanwhile."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from .failover import Diverged, candidate, majority, silent_micros
from .gtid import holds
from .state import ClusterView, ServerState


class Situation(enum.Enum):
    # At start (or after the server restarted).
    WRITABLE_PEER = "a peer is writable: this server follows it"
    DIVERGED_FROM_WRITABLE_PEER = "this server holds transactions the writable peer lacks"
    LAST_PRIMARY_IS_THIS_POD = "this pod wrote the newest heartbeat: it is the primary again"
    NEW_CLUSTER_DESIGNATED_PRIMARY = "no pod has a heartbeat yet and this pod is the designated primary"
    NEW_CLUSTER_FIRST_POD = "pod 0 of a new cluster: no peer answers and it never was a replica"
    PEER_AHEAD_OF_WOULD_BE_PRIMARY = "a peer holds transactions this server lacks: it does not become the primary"
    LAST_PRIMARY_READ_ONLY = "the last primary answers read-only: this server follows it"
    LAST_PRIMARY_NOT_RUNNING = "the last primary does not answer: this server waits for it as its replica"
    ORDERED_START_DEADLOCK = "the last primary is a later pod that the StatefulSet starts only after this one is ready"
    # The role watch.
    STEADY_PRIMARY = "this server is the writable primary"
    STEADY_REPLICA = "this server follows the writable pod"
    FOLLOW_NEW_PRIMARY = "another pod became writable: this replica follows it"
    STEP_DOWN = "another writable pod is the designated primary: this server steps down"
    NO_WRITABLE_POD = "no pod is writable"
    # The role watch, with automatic failover.
    FAILOVER_TO_THIS_POD = "the primary is lost, a majority agrees and this pod is the most advanced"
    FAILOVER_TO_PEER = "the primary is lost and a peer is the most advanced: it becomes the primary"
    FAILOVER_NO_QUORUM = "the primary is silent but too few pods answer to agree that it is lost"
    FAILOVER_DIVERGED = "the primary is lost and no pod holds every transaction the others hold"
    FENCED = "this writable primary reaches no majority of the pods: it makes itself read-only"
    FENCED_CUT_OFF = "this fenced primary still reaches no majority of the pods: it stays read-only"
    UNFENCED = "this fenced primary reaches a majority again and is still the last primary: it takes writes"
    # Either.
    TWO_PRIMARIES = ("this server and a peer are both writable, and the peer is not the designated primary (or "
                     "automatic failover is on)")
    SPLIT_PEERS = "several peers are writable"


@dataclass(frozen=True)
class Promote:
    """Make this server the writable primary."""
    situation: Situation
    why: str


@dataclass(frozen=True)
class FailOver:
    """Make this replica the primary in place of a lost one: first it applies everything it
    received (its relay log), then, if the situation still stands, it is promoted."""
    situation: Situation
    why: str


@dataclass(frozen=True)
class Fence:
    """Make this writable server read-only (it hears too few pods to know it is still the
    primary), and remember it: only a fenced server takes writes again by itself."""
    situation: Situation
    why: str


@dataclass(frozen=True)
class Follow:
    """Make this server a read-only replica of pod `source`."""
    source: int
    situation: Situation
    why: str


@dataclass(frozen=True)
class Rebuild:
    """This server diverged from pod `source`, the primary: set its data aside and clone it
    anew (then it follows the primary, at its next start)."""
    source: int
    situation: Situation
    why: str


@dataclass(frozen=True)
class Stay:
    """Change nothing; `why` says what someone must know (empty when all is well)."""
    situation: Situation
    why: str = ""


Action = Promote | FailOver | Fence | Follow | Rebuild | Stay


def decide(view: ClusterView) -> Action:
    writable = [peer.ordinal for peer in view.answered if not peer.read_only]
    if len(writable) > 1:
        return Stay(Situation.SPLIT_PEERS,
                    f"pods {' and '.join(map(str, writable))} are all writable; nobody acts on a split: make "
                    "all but one read-only by hand (SET GLOBAL read_only = 1) and see docs/operations.md")
    if view.needs_role:
        return _role_at_start(view, writable[0] if writable else None)
    return _role_watch(view, writable[0] if writable else None)


def _role_at_start(view: ClusterView, writable: int | None) -> Action:
    me = view.me.server
    if writable is not None:
        if not me.read_only and (writable != view.designated_primary or view.failover_grace_micros):
            return _two_primaries(view, writable)
        return _follow_or_rebuild(view, writable, Situation.WRITABLE_PEER,
                                  f"pod {writable} is writable: it is the primary")
    # No pod is writable. The primary is the pod that was writable last (the writer of the
    # newest heartbeat this server or a peer holds), not the one the topology names: that is
    # only the last requested move, which may have failed, and following a pod that never
    # became the primary would leave the cluster without one.
    last = _last_primary(view)
    if last is None:
        if view.designated_primary == view.ordinal:
            return _promote_unless_peer_ahead(view, Situation.NEW_CLUSTER_DESIGNATED_PRIMARY,
                                              "no pod has a heartbeat yet and this pod is the designated primary")
        target = view.designated_primary
    elif last == view.ordinal:
        return _promote_unless_peer_ahead(
            view, Situation.LAST_PRIMARY_IS_THIS_POD,
            f"this pod wrote the newest heartbeat: it is the primary (designated: pod {view.designated_primary})")
    else:
        target = last
    if view.ordinal == 0 and not view.answered and not view.me.replica_configured:
        return _promote_unless_peer_ahead(view, Situation.NEW_CLUSTER_FIRST_POD,
                                          "pod 0 of a new cluster (no peer answers, never a replica)")
    if view.peers.get(target) is not None:
        return Follow(target, Situation.LAST_PRIMARY_READ_ONLY,
                      f"pod {target} is the primary (the newest heartbeat) and answers read-only; this server "
                      "follows it")
    if target > view.ordinal:
        return Follow(target, Situation.ORDERED_START_DEADLOCK,
                      _ordered_start_deadlock(view, target, by_heartbeat=last is not None))
    return Follow(target, Situation.LAST_PRIMARY_NOT_RUNNING,
                  f"pod {target} is the primary (the newest heartbeat) and does not answer; this server waits "
                  "for it as its replica")


def _role_watch(view: ClusterView, writable: int | None) -> Action:
    me = view.me.server
    if writable is None:
        if not me.read_only:
            if _cut_off(view):
                return Fence(Situation.FENCED, _fenced_why(view))
            return Stay(Situation.STEADY_PRIMARY)
        if view.fenced:
            return _fenced(view)
        return _no_writable_pod(view)
    if not me.read_only:
        if writable != view.designated_primary or view.failover_grace_micros:
            return _two_primaries(view, writable)
        return _follow_or_rebuild(view, writable, Situation.STEP_DOWN,
                                  f"pod {writable} is writable and designated as the primary: this server steps down")
    if me.source_host == view.host(writable):
        return Stay(Situation.STEADY_REPLICA)
    return _follow_or_rebuild(view, writable, Situation.FOLLOW_NEW_PRIMARY,
                              f"the primary is pod {writable}; this replica follows it")


def _follow_or_rebuild(view: ClusterView, source: int, situation: Situation, why: str) -> Action:
    """Follow pod `source`, unless this server holds transactions it lacks (a failover left
    them behind): such a server must never replicate as it is. This server's state was read
    before the peers' (ClusterView), so the source cannot seem to lack heartbeats this server
    took from it meanwhile."""
    primary = view.peers[source]
    assert primary is not None  # a writable peer answered
    if not holds(primary.gtid, view.me.server.gtid):
        return Rebuild(source, Situation.DIVERGED_FROM_WRITABLE_PEER,
                       f"this server holds transactions that the primary (pod {source}) lacks: a failover left "
                       "them behind; it is rebuilt from a peer, its data kept aside")
    return Follow(source, situation, why)


def _promote_unless_peer_ahead(view: ClusterView, situation: Situation, why: str) -> Action:
    if _cut_off(view):
        return Stay(Situation.FENCED_CUT_OFF, _cut_off_why(view))
    for peer in view.answered:
        if not holds(view.me.server.gtid, peer.gtid):
            return Stay(Situation.PEER_AHEAD_OF_WOULD_BE_PRIMARY,
                        f"pod {peer.ordinal} holds transactions this server lacks; not becoming the primary. "
                        f"Move the primary there (primaryOrdinal={peer.ordinal}) or see docs/operations.md")
    return Promote(situation, why)


def _two_primaries(view: ClusterView, writable: int) -> Stay:
    """With automatic failover the topology may still name the primary that was failed over
    from, so it says nothing about which of two writable servers should stay: neither acts."""
    return Stay(Situation.TWO_PRIMARIES,
                f"this server and pod {writable} are both writable and the topology names pod "
                f"{view.designated_primary} as the primary; nobody acts on a split: make one read-only by hand "
                "(SET GLOBAL read_only = 1) and see docs/operations.md")


def _cut_off(view: ClusterView) -> bool:
    """With automatic failover, this agent reaches no majority of the pods (a pod that answers
    at all counts, even one that refuses while it clones: two replicas rebuilding at once must
    not demote a healthy primary), though it did at some earlier look. The pods it does not
    reach may be a majority that fails over after the grace period; this agent's look comes
    every 5 s and waits at most 4 s for its peers (peers.ANSWER_SECONDS), so it sees the cut
    within about 10 s, which failoverGraceSeconds (at least twice that, settings.py) leaves
    before any replica may be promoted. Before it ever reached a majority (a new cluster's pod 0
    starting alone) there is no majority to lose."""
    return (bool(view.failover_grace_micros) and view.majority_heard
            and view.pods_reached < majority(len(view.peers) + 1))


def _reach(view: ClusterView) -> str:
    pods = len(view.peers) + 1
    return (f"this pod reaches {view.pods_reached} of {pods} pods (a majority is {majority(pods)}); pods "
            f"{', '.join(map(str, sorted(view.unreachable)))} do not answer at all (a network partition, or pods down)")


def _fenced_why(view: ClusterView) -> str:
    grace = view.failover_grace_micros // 1_000_000
    return (f"FENCED: {_reach(view)}. This server becomes read-only now, before the pods it cannot reach may fail "
            f"over ({grace}s after its last heartbeat reached them), so that two servers never take writes. When a "
            "majority answers again it takes writes again if no other pod became writable meanwhile; otherwise it "
            "follows the new primary, or rebuilds from it (docs/operations.md#automatic-failover)")


def _cut_off_why(view: ClusterView) -> str:
    return (f"fenced: {_reach(view)}; this server stays read-only until a majority answers "
            "(docs/operations.md#automatic-failover)")


def _fenced(view: ClusterView) -> Action:
    """The fenced primary (read-only, no pod writable): it stays fenced while it reaches no
    majority; then, if no pod wrote a newer heartbeat (nobody failed over), it is still the
    primary and takes writes again. A newer heartbeat of another pod means a failover happened
    and that pod is the primary: the usual watch waits for it to be writable and follows it."""
    if _cut_off(view):
        return Stay(Situation.FENCED_CUT_OFF, _cut_off_why(view))
    if _last_primary(view) != view.ordinal:
        return _no_writable_pod(view)
    return _promote_unless_peer_ahead(
        view, Situation.UNFENCED,
        f"a majority answers again ({view.pods_reached} of {len(view.peers) + 1} pods), no pod is writable and this "
        "pod wrote the newest heartbeat: nobody failed over, so it takes writes again")


def _no_writable_pod(view: ClusterView) -> Action:
    """What a replica sees while no pod is writable: a switchover between its steps, the primary
    restarting, or the primary down. With automatic failover, the last case is decided here."""
    last = _last_primary(view)
    if last is None or last == view.ordinal:
        return Stay(Situation.NO_WRITABLE_POD, "no pod is writable; waiting for a primary")
    if view.peers.get(last) is not None:
        return Stay(Situation.LAST_PRIMARY_READ_ONLY,
                    f"pod {last}, the last primary, answers read-only (a move or a restart under way); waiting")
    if last > view.ordinal and not view.answered:
        return Stay(Situation.ORDERED_START_DEADLOCK, _ordered_start_deadlock(view, last, by_heartbeat=True))
    if view.failover_grace_micros:
        return _failover(view, last)
    age = view.heartbeat_age_micros(view.me.server)
    since = f" for {age // 1_000_000}s" if age is not None else ""
    return Stay(Situation.LAST_PRIMARY_NOT_RUNNING,
                f"pod {last}, the last primary, has not answered{since}; no failover is automatic: move the "
                "primary (primaryOrdinal) once you know its state (docs/operations.md#failover)")


def _failover(view: ClusterView, last: int) -> Action:
    """The last primary does not answer and no pod is writable. Every pod that answers (this
    one included) is read-only and counts as agreeing that the primary is lost once the newest
    heartbeat any of them applied is older than the grace period: a primary that still reaches
    one of them is not lost."""
    voters = (view.me.server, *view.answered)
    grace = view.failover_grace_micros // 1_000_000
    silent = silent_micros(voters, view.now_micros)
    if silent is None or silent <= view.failover_grace_micros:
        return Stay(Situation.LAST_PRIMARY_NOT_RUNNING,
                    f"pod {last}, the last primary, does not answer; automatic failover once no pod that answers "
                    f"has had its heartbeat for {grace}s")
    pods = len(view.peers) + 1
    agreeing = ", ".join(str(s.ordinal) for s in sorted(voters, key=lambda s: s.ordinal))
    lost = f"pod {last}, the last primary, has been silent for {silent // 1_000_000}s (grace {grace}s)"
    if len(voters) < majority(pods):
        return Stay(Situation.FAILOVER_NO_QUORUM,
                    f"{lost}, but only pods {agreeing} of {pods} answer and a failover needs {majority(pods)} to "
                    "agree, so that a pod cut off from the others never promotes itself: no failover. Start the pods "
                    f"that are down, or move the primary by hand (primaryOrdinal) once you know pod {last}'s state "
                    "(docs/operations.md#automatic-failover)")
    choice = candidate(voters)
    if isinstance(choice, Diverged):
        return Stay(Situation.FAILOVER_DIVERGED,
                    f"{lost}, and pods {' and '.join(map(str, choice.ordinals))} each hold transactions the others "
                    "lack: promoting one would drop the others', so there is no automatic failover. Choose the pod "
                    "whose data to keep and move the primary there (primaryOrdinal); the others rebuild "
                    "(docs/operations.md#automatic-failover)")
    if choice.ordinal != view.ordinal:
        return Stay(Situation.FAILOVER_TO_PEER,
                    f"{lost} and pods {agreeing} agree; pod {choice.ordinal} holds every transaction a pod that "
                    f"answers holds and becomes the primary: this pod follows it once it is writable")
    return FailOver(Situation.FAILOVER_TO_THIS_POD,
                    f"FAILOVER: {lost} and pods {agreeing} of {pods} agree that it is lost; this pod holds every "
                    "transaction a pod that answers holds (the lowest ordinal of those that do): it becomes the "
                    f"primary. What pod {last} committed and sent to no pod that answers is lost; when it returns, "
                    "it follows this pod, or rebuilds itself if it holds such transactions")


def _ordered_start_deadlock(view: ClusterView, last: int, by_heartbeat: bool) -> str:
    """After a switchover away from pod 0, a restart of the whole cluster starts pod 0 first
    (podManagementPolicy OrderedReady) and pod `last`, the last primary, only once every pod
    before it is ready, which a replica without its primary never is. Becoming the primary here
    would drop whatever pod `last` committed and sent to nobody, so this pod stays its replica and
    says how to go on: a failover to this pod, by the switchover Job, which keeps what pod `last`
    alone holds aside when it starts."""
    known = ("it wrote the newest heartbeat this server holds" if by_heartbeat
             else "the topology names it and no server has a heartbeat")
    return (f"pod {last} is the primary ({known}) and is not "
            f"running; the StatefulSet starts it only once this pod is ready (podManagementPolicy "
            f"OrderedReady), and a replica without its primary is never ready, so the cluster cannot start "
            f"by itself. This server stays a replica of pod {last} so that no write of it is lost. To start "
            f"the cluster, move the primary here: `pulumi config set primaryOrdinal {view.ordinal}` (and "
            f"expectedPrimaryOrdinal where the policy asks for it) and `pulumi up`; the switchover Job fails "
            f"over to this pod, and pod {last}, once started, sets aside any transaction this pod lacks "
            f"(docs/operations.md#failover)")


def _last_primary(view: ClusterView) -> int | None:
    """The pod that wrote the newest heartbeat this server or an answering peer holds: the last
    pod that was writable. None when no server has a heartbeat (a new cluster)."""
    newest: ServerState | None = None
    for state in (view.me.server, *view.answered):
        if state.heartbeat_micros is None or state.heartbeat_writer is None:
            continue
        if newest is None or newest.heartbeat_micros is None or state.heartbeat_micros > newest.heartbeat_micros:
            newest = state
    return None if newest is None else newest.heartbeat_writer
