"""The role decision, one situation a test: what a pod's server does given what it and its peers
say (decide.py). Pods are named by ordinal; GTID states are MariaDB's (domain-server-sequence),
whose holds rule test_gtid.py specifies."""
from __future__ import annotations

from mysql_cluster_agent.decide import FailOver, Fence, Follow, Promote, Rebuild, Situation, Stay, decide
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.state import ClusterView, LocalState, ServerState

NOW = 1_800_000_000_000_000
STARTED = 1_800_000_000 - 600
HOSTS = tuple(f"db-{n}.db.ns.svc.cluster.local" for n in range(5))


def server(ordinal: int, *, writable: bool = False, gtid: str = "0-100-10", heartbeat: int | None = None,
           writer: int | None = None, source: int | None = None) -> ServerState:
    """A server's state; heartbeat is seconds before NOW, written by pod `writer`."""
    return ServerState(ordinal=ordinal, read_only=not writable,
                       heartbeat_micros=None if heartbeat is None else NOW - heartbeat * 1_000_000,
                       heartbeat_writer=writer, gtid=parse_gtid(Flavor.MARIADB, gtid),
                       source_host=None if source is None else HOSTS[source])


def view(me: ServerState, *peers: ServerState | int, designated: int = 0, replica_configured: bool = True,
         role_given: bool = False, started_at: int = STARTED, grace: int = 0, unreachable: tuple[int, ...] = (),
         majority_heard: bool = False, fenced: bool = False) -> ClusterView:
    """The view of pod `me`; a peer given as a bare ordinal did not answer with a state (its
    agent refused, or, when in `unreachable`, did not answer at all); `grace`: the failover grace
    period in seconds (0: no automatic failover); `majority_heard` and `fenced`: what the
    agent remembers for the primary's fence."""
    return ClusterView(
        me=LocalState(server=me, started_at=started_at, replica_configured=replica_configured),
        peers={p: None for p in peers if isinstance(p, int)}
        | {p.ordinal: p for p in peers if isinstance(p, ServerState)},
        designated_primary=designated, now_micros=NOW, hosts=HOSTS,
        role_given_at=STARTED if role_given else None, failover_grace_micros=grace * 1_000_000,
        unreachable=frozenset(unreachable), majority_heard=majority_heard, fenced=fenced)


# The role at start.

def test_at_start_a_replica_follows_the_writable_peer() -> None:
    action = decide(view(server(1), server(0, writable=True, gtid="0-100-12"), server(2)))
    assert action == Follow(0, Situation.WRITABLE_PEER, action.why)


def test_at_start_the_writable_peer_is_followed_even_when_another_pod_is_designated() -> None:
    action = decide(view(server(1), server(0, writable=True), server(2), designated=2))
    assert isinstance(action, Follow) and action.source == 0


def test_at_start_a_server_holding_transactions_the_writable_peer_lacks_is_rebuilt_from_it() -> None:
    action = decide(view(server(1, gtid="0-100-10,0-101-3"), server(0, writable=True, gtid="0-100-20")))
    assert isinstance(action, Rebuild) and action.source == 0
    assert action.situation is Situation.DIVERGED_FROM_WRITABLE_PEER


def test_at_start_without_a_writable_peer_the_writer_of_the_newest_heartbeat_becomes_the_primary_again() -> None:
    action = decide(view(server(1, heartbeat=3, writer=1), server(0, heartbeat=5, writer=1), server(2), designated=0))
    assert isinstance(action, Promote) and action.situation is Situation.LAST_PRIMARY_IS_THIS_POD


def test_at_start_the_last_primary_by_heartbeat_wins_over_the_designated_one() -> None:
    # A move to pod 2 that failed never made it write a heartbeat: pod 0 is still the primary.
    action = decide(view(server(1, heartbeat=3, writer=0), server(0, heartbeat=3, writer=0), server(2), designated=2))
    assert action == Follow(0, Situation.LAST_PRIMARY_READ_ONLY, action.why)


