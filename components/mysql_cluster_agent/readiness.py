"""The readiness verdict of a pod: whether it belongs in the Services' endpoints (the read Service
takes every ready pod), judged from typed state in pure functions.

A pod is ready once its agent has given its server its role (so the next pod clones only from a
donor that has one) and, on MariaDB, its backup container listens for those clones. The
writable server (the primary) is then ready when it answers. A replica is ready while both
replication threads run and the heartbeat it has applied (heartbeat.py) is at most
max_lag_seconds old. Past that, its peers are asked (judge_with_peers): one with a newer
heartbeat, or a primary that answers, means this replica is cut off or behind, and it leaves; a
primary that answers nobody with no peer ahead is a primary outage, and the replica keeps serving
reads until its last heartbeat is primary_down_read_seconds old. With no peer answering at all it
cannot tell the two apart, and leaves: stale reads are the worse failure.
"""
from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from .replica_status import ReplicaStatus
from .state import ServerState

MICROS = 1_000_000
# Replicas of a primary that stopped may differ by its last beat (one second): a peer is ahead
# only past that.
BEAT_SLACK_MICROS = MICROS
# What MariaDB reports of a primary's certificate that fails verification, and no more (seen on
# 10.11): "SSL connection error: error:00000000:lib(0)::reason(0)".
_TLS_FAILURE = "SSL connection error"


class Cause(enum.Enum):
    """What a verdict rests on: a change of cause is what the agent logs."""

    PRIMARY = "primary"
    REPLICATING = "replicating"
    PRIMARY_DOWN_READS = "primary down, serving reads"
    NO_ROLE = "no role yet"
    NO_BACKUP_LISTENER = "backup not listening"
    SERVER_SILENT = "server silent"
    NOT_REPLICATING = "no replication channel"
    TLS_FAILURE = "TLS to the primary failed"
    IO_STOPPED = "I/O thread stopped"
    SQL_STOPPED = "SQL thread stopped"
    NO_HEARTBEAT = "no heartbeat yet"
    PRIMARY_ANSWERS = "behind an answering primary"
    PEER_AHEAD = "behind a peer"
    NO_PEER_ANSWERS = "behind, no peer answers"
    PRIMARY_DOWN_TOO_LONG = "primary down too long"
    CHECK_FAILED = "the check itself failed"


@dataclass(frozen=True)
class Ready:
    cause: Cause
    message: str
    ready: ClassVar[bool] = True


@dataclass(frozen=True)
class NotReady:
    cause: Cause
    message: str
    ready: ClassVar[bool] = False


Verdict = Ready | NotReady


@dataclass(frozen=True)
class PeersNeeded:
    """The replica is past the lag limit: only its peers can tell why (judge_with_peers)."""

    lag_seconds: int


@dataclass(frozen=True)
class Limits:
    max_lag_seconds: int
    primary_down_read_seconds: int


@dataclass(frozen=True)
class OwnServer:
    """This pod's server: heartbeat_micros is the heartbeat it applied (None before the first);
    replica its replication channel (None: it has none)."""

    read_only: bool
    heartbeat_micros: int | None
    replica: ReplicaStatus | None


@dataclass(frozen=True)
class BackupListener:
    """MariaDB's backup container, which serves clones on `port` once the server has its role."""

    port: int
    listening: bool


@dataclass(frozen=True)
class LocalView:
    """What this pod knows without asking its peers.

    server: None when it did not answer, `server_problem` saying why; backup_listener: None where
    the flavor serves no backup stream (MySQL clones with its plugin over the server's port);
    primary_host and ca_file: named when TLS to the primary fails."""

    role_taken: bool
    backup_listener: BackupListener | None
    server: OwnServer | None
    now_micros: int
    primary_host: str
    ca_file: str | None
    server_problem: str = ""


