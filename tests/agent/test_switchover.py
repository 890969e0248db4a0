"""The switchover Job's procedure (switchover.py) against a fake of the pods' agents: what it asks
which pod, in which order, and what it says, for each way a move can go."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import GtidState, MariadbGtidState, parse_gtid
from mysql_cluster_agent.role_client import AgentError
from mysql_cluster_agent.state import ServerState
from mysql_cluster_agent.switchover import Move, SwitchoverFailed, move_primary

MOVE = Move(target=1, failover_wait_seconds=30, catch_up_seconds=60)


@dataclass
class FakePod:
    gtid: str = "0-1-5"
    writable: bool = False
    heartbeat_writer: int = 0
    answers: bool = True
    received: str = ""
    refuses: set[str] = field(default_factory=set)  # the requests its agent fails
    applies: bool = True  # a GTID wait succeeds (and the position is then held)


class FakeAgents:
    def __init__(self, pods: dict[int, FakePod]):
        self.pods = pods
        self.calls: list[tuple[object, ...]] = []

    def _pod(self, ordinal: int, request: str) -> FakePod:
        pod = self.pods[ordinal]
        if not pod.answers or request in pod.refuses:
            raise AgentError(f"pod {ordinal}'s agent answered HTTP 409: {request} failed")
        return pod

    def states(self) -> tuple[dict[int, ServerState | None], dict[int, str]]:
        states = {o: ServerState(o, not p.writable, 100, p.heartbeat_writer, parse_gtid(Flavor.MARIADB, p.gtid))
                  if p.answers else None for o, p in self.pods.items()}
        return states, {o: f"pod {o}'s agent did not answer: timed out" for o, p in self.pods.items() if not p.answers}

    def read_only(self, ordinal: int, lock_wait_seconds: int) -> None:
        self.calls.append(("read_only", ordinal, lock_wait_seconds))
        self._pod(ordinal, "read_only").writable = False

    def position(self, ordinal: int) -> str:
        self.calls.append(("position", ordinal))
        return self._pod(ordinal, "position").gtid

    def gtid_state(self, ordinal: int) -> GtidState:
        return parse_gtid(Flavor.MARIADB, self._pod(ordinal, "gtid_state").gtid)

    def wait(self, ordinal: int, position: str, seconds: int) -> bool:
        self.calls.append(("wait", ordinal, position, seconds))
        pod = self._pod(ordinal, "wait")
        if pod.applies:
            merged = MariadbGtidState.parse(f"{pod.gtid},{position}")
            pod.gtid = str(merged)
        return pod.applies

    def follow(self, ordinal: int, source: int) -> None:
        self.calls.append(("follow", ordinal, source))
        self._pod(ordinal, "follow").writable = False

    def stop_replication(self, ordinal: int, io_thread_only: bool) -> str:
        self.calls.append(("stop_replication", ordinal, io_thread_only))
        return self._pod(ordinal, "stop_replication").received

    def promote(self, ordinal: int) -> None:
        self.calls.append(("promote", ordinal))
        self._pod(ordinal, "promote").writable = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(agents: FakeAgents, move: Move = MOVE) -> list[str]:
    log: list[str] = []
    clock = Clock()
    move_primary(agents, move, log.append, clock=clock, sleep=clock.sleep)
    return log


def failure(agents: FakeAgents, move: Move = MOVE) -> str:
    clock = Clock()
    with pytest.raises(SwitchoverFailed) as failed:
        move_primary(agents, move, lambda _: None, clock=clock, sleep=clock.sleep)
    return str(failed.value)


def three_pods(**changes: FakePod) -> FakeAgents:
    pods = {0: FakePod(gtid="0-1-9", writable=True), 1: FakePod(), 2: FakePod()}
    pods.update({int(k[3:]): v for k, v in changes.items()})
    return FakeAgents(pods)


def test_a_switchover_makes_the_primary_read_only_waits_for_its_position_on_the_target_then_promotes_it():
    agents = three_pods()
    run(agents)
    assert agents.calls[:4] == [("read_only", 0, 60), ("position", 0), ("wait", 1, "0-1-9", 60), ("promote", 1)]
    assert [p.writable for p in agents.pods.values()] == [False, True, False]


def test_after_the_move_every_other_pod_follows_the_new_primary():
    agents = three_pods()
    run(agents)
    assert agents.calls[4:] == [("follow", 0, 1), ("follow", 2, 1)]


def test_each_step_says_one_line():
    log = run(three_pods())
    assert log == ["switchover from pod 0, the writable pod, to pod 1",
                   ("switchover from pod 0 to pod 1: pod 0 becomes read-only (it waits for the transactions in "
                    "flight, up to 60s)"),
                   "waiting until pod 1 has applied pod 0's transactions up to 0-1-9",
                   "pod 1 is the primary",
                   "pod 0 now replicates from pod 1",
                   "pod 2 now replicates from pod 1",
                   "done: pod 1 is the primary"]


def test_run_again_once_the_target_is_the_primary_it_changes_no_role_and_only_repoints_the_others():
    agents = three_pods(pod0=FakePod(gtid="0-1-9"), pod1=FakePod(gtid="0-1-9", writable=True, heartbeat_writer=1))
    run(agents)
    assert agents.calls == [("follow", 0, 1), ("follow", 2, 1)]


def test_a_primary_that_cannot_become_read_only_in_time_stays_the_primary_and_nothing_is_promoted():
    agents = three_pods(pod0=FakePod(gtid="0-1-9", writable=True, refuses={"read_only"}))
    message = failure(agents)
    assert "it stays the primary, nothing was changed" in message and "run the Job again" in message
    assert ("promote", 1) not in agents.calls and agents.pods[0].writable


def test_a_target_that_does_not_catch_up_in_time_leaves_the_old_primary_writable_again():
    agents = three_pods(pod1=FakePod(applies=False))
    message = failure(agents)
    assert "pod 1 did not apply pod 0's transactions within 60s; pod 0 is writable again" in message
    assert agents.pods[0].writable and not agents.pods[1].writable


def test_a_last_primary_answering_read_only_is_switched_over_from_never_failed_over_even_after_the_wait():
    agents = three_pods(pod0=FakePod(gtid="0-1-9"))
    clock_log = run(agents)
    assert agents.calls[:4] == [("read_only", 0, 60), ("position", 0), ("wait", 1, "0-1-9", 60), ("promote", 1)]
    assert not any("FAILOVER" in line for line in clock_log)


def test_while_the_primary_is_silent_the_job_waits_the_failover_wait_before_it_fails_over():
    agents = three_pods(pod0=FakePod(answers=False))
    log = run(agents)
    waits = [line for line in log if line.startswith("no pod is writable and pod 0, the last primary, does not answer")]
    assert len(waits) == 15 and waits[0].endswith("(failover in 30s)")
    assert any(line.startswith("FAILOVER:") for line in log)


def test_a_failover_applies_what_the_target_received_before_it_is_promoted():
    agents = three_pods(pod0=FakePod(answers=False), pod1=FakePod(received="0-1-7"), pod2=FakePod(gtid="0-1-7"))
    run(agents)
    assert agents.calls[:3] == [("stop_replication", 1, True), ("wait", 1, "0-1-7", 60), ("promote", 1)]


def test_a_failover_first_brings_the_target_up_to_a_replica_ahead_of_it_so_nothing_it_holds_is_lost():
    agents = three_pods(pod0=FakePod(answers=False), pod2=FakePod(gtid="0-1-120"))
    run(agents)
    assert agents.calls == [("stop_replication", 1, True), ("position", 2), ("follow", 1, 2),
                            ("wait", 1, "0-1-120", 60), ("stop_replication", 1, False), ("promote", 1),
                            ("follow", 2, 1)]
    assert agents.pods[1].gtid == "0-1-120"


def test_a_failover_that_cannot_take_what_a_replica_holds_promotes_nobody_and_names_that_replica():
    agents = three_pods(pod0=FakePod(answers=False), pod1=FakePod(applies=False), pod2=FakePod(gtid="0-1-120"))
    message = failure(agents)
    assert "pod 1 was not promoted: run the Job again, or set primaryOrdinal=2" in message
    assert ("promote", 1) not in agents.calls


def test_a_target_that_never_answers_fails_after_the_wait_and_changes_nothing():
    agents = three_pods(pod1=FakePod(answers=False))
    message = failure(agents)
    assert message.startswith("pod 1 does not answer (pod 1's agent did not answer: timed out); the primary was "
                              "not moved")
    assert agents.calls == [] and agents.pods[0].writable


def test_a_failover_whose_replica_ahead_stops_answering_promotes_nobody_and_names_that_replica():
    agents = three_pods(pod0=FakePod(answers=False), pod2=FakePod(gtid="0-1-5,0-3-1", refuses={"position"}))
    assert "pod 2 holds transactions pod 1 lacks and no longer answers" in failure(agents)
    assert ("promote", 1) not in agents.calls


def test_after_the_move_a_pod_the_new_primary_does_not_hold_is_named_and_left_alone():
    agents = three_pods(pod0=FakePod(gtid="0-1-9", writable=True), pod2=FakePod(gtid="0-1-5,0-3-1"))
    log = run(agents)
    assert "pod 2 holds transactions pod 1 lacks; it rebuilds itself from a peer" in log
    assert ("follow", 2, 1) not in agents.calls