def test_at_start_the_last_primary_does_not_become_primary_while_a_peer_holds_transactions_it_lacks() -> None:
    action = decide(view(server(0, gtid="0-100-10", heartbeat=3, writer=0), server(1, gtid="0-100-11")))
    assert isinstance(action, Stay) and action.situation is Situation.PEER_AHEAD_OF_WOULD_BE_PRIMARY
    assert "primaryOrdinal=1" in action.why


def test_in_a_new_cluster_the_designated_primary_becomes_the_primary() -> None:
    action = decide(view(server(1, gtid=""), server(0, gtid=""), designated=1))
    assert isinstance(action, Promote) and action.situation is Situation.NEW_CLUSTER_DESIGNATED_PRIMARY


def test_in_a_new_cluster_a_replica_follows_the_designated_primary() -> None:
    action = decide(view(server(1, gtid=""), server(0, gtid=""), designated=0))
    assert isinstance(action, Follow) and action.source == 0


def test_pod_0_of_a_new_cluster_that_never_was_a_replica_becomes_the_primary_alone() -> None:
    action = decide(view(server(0, gtid=""), 1, 2, designated=1, replica_configured=False))
    assert isinstance(action, Promote) and action.situation is Situation.NEW_CLUSTER_FIRST_POD


def test_pod_0_that_was_a_replica_does_not_become_the_primary_because_nobody_answers() -> None:
    action = decide(view(server(0, heartbeat=60, writer=1, source=1), 1, designated=1))
    assert not isinstance(action, Promote)


def test_at_start_a_last_primary_that_does_not_answer_is_followed_and_waited_for() -> None:
    action = decide(view(server(2, heartbeat=60, writer=1, source=1), server(0, heartbeat=60, writer=1), 1,
                         designated=1))
    assert isinstance(action, Follow) and action.source == 1
    assert action.situation is Situation.LAST_PRIMARY_NOT_RUNNING


def test_pod_0_whose_last_primary_is_a_later_pod_not_running_stays_its_replica_and_says_how_to_go_on() -> None:
    # After a switchover to pod 2, the whole cluster restarted: OrderedReady starts pod 0 alone.
    action = decide(view(server(0, heartbeat=3600, writer=2, source=2), 1, 2, designated=2))
    assert isinstance(action, Follow) and action.source == 2
    assert action.situation is Situation.ORDERED_START_DEADLOCK
    assert "pulumi config set primaryOrdinal 0" in action.why and "OrderedReady" in action.why


def test_a_server_that_restarted_takes_its_role_again() -> None:
    me = server(1, source=0)  # its replication configuration survives; the threads do not run
    watching = view(me, server(0, writable=True, gtid="0-100-12"), role_given=True)
    assert decide(watching) == Stay(Situation.STEADY_REPLICA)
    restarted = view(me, server(0, writable=True, gtid="0-100-12"), role_given=True, started_at=STARTED + 30)
    assert isinstance(decide(restarted), Follow)


def test_a_start_time_within_two_seconds_is_the_same_server() -> None:
    same = view(server(1, source=0), server(0, writable=True), role_given=True, started_at=STARTED + 2)
    assert decide(same) == Stay(Situation.STEADY_REPLICA)


# The role watch.

def test_the_writable_primary_stays_the_primary() -> None:
    assert decide(view(server(0, writable=True), server(1), role_given=True)) == Stay(Situation.STEADY_PRIMARY)


def test_a_writable_server_steps_down_for_another_writable_pod_designated_as_the_primary() -> None:
    action = decide(view(server(0, writable=True), server(1, writable=True, gtid="0-100-12"), designated=1,
                         role_given=True))
    assert action == Follow(1, Situation.STEP_DOWN, action.why)


def test_a_writable_server_stepping_down_with_transactions_the_new_primary_lacks_is_rebuilt() -> None:
    # The old primary of a failover, still running, wrote on after the replica was promoted.
    action = decide(view(server(0, writable=True, gtid="0-100-15"), server(1, writable=True, gtid="0-100-12,0-101-2"),
                         designated=1, role_given=True))
    assert isinstance(action, Rebuild) and action.source == 1


