"""The switchover Job's decisions, one situation a row: what the Job does next given what the pods'
agents answered (switchover_decide.py)."""
from __future__ import annotations

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.state import ServerState
from mysql_cluster_agent.switchover_decide import (
    Done,
    Fail,
    FailOver,
    JobView,
    Situation,
    SwitchOver,
    Wait,
    last_primary,
    next_step,
    peers_ahead,
    repoint,
)


def pod(ordinal: int, writable: bool = False, beat: int | None = 100, writer: int | None = 0,
        gtid: str = "0-1-5") -> ServerState:
    return ServerState(ordinal=ordinal, read_only=not writable, heartbeat_micros=beat,
                       heartbeat_writer=writer if beat is not None else None,
                       gtid=parse_gtid(Flavor.MARIADB, gtid))


def view(*states: ServerState | tuple[int, None], target: int = 1, waited: bool = False) -> JobView:
    by_ordinal = {s[0]: None for s in states if isinstance(s, tuple)}
    by_ordinal.update({s.ordinal: s for s in states if isinstance(s, ServerState)})
    return JobView(target=target, states=by_ordinal, waited=waited, failover_wait_seconds=30)


CASES = [
    ("target already the only writable pod",
     view(pod(0), pod(1, writable=True, writer=1), pod(2)), Done, Situation.TARGET_IS_PRIMARY, None),
    ("another pod writable: switchover from it",
     view(pod(0, writable=True), pod(1), pod(2)), SwitchOver, Situation.WRITABLE_PRIMARY, 0),
    ("a writable pod is a switchover even after the failover wait",
     view(pod(0, writable=True), pod(1), pod(2), waited=True), SwitchOver, Situation.WRITABLE_PRIMARY, 0),
    ("no pod writable, the last primary answers read-only: switchover goes on from it",
     view(pod(0, writer=2), pod(1, writer=2), pod(2, writer=2)), SwitchOver, Situation.LAST_PRIMARY_READ_ONLY, 2),
    ("the last primary answers read-only after the wait: still a switchover, never a failover",
     view(pod(0), pod(1), pod(2), waited=True), SwitchOver, Situation.LAST_PRIMARY_READ_ONLY, 0),
    ("the last primary silent, before the wait: wait",
     view((0, None), pod(1), pod(2)), Wait, Situation.PRIMARY_SILENT, None),
    ("the last primary silent after the wait: failover",
     view((0, None), pod(1), pod(2), waited=True), FailOver, Situation.FAILOVER, None),
    ("no heartbeat anywhere and nobody writable, after the wait: failover",
     view(pod(0, beat=None), pod(1, beat=None), waited=True), FailOver, Situation.FAILOVER, None),
    ("the target silent: wait for it",
     view(pod(0, writable=True), (1, None)), Wait, Situation.TARGET_SILENT, None),
    ("the target silent after the wait: fail, nothing changed",
     view(pod(0, writable=True), (1, None), waited=True), Fail, Situation.TARGET_SILENT, None),
    ("two writable pods: fail, nobody acts on a split",
     view(pod(0, writable=True), pod(1), pod(2, writable=True)), Fail, Situation.SPLIT, None),
]


@pytest.mark.parametrize(("the_view", "kind", "situation", "source"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_the_job_takes_the_step_its_situation_names(the_view, kind, situation, source):
    step = next_step(the_view)
    assert isinstance(step, kind)
    assert step.situation is situation
    if source is not None:
        assert isinstance(step, SwitchOver) and step.source == source


def test_a_failure_says_what_to_do():
    step = next_step(view(pod(0, writable=True), (1, None), waited=True))
    assert isinstance(step, Fail) and "primaryOrdinal" in step.why and "pulumi up" in step.why


def test_the_last_primary_is_the_writer_of_the_newest_heartbeat_any_pod_holds():
    assert last_primary((pod(0, beat=100, writer=0), pod(1, beat=300, writer=2), pod(2, beat=None))) == 2


def test_a_cluster_without_heartbeats_has_no_last_primary():
    assert last_primary((pod(0, beat=None), pod(1, beat=None))) is None


def test_the_pods_ahead_of_the_target_are_those_holding_what_it_lacks_in_ordinal_order():
    target = parse_gtid(Flavor.MARIADB, "0-1-100")
    others = {3: parse_gtid(Flavor.MARIADB, "0-1-120"), 0: parse_gtid(Flavor.MARIADB, "0-1-90"),
              2: parse_gtid(Flavor.MARIADB, "0-1-101")}
    assert peers_ahead(target, others) == [2, 3]


def test_after_the_move_pods_the_new_primary_holds_follow_it_and_the_others_are_left_to_rebuild():
    primary = parse_gtid(Flavor.MARIADB, "0-1-100,0-2-7")
    plan = repoint(primary, {0: parse_gtid(Flavor.MARIADB, "0-1-100"),
                             2: parse_gtid(Flavor.MARIADB, "0-1-101"),
                             3: parse_gtid(Flavor.MARIADB, "0-1-90,0-2-7")})
    assert (plan.follow, plan.diverged) == ((0, 3), (2,))
