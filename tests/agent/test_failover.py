"""Automatic failover's arithmetic (failover.py): the majority that must agree the primary is
lost, how long its heartbeat is silent, and which replica takes its place."""
from __future__ import annotations

from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.failover import Candidate, Diverged, candidate, majority, silent_micros
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.state import ServerState

UUID_A = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
UUID_B = "8a94f357-aab4-11df-86ab-c80aa9429563"


def mariadb(ordinal: int, gtid: str, heartbeat: int | None = None) -> ServerState:
    return ServerState(ordinal, True, heartbeat, None if heartbeat is None else 0, parse_gtid(Flavor.MARIADB, gtid))


def mysql(ordinal: int, gtid: str) -> ServerState:
    return ServerState(ordinal, True, None, None, parse_gtid(Flavor.MYSQL, gtid))


def test_a_majority_is_more_than_half_of_the_pods() -> None:
    assert [majority(pods) for pods in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 3, 4, 4]


def test_the_silence_is_the_age_of_the_newest_heartbeat_any_pod_applied() -> None:
    states = [mariadb(1, "0-100-1", heartbeat=100), mariadb(2, "0-100-1", heartbeat=130), mariadb(3, "")]
    assert silent_micros(states, now_micros=200) == 70


def test_without_any_heartbeat_nothing_is_silent() -> None:
    assert silent_micros([mariadb(1, ""), mariadb(2, "")], now_micros=200) is None


def test_the_candidate_holds_every_transaction_the_others_hold() -> None:
    states = [mariadb(1, "0-100-10"), mariadb(2, "0-100-12"), mariadb(3, "0-100-11")]
    assert candidate(states) == Candidate(2)


def test_among_equals_the_lowest_ordinal_is_the_candidate() -> None:
    assert candidate([mariadb(3, "0-100-12"), mariadb(1, "0-100-12"), mariadb(2, "0-100-9")]) == Candidate(1)


def test_replicas_that_each_hold_what_another_lacks_leave_no_candidate() -> None:
    # Pod 1 took a write of its own (server 101) that pod 2 never saw; pod 2 is further on 100.
    states = [mariadb(1, "0-100-10,0-101-1"), mariadb(2, "0-100-12"), mariadb(3, "0-100-9")]
    assert candidate(states) == Diverged((1, 2))


def test_mysql_gtid_sets_are_compared_by_what_they_hold_not_by_their_length() -> None:
    ahead = mysql(2, f"{UUID_A}:1-20")
    gapped = mysql(1, f"{UUID_A}:1-10:12-20")
    assert candidate([gapped, ahead]) == Candidate(2)
    errant = mysql(3, f"{UUID_A}:1-15,{UUID_B}:1")
    assert candidate([ahead, errant]) == Diverged((2, 3))