def test_two_writable_servers_neither_designated_is_a_split_nobody_acts_on() -> None:
    action = decide(view(server(0, writable=True), server(1, writable=True), designated=0, role_given=True))
    assert isinstance(action, Stay) and action.situation is Situation.TWO_PRIMARIES
    assert "read_only" in action.why


def test_two_writable_peers_are_a_split_nobody_acts_on() -> None:
    action = decide(view(server(2), server(0, writable=True), server(1, writable=True), role_given=True))
    assert isinstance(action, Stay) and action.situation is Situation.SPLIT_PEERS


def test_two_writable_peers_at_start_are_a_split_nobody_acts_on() -> None:
    action = decide(view(server(2), server(0, writable=True), server(1, writable=True)))
    assert isinstance(action, Stay) and action.situation is Situation.SPLIT_PEERS


def test_a_replica_not_following_the_writable_pod_follows_it() -> None:
    action = decide(view(server(2, source=0), server(0), server(1, writable=True, gtid="0-100-12"), designated=1,
                         role_given=True))
    assert action == Follow(1, Situation.FOLLOW_NEW_PRIMARY, action.why)


def test_a_replica_following_the_writable_pod_changes_nothing() -> None:
    assert decide(view(server(1, source=0), server(0, writable=True), role_given=True)) == Stay(Situation.STEADY_REPLICA)


def test_a_replica_that_diverged_from_the_new_primary_is_rebuilt() -> None:
    action = decide(view(server(2, source=0, gtid="0-100-20"), server(1, writable=True, gtid="0-100-12,0-101-1"),
                         role_given=True))
    assert isinstance(action, Rebuild)


def test_a_replica_whose_last_primary_answers_read_only_waits() -> None:
    action = decide(view(server(1, source=0, heartbeat=10, writer=0), server(0, heartbeat=10, writer=0), role_given=True))
    assert isinstance(action, Stay) and action.situation is Situation.LAST_PRIMARY_READ_ONLY


def test_a_replica_whose_last_primary_is_not_running_waits_and_says_how_long() -> None:
    # Without automatic failover (the default) it waits for someone to move the primary.
    action = decide(view(server(1, source=0, heartbeat=42, writer=0), 0, server(2, heartbeat=42, writer=0),
                         role_given=True))
    assert isinstance(action, Stay) and action.situation is Situation.LAST_PRIMARY_NOT_RUNNING
    assert "42s" in action.why


def test_pod_0_alone_watching_for_a_later_last_primary_keeps_saying_how_to_go_on() -> None:
    action = decide(view(server(0, source=2, heartbeat=3600, writer=2), 1, 2, designated=2, role_given=True))
    assert isinstance(action, Stay) and action.situation is Situation.ORDERED_START_DEADLOCK


def test_mysql_gtid_sets_decide_the_same_way() -> None:
    uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
    me = ServerState(1, True, None, None, parse_gtid(Flavor.MYSQL, f"{uuid}:1-10"))
    primary = ServerState(0, False, None, None, parse_gtid(Flavor.MYSQL, f"{uuid}:1-12"))
    assert isinstance(decide(view(me, primary)), Follow)
    ahead = ServerState(1, True, None, None, parse_gtid(Flavor.MYSQL, f"{uuid}:1-13"))
    assert isinstance(decide(view(ahead, primary)), Rebuild)


# The role watch with automatic failover (failover.py): pod 0, the last primary, is down.

def lost(me: int, *peers: ServerState | int, grace: int = 30) -> ClusterView:
    """Pod `me`'s view in the role watch, with failover after `grace` seconds; `me`'s own
    state is the one of the states given with that ordinal."""
    mine = next(p for p in peers if isinstance(p, ServerState) and p.ordinal == me)
    return view(mine, *(p for p in peers if p is not mine), role_given=True, grace=grace)


