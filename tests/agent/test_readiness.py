"""The readiness verdict (readiness.py), table-tested: every reason a pod is or is not ready, in
the words its probe and its log show."""
from __future__ import annotations

from dataclasses import replace

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.readiness import (
    BackupListener,
    Cause,
    Limits,
    LocalView,
    NotReady,
    OwnServer,
    PeersNeeded,
    Ready,
    judge,
    judge_with_peers,
)
from mysql_cluster_agent.replica_status import ReplicaStatus
from mysql_cluster_agent.state import ServerState

S = 1_000_000
NOW = 1_800_000_000 * S
LIMITS = Limits(max_lag_seconds=30, primary_down_read_seconds=300)
PRIMARY_HOST = "mysql-0.mysql.shop.svc.cluster.local"
RUNNING = ReplicaStatus("Yes", "Yes")


def replica(lag_seconds: float | None = 0, status: ReplicaStatus | None = RUNNING) -> LocalView:
    heartbeat = None if lag_seconds is None else NOW - int(lag_seconds * S)
    return LocalView(role_taken=True, backup_listener=None,
                     server=OwnServer(read_only=True, heartbeat_micros=heartbeat, replica=status),
                     now_micros=NOW, primary_host=PRIMARY_HOST, ca_file="/etc/mysql-cluster/tls/ca.crt")


PRIMARY = replace(replica(), server=OwnServer(read_only=False, heartbeat_micros=NOW, replica=None))


def peer(ordinal: int, read_only: bool = True, behind_seconds: float | None = 40) -> ServerState:
    """A peer whose heartbeat is `behind_seconds` old by this pod's clock."""
    return ServerState(ordinal=ordinal, read_only=read_only,
                       heartbeat_micros=None if behind_seconds is None else NOW - int(behind_seconds * S),
                       heartbeat_writer=0, gtid=parse_gtid(Flavor.MYSQL, ""))


# view -> (cause, words the verdict says)
LOCAL_VERDICTS = {
    "a writable server that answers is the primary, ready": (
        PRIMARY, Cause.PRIMARY, "the writable server (the primary) answers"),
    "a replica with both threads running and a recent heartbeat is ready": (
        replica(3), Cause.REPLICATING, "replicating, 3s behind the primary (limit 30s)"),
    "a replica exactly at the lag limit is ready": (
        replica(30.9), Cause.REPLICATING, "30s behind the primary (limit 30s)"),
    "a server that does not answer is not ready": (
        replace(PRIMARY, server=None, server_problem="2002: cannot reach the server"), Cause.SERVER_SILENT,
        "the server does not answer queries (2002: cannot reach the server); the mysql container's log says why"),
    "a server not yet given its role is not ready": (
        replace(PRIMARY, role_taken=False), Cause.NO_ROLE,
        "the agent has not given the server its role yet"),
    "a MariaDB pod whose backup container does not listen yet is not ready": (
        replace(PRIMARY, backup_listener=BackupListener(3307, False)), Cause.NO_BACKUP_LISTENER,
        "the backup container does not listen on port 3307 yet, so new pods cannot clone from this one"),
    "a MariaDB pod whose backup container listens is ready": (
        replace(PRIMARY, backup_listener=BackupListener(3307, True)), Cause.PRIMARY, "the primary"),
    "a read-only server without a replication channel is not ready": (
        replica(status=None), Cause.NOT_REPLICATING, "replication is not configured yet"),
    "a stopped I/O thread is not ready, with its error": (
        replica(None, ReplicaStatus("No", "Yes", "error reading packet")), Cause.IO_STOPPED,
        "the replication I/O thread is not running (No): error reading packet"),
    "a stopped SQL thread is not ready, with its error": (
        replica(1, ReplicaStatus("Yes", "No", last_sql_error="Duplicate entry '1' for key 'PRIMARY'")),
        Cause.SQL_STOPPED,
        "the replication SQL thread is not running (No): Duplicate entry '1' for key 'PRIMARY'"),
    "a replica with no heartbeat yet is not ready": (
        replica(None), Cause.NO_HEARTBEAT, "no heartbeat from the primary has reached this replica yet"),
    "a primary certificate that does not verify is named at once, whatever the lag": (
        replica(0, ReplicaStatus("Connecting", "Yes", "SSL connection error: error:00000000:lib(0)::reason(0)")),
        Cause.TLS_FAILURE,
        "the replication I/O thread cannot connect (Connecting): SSL connection error: error:00000000:lib(0)"
        "::reason(0); TLS to the primary failed: its certificate must be signed by the CA in "
        f"/etc/mysql-cluster/tls/ca.crt and name {PRIMARY_HOST}"),
}


