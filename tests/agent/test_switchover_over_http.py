"""The switchover Job and three pods' agents talking over their real port (HTTP with signed
requests, as in a cluster without TLS), each agent's server a fake of the Sql seam: which
statements each pod's own agent ran, in which order, for a switchover from pod 0 to pod 1."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from mysql_cluster_agent.api import AgentServer
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.role_api import RoleActions, RoleRequests
from mysql_cluster_agent.role_auth import RequestVerifier
from mysql_cluster_agent.role_client import AgentClient
from mysql_cluster_agent.switchover import Move, move_primary

from .certificates import pod_host
from .test_role_api import KEY, POSITION_QUERY, REPLICATION, Session

WAIT = "SELECT MASTER_GTID_WAIT(%s, %s)"


def _state(read_only: bool, gtid: str) -> dict[str, object]:
    return {"read_only": read_only, "heartbeat_micros": 100, "heartbeat_writer_offset": 0, "gtid_state": gtid}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def pod_agent(ordinal: int, port: int, sql: Session, state: dict[str, object], log: list[str]) -> Iterator[None]:
    actions = RoleActions(dialect=dialect_for(Flavor.MARIADB), ordinal=ordinal, connect=lambda _: sql,
                          replication=REPLICATION, host_of=pod_host, log=log.append, lock=threading.Lock())
    server = AgentServer((f"127.0.0.{ordinal + 1}", port), lambda: state, None, pod_host(ordinal),
                         RoleRequests(actions, RequestVerifier(lambda: KEY, pod_host(ordinal)), log.append))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_a_switchover_runs_each_step_on_the_pod_it_concerns_through_that_pods_own_agent():
    port = _free_port()
    servers = {0: Session({POSITION_QUERY: [("0-1-9", "0-1-9")]}),
               1: Session({WAIT: [(0,)], POSITION_QUERY: [("0-1-9", "0-1-9")]}),
               2: Session()}
    states = {0: _state(False, "0-1-9"), 1: _state(True, "0-1-9"), 2: _state(True, "0-1-8")}
    agent_logs: list[str] = []
    job_log: list[str] = []
    with ExitStack() as stack:
        for ordinal, sql in servers.items():
            stack.enter_context(pod_agent(ordinal, port, sql, states[ordinal], agent_logs))
        client = AgentClient(Flavor.MARIADB, 3, pod_host, port, None, lambda: KEY,
                             address_of=lambda n: f"127.0.0.{n + 1}")
        move_primary(client, Move(target=1, failover_wait_seconds=30, catch_up_seconds=60), job_log.append)
    follow = ["SET GLOBAL read_only = 1", "STOP SLAVE", "RESET SLAVE ALL",
              "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos", "CHANGE MASTER TO", "START SLAVE"]
    assert [s.split(" MASTER_HOST")[0] for s in servers[0].statements] == [
        "SET SESSION lock_wait_timeout = %s", "SET GLOBAL read_only = 1", POSITION_QUERY, *follow]
    assert servers[1].statements == [WAIT, "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0",
                                     POSITION_QUERY]
    assert [s.split(" MASTER_HOST")[0] for s in servers[2].statements] == follow
    assert job_log[-1] == "done: pod 1 is the primary"
    assert not any("refused" in line for line in agent_logs)