def replica(ordinal: int, gtid: str = "0-100-10", silent: int = 40) -> ServerState:
    """A replica of pod 0 whose last heartbeat is `silent` seconds old."""
    return server(ordinal, source=0, gtid=gtid, heartbeat=silent, writer=0)


def test_within_the_grace_period_no_pod_fails_over() -> None:
    action = decide(lost(1, replica(1, silent=20), 0, replica(2, silent=20)))
    assert isinstance(action, Stay) and action.situation is Situation.LAST_PRIMARY_NOT_RUNNING
    assert "automatic failover once no pod that answers has had its heartbeat for 30s" in action.why


def test_past_the_grace_period_with_a_majority_the_most_advanced_replica_fails_over() -> None:
    action = decide(lost(2, replica(1, "0-100-10"), 0, replica(2, "0-100-11")))
    assert action == FailOver(Situation.FAILOVER_TO_THIS_POD, action.why)
    assert action.why.startswith("FAILOVER: pod 0, the last primary, has been silent for 40s (grace 30s) and pods 1, "
                                 "2 of 3 agree")


def test_a_replica_behind_a_peer_never_fails_over_and_names_the_peer_that_will() -> None:
    action = decide(lost(1, replica(1, "0-100-10"), 0, replica(2, "0-100-11")))
    assert isinstance(action, Stay) and action.situation is Situation.FAILOVER_TO_PEER
    assert "pod 2 holds every transaction" in action.why


def test_between_equally_advanced_replicas_the_lowest_ordinal_fails_over() -> None:
    one, two = replica(1, "0-100-10"), replica(2, "0-100-10")
    assert isinstance(decide(lost(1, one, 0, two)), FailOver)
    follows = decide(lost(2, one, 0, two))
    assert isinstance(follows, Stay) and follows.situation is Situation.FAILOVER_TO_PEER and "pod 1 " in follows.why


def test_a_peer_that_still_has_the_primarys_heartbeat_holds_the_failover_back() -> None:
    # Pod 2 still hears from pod 0: pod 0 is cut off from pod 1 only, not lost.
    action = decide(lost(1, replica(1, silent=40), 0, replica(2, silent=2)))
    assert isinstance(action, Stay) and action.situation is Situation.LAST_PRIMARY_NOT_RUNNING


def test_without_a_majority_answering_no_pod_fails_over_and_says_what_to_do() -> None:
    action = decide(lost(1, replica(1), 0, 2))
    assert isinstance(action, Stay) and action.situation is Situation.FAILOVER_NO_QUORUM
    assert "only pods 1 of 3 answer and a failover needs 2 to agree" in action.why
    assert "primaryOrdinal" in action.why


def test_in_five_pods_two_that_answer_are_no_majority() -> None:
    action = decide(lost(1, replica(1), 0, replica(2), 3, 4))
    assert isinstance(action, Stay) and action.situation is Situation.FAILOVER_NO_QUORUM
    assert "needs 3" in action.why


def test_in_five_pods_three_that_answer_fail_over() -> None:
    assert isinstance(decide(lost(1, replica(1, "0-100-12"), 0, replica(2), 3, replica(4))), FailOver)


def test_replicas_that_each_hold_transactions_the_other_lacks_do_not_fail_over() -> None:
    action = decide(lost(1, replica(1, "0-100-12"), 0, replica(2, "0-100-11,0-102-1")))
    assert isinstance(action, Stay) and action.situation is Situation.FAILOVER_DIVERGED
    assert "pods 1 and 2 each hold transactions the others lack" in action.why


def test_a_last_primary_that_answers_read_only_is_never_failed_over_from() -> None:
    action = decide(lost(1, replica(1), server(0, gtid="0-100-10", heartbeat=40, writer=0), replica(2)))
    assert isinstance(action, Stay) and action.situation is Situation.LAST_PRIMARY_READ_ONLY