@pytest.mark.parametrize("case", LOCAL_VERDICTS)
def test_a_verdict_from_the_pods_own_state(case: str) -> None:
    view, cause, words = LOCAL_VERDICTS[case]
    verdict = judge(view, LIMITS)
    assert not isinstance(verdict, PeersNeeded)
    assert verdict.cause is cause
    assert verdict.ready is (cause in (Cause.PRIMARY, Cause.REPLICATING))
    assert words in verdict.message


def test_a_reconnecting_io_thread_is_judged_by_the_heartbeat_not_its_state() -> None:
    reconnecting = ReplicaStatus("Connecting", "Yes", "error connecting to source 'replicator@mysql-0:3306'")
    assert isinstance(judge(replica(2, reconnecting), LIMITS), Ready)
    assert judge(replica(40, reconnecting), LIMITS) == PeersNeeded(40)


def test_the_lag_limit_is_the_stacks() -> None:
    assert judge(replica(6), Limits(5, 300)) == PeersNeeded(6)
    assert isinstance(judge(replica(5), Limits(5, 300)), Ready)


def test_a_replica_past_the_lag_limit_asks_its_peers() -> None:
    assert judge(replica(31), LIMITS) == PeersNeeded(31)


# peers that answered (in the order asked) -> (cause, words), for a replica 40 s behind
PEER_VERDICTS = {
    "an answering primary means this replica is behind": (
        [peer(0, read_only=False)], Cause.PRIMARY_ANSWERS,
        "the replica is 40s behind the primary (limit 30s), which answers (pod 0)"),
    "a peer with a newer heartbeat means this one is cut off or behind": (
        [peer(2, behind_seconds=1)], Cause.PEER_AHEAD,
        "the replica is 40s behind the primary (limit 30s): pod 2 has a heartbeat 39s newer, "
        "so this one is cut off or behind"),
    "no peer answering cannot tell an outage from a cut": (
        [], Cause.NO_PEER_ANSWERS,
        "the replica is 40s behind the primary (limit 30s) and no peer answers, so it cannot tell a "
        "primary outage from being cut off"),
    "peers no further than one beat ahead mean the primary is down, reads go on": (
        [peer(2, behind_seconds=39.5), peer(3, behind_seconds=None)], Cause.PRIMARY_DOWN_READS,
        "the primary is down (no peer has a newer heartbeat); serving reads 40s after its last heartbeat, "
        "up to 300s"),
}


@pytest.mark.parametrize("case", PEER_VERDICTS)
def test_a_verdict_past_the_lag_limit_from_the_peers(case: str) -> None:
    peers, cause, words = PEER_VERDICTS[case]
    verdict = judge_with_peers(replica(40), 40, peers, LIMITS)
    assert verdict.cause is cause
    assert verdict.ready is (cause is Cause.PRIMARY_DOWN_READS)
    assert words in verdict.message


def test_reads_through_a_primary_outage_end_at_primary_down_read_seconds() -> None:
    limits = Limits(max_lag_seconds=2, primary_down_read_seconds=30)
    assert judge_with_peers(replica(30), 30, [peer(2, behind_seconds=30)], limits).ready
    over = judge_with_peers(replica(31), 31, [peer(2, behind_seconds=31)], limits)
    assert isinstance(over, NotReady) and over.cause is Cause.PRIMARY_DOWN_TOO_LONG
    assert over.message == ("the primary has been down for 31s, longer than reads are served without it (30s)")


def test_the_first_peer_asked_that_tells_decides() -> None:
    verdict = judge_with_peers(replica(40), 40, [peer(2, behind_seconds=1), peer(0, read_only=False)], LIMITS)
    assert verdict.cause is Cause.PEER_AHEAD and "pod 2" in verdict.message