def judge(view: LocalView, limits: Limits) -> Verdict | PeersNeeded:
    """The verdict, or PeersNeeded when it rests on the peers."""
    server = view.server
    if server is None:
        return NotReady(Cause.SERVER_SILENT, f"the server does not answer queries ({view.server_problem}); "
                                             "the mysql container's log says why")
    if not view.role_taken:
        return NotReady(Cause.NO_ROLE, "the agent has not given the server its role yet; "
                                       "the agent container's log says what it is waiting for")
    listener = view.backup_listener
    if listener is not None and not listener.listening:
        return NotReady(Cause.NO_BACKUP_LISTENER,
                        f"the backup container does not listen on port {listener.port} yet, so new pods "
                        "cannot clone from this one; its log says why")
    if not server.read_only:
        return Ready(Cause.PRIMARY, "the writable server (the primary) answers")
    status = server.replica
    if status is None:
        return NotReady(Cause.NOT_REPLICATING, "replication is not configured yet; the agent sets it up "
                                               "(its log says what it is waiting for)")
    io, error = status.io_running, status.last_io_error
    # A primary whose certificate does not verify is no outage: say so at once.
    if io != "Yes" and _TLS_FAILURE in error:
        return NotReady(Cause.TLS_FAILURE,
                        f"the replication I/O thread cannot connect ({io}): {error}; TLS to the primary "
                        f"failed: its certificate must be signed by the CA in {view.ca_file or 'the TLS Secret'} "
                        f"and name {view.primary_host} (this pod's and the primary's certificates come "
                        "from one Secret)")
    # "Connecting" is what a replica of a primary that is down shows: judged by the heartbeat.
    if io == "No":
        return NotReady(Cause.IO_STOPPED, f"the replication I/O thread is not running ({io})"
                                          f"{': ' + error if error else ''}; start replication again once "
                                          "the cause is fixed")
    if status.sql_running != "Yes":
        sql_error = status.last_sql_error
        return NotReady(Cause.SQL_STOPPED, f"the replication SQL thread is not running ({status.sql_running})"
                                           f"{': ' + sql_error if sql_error else ''}; start replication "
                                           "again once the cause is fixed")
    if not server.heartbeat_micros:
        return NotReady(Cause.NO_HEARTBEAT, "no heartbeat from the primary has reached this replica yet")
    lag = (view.now_micros - server.heartbeat_micros) // MICROS
    if lag <= limits.max_lag_seconds:
        return Ready(Cause.REPLICATING, f"replicating, {max(lag, 0)}s behind the primary "
                                        f"(limit {limits.max_lag_seconds}s)")
    return PeersNeeded(lag)


def judge_with_peers(view: LocalView, lag_seconds: int, peers: Sequence[ServerState],
                     limits: Limits) -> Verdict:
    """The verdict of a replica `lag_seconds` behind, past the limit, from the states of the
    peers that answered (in the order they were asked)."""
    assert view.server is not None and view.server.heartbeat_micros is not None
    behind = f"the replica is {lag_seconds}s behind the primary (limit {limits.max_lag_seconds}s)"
    ahead = view.server.heartbeat_micros + BEAT_SLACK_MICROS
    for peer in peers:
        if not peer.read_only:
            return NotReady(Cause.PRIMARY_ANSWERS, f"{behind}, which answers (pod {peer.ordinal}); "
                                                   "replication is stalled or this pod cannot reach it")
        if peer.heartbeat_micros is not None and peer.heartbeat_micros > ahead:
            newer = (peer.heartbeat_micros - view.server.heartbeat_micros) // MICROS
            return NotReady(Cause.PEER_AHEAD, f"{behind}: pod {peer.ordinal} has a heartbeat {newer}s newer, "
                                              "so this one is cut off or behind")
    if not peers:
        return NotReady(Cause.NO_PEER_ANSWERS, f"{behind} and no peer answers, so it cannot tell a primary "
                                               "outage from being cut off; check this pod's network")
    if lag_seconds > limits.primary_down_read_seconds:
        return NotReady(Cause.PRIMARY_DOWN_TOO_LONG,
                        f"the primary has been down for {lag_seconds}s, longer than reads are served "
                        f"without it ({limits.primary_down_read_seconds}s)")
    return Ready(Cause.PRIMARY_DOWN_READS,
                 f"the primary is down (no peer has a newer heartbeat); serving reads {lag_seconds}s after "
                 f"its last heartbeat, up to {limits.primary_down_read_seconds}s")