def test_once_the_new_primary_is_writable_the_other_replicas_follow_it() -> None:
    action = decide(lost(2, replica(1, "0-100-10"), 0, replica(2, "0-100-10")))
    assert isinstance(action, Stay)
    after = decide(lost(2, server(1, writable=True, gtid="0-100-10,0-101-5", heartbeat=0, writer=1), 0,
                        replica(2, "0-100-10")))
    assert after == Follow(1, Situation.FOLLOW_NEW_PRIMARY, after.why)


def test_the_old_primary_returning_after_a_failover_follows_the_new_one() -> None:
    back = view(server(0, gtid="0-100-10", heartbeat=60, writer=0), server(1, writable=True, gtid="0-100-10,0-101-5"),
                server(2, gtid="0-100-10,0-101-5"), grace=30)
    assert decide(back) == Follow(1, Situation.WRITABLE_PEER, decide(back).why)


def test_the_old_primary_returning_with_writes_it_sent_to_nobody_is_rebuilt() -> None:
    back = view(server(0, gtid="0-100-12", heartbeat=60, writer=0), server(1, writable=True, gtid="0-100-10,0-101-5"),
                server(2, gtid="0-100-10,0-101-5"), grace=30)
    action = decide(back)
    assert isinstance(action, Rebuild) and action.source == 1


def test_mysql_gtid_sets_choose_the_failover_candidate_the_same_way() -> None:
    uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"

    def mysql_replica(ordinal: int, last: int) -> ServerState:
        return ServerState(ordinal, True, NOW - 40_000_000, 0, parse_gtid(Flavor.MYSQL, f"{uuid}:1-{last}"), HOSTS[0])

    assert isinstance(decide(lost(2, mysql_replica(1, 10), 0, mysql_replica(2, 12))), FailOver)
    assert decide(lost(1, mysql_replica(1, 10), 0, mysql_replica(2, 12))).situation is Situation.FAILOVER_TO_PEER


def test_with_automatic_failover_neither_of_two_writable_pods_steps_down_for_the_topology() -> None:
    # The topology still names pod 0, failed over from: it says nothing about which should stay.
    old = server(0, writable=True, gtid="0-100-14", heartbeat=0, writer=0)
    new = server(1, writable=True, gtid="0-100-10,0-101-5", heartbeat=0, writer=1)
    follower = server(2, gtid="0-100-10,0-101-5", heartbeat=0, writer=1, source=1)
    for me, peer in ((old, new), (new, old)):
        action = decide(view(me, peer, follower, role_given=True, grace=30))
        assert isinstance(action, Stay) and action.situation is Situation.TWO_PRIMARIES


# The primary's fence with automatic failover: pod 0 is the writable primary, or was and fenced
# itself; pods given as bare ordinals answer no state, those in `cut` no answer at all.

def primary_view(*peers: ServerState | int, cut: tuple[int, ...] = (), grace: int = 30, fenced: bool = False,
                 majority_heard: bool = True, role_given: bool = True, heartbeat: int = 0) -> ClusterView:
    me = server(0, writable=not fenced, gtid="0-100-12", heartbeat=heartbeat, writer=0)
    return view(me, *peers, role_given=role_given, grace=grace, unreachable=cut, majority_heard=majority_heard,
                fenced=fenced)


def follower(ordinal: int, gtid: str = "0-100-12", heartbeat: int = 1, writer: int = 0) -> ServerState:
    return server(ordinal, gtid=gtid, heartbeat=heartbeat, writer=writer, source=writer)


def test_a_primary_that_reaches_no_majority_fences_itself_and_says_what_happens_next() -> None:
    action = decide(primary_view(1, 2, cut=(1, 2)))
    assert action == Fence(Situation.FENCED, action.why)
    assert action.why.startswith("FENCED: this pod reaches 1 of 3 pods (a majority is 2); pods 1, 2 do not answer "
                                 "at all")
    assert "before the pods it cannot reach may fail over (30s after its last heartbeat reached them)" in action.why
    assert "takes writes again if no other pod became writable meanwhile" in action.why


def test_a_primary_whose_two_peers_refuse_while_they_clone_does_not_fence() -> None:
    # Their agents answer 503: the pods are up and on this side of the network.
    assert decide(primary_view(1, 2)) == Stay(Situation.STEADY_PRIMARY)


def test_without_automatic_failover_a_cut_off_primary_never_fences() -> None:
    assert decide(primary_view(1, 2, cut=(1, 2), grace=0)) == Stay(Situation.STEADY_PRIMARY)


def test_a_primary_with_one_peer_down_out_of_three_does_not_fence() -> None:
    assert decide(primary_view(follower(1), 2, cut=(2,))) == Stay(Situation.STEADY_PRIMARY)


def test_in_five_pods_a_primary_reaching_two_fences() -> None:
    assert isinstance(decide(primary_view(follower(1), 2, 3, 4, cut=(2, 3, 4))), Fence)


def test_a_new_clusters_first_pod_that_never_reached_a_majority_does_not_fence() -> None:
    # Pod 0 starts alone (podManagementPolicy OrderedReady): its peers do not exist yet.
    assert decide(primary_view(1, 2, cut=(1, 2), majority_heard=False)) == Stay(Situation.STEADY_PRIMARY)


def test_a_fenced_primary_stays_read_only_while_it_reaches_no_majority() -> None:
    action = decide(primary_view(1, 2, cut=(1, 2), fenced=True))
    assert isinstance(action, Stay) and action.situation is Situation.FENCED_CUT_OFF
    assert "stays read-only until a majority answers" in action.why


def test_a_fenced_primary_takes_writes_again_when_the_majority_returns_and_nobody_failed_over() -> None:
    action = decide(primary_view(follower(1), follower(2), fenced=True))
    assert action == Promote(Situation.UNFENCED, action.why)
    assert "a majority answers again (3 of 3 pods)" in action.why


def test_a_fenced_primary_takes_writes_again_with_one_peer_back_of_two() -> None:
    assert isinstance(decide(primary_view(follower(1), 2, cut=(2,), fenced=True)), Promote)


def test_a_fenced_primary_follows_a_peer_that_became_writable_meanwhile() -> None:
    new = server(1, writable=True, gtid="0-100-12,0-101-3", heartbeat=0, writer=1)
    action = decide(primary_view(new, follower(2, "0-100-12,0-101-3", writer=1), fenced=True))
    assert action == Follow(1, Situation.FOLLOW_NEW_PRIMARY, action.why)


def test_a_fenced_primary_holding_writes_the_new_primary_lacks_is_rebuilt_from_it() -> None:
    new = server(1, writable=True, gtid="0-100-11,0-101-3", heartbeat=0, writer=1)
    action = decide(primary_view(new, follower(2, "0-100-11,0-101-3", writer=1), fenced=True))
    assert isinstance(action, Rebuild) and action.source == 1


def test_a_fenced_primary_does_not_take_writes_when_a_peer_wrote_a_newer_heartbeat() -> None:
    # Pod 1 failed over and is read-only for a moment (a restart): it is the last primary now.
    new = server(1, gtid="0-100-12,0-101-3", heartbeat=0, writer=1)
    action = decide(primary_view(new, follower(2, "0-100-12,0-101-3", writer=1), fenced=True, heartbeat=20))
    assert isinstance(action, Stay) and action.situation is Situation.LAST_PRIMARY_READ_ONLY


def test_a_read_only_last_primary_that_did_not_fence_does_not_take_writes_by_itself() -> None:
    # Between a switchover's steps the old primary is read-only with the newest heartbeat.
    demoted = server(0, gtid="0-100-12", heartbeat=0, writer=0)
    action = decide(view(demoted, follower(1), follower(2), role_given=True, grace=30, majority_heard=True))
    assert isinstance(action, Stay) and action.situation is Situation.NO_WRITABLE_POD


def test_a_primary_restarted_while_cut_off_does_not_take_writes_at_start() -> None:
    action = decide(primary_view(1, 2, cut=(1, 2), fenced=True, role_given=False))
    assert isinstance(action, Stay) and action.situation is Situation.FENCED_CUT_OFF
