"""The readiness probe the agent serves (readiness_probe.py): GET /ready answers 200 while the pod
is ready and 503 with the reason while it is not; the peers are asked only past the lag limit,
within the probe's bounds; a change of verdict is logged."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from mysql_cluster_agent.config import ConfigProblem, TlsFiles
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.peers import PeerAnswer
from mysql_cluster_agent.readiness import Cause, Limits, OwnServer
from mysql_cluster_agent.readiness_probe import (
    PEER_SECONDS,
    Readiness,
    ReadinessServer,
    ReadinessSettings,
    listens,
    readiness_settings,
)
from mysql_cluster_agent.replica_status import ReplicaStatus

from .conftest import agent_config

S = 1_000_000
NOW = 1_800_000_000.0
MYSQL = dialect_for(Flavor.MYSQL)
MARIADB = dialect_for(Flavor.MARIADB)
# /proc/net/tcp's form (the kernel's tcp4_seq_show): 3307 is 0CEB, 0A listening, 01 established.
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 1 1
   1: 0100007F:0CEB 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   999        0 2 1
"""
TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0CEB 00000000000000000000000000000000:0000 0A
"""


def replica_at(lag_seconds: float) -> OwnServer:
    return OwnServer(read_only=True, heartbeat_micros=int((NOW - lag_seconds) * S),
                     replica=ReplicaStatus("Connecting", "Yes"))


def primary_state() -> dict[str, object]:
    return {"read_only": False, "heartbeat_micros": int(NOW * S), "heartbeat_writer_offset": 0,
            "gtid_state": ""}


class Probe:
    """A Readiness over a server and peers the test sets, recording what it asks and logs."""

    def __init__(self, tmp_path: Path, server: OwnServer | Exception, peers: list[PeerAnswer] | None = None,
                 role_taken: bool = True, dialect=MYSQL, tables: Sequence[str] = (TCP,),
                 tls: TlsFiles | None = None) -> None:
        self.config = agent_config(tmp_path, pod="mysql-1", tls=tls)
        (self.config.topology_dir / "primary-ordinal").write_text("0\n")
        mark = tmp_path / "role-taken"
        if role_taken:
            mark.touch()
        self.settings = ReadinessSettings(port=0, limits=Limits(30, 300), role_taken_mark=mark,
                                          backup_port=None if dialect is MYSQL else 3307)
        self.server = server
        self.peers = peers or []
        self.asked: list[tuple[list[int], float]] = []
        self.logged: list[str] = []
        self.readiness = Readiness(self.config, self.settings, dialect, self._read, self._ask,
                                   self.logged.append, clock=lambda: NOW, socket_tables=lambda: list(tables))

    def _read(self) -> OwnServer:
        if isinstance(self.server, Exception):
            raise self.server
        return self.server

    def _ask(self, ordinals: Sequence[int], seconds: float) -> list[PeerAnswer]:
        self.asked.append((list(ordinals), seconds))
        return self.peers


def test_a_socket_listening_on_the_port_is_found_in_either_table() -> None:
    assert listens(3306, [TCP])
    assert not listens(3307, [TCP])  # only a connection from it
    assert listens(3307, [TCP, TCP6])
    assert not listens(3308, [TCP, TCP6])


def test_a_mariadb_pod_is_ready_only_once_its_backup_container_listens(tmp_path: Path) -> None:
    primary = OwnServer(read_only=False, heartbeat_micros=int(NOW * S), replica=None)
    assert Probe(tmp_path, primary, dialect=MARIADB, tables=[TCP]).readiness.verdict().cause is \
        Cause.NO_BACKUP_LISTENER
    assert Probe(tmp_path, primary, dialect=MARIADB, tables=[TCP, TCP6]).readiness.verdict().ready


def test_a_pod_is_not_ready_before_its_agent_gave_the_server_its_role(tmp_path: Path) -> None:
    primary = OwnServer(read_only=False, heartbeat_micros=int(NOW * S), replica=None)
    assert Probe(tmp_path, primary, role_taken=False).readiness.verdict().cause is Cause.NO_ROLE


def test_a_replica_within_the_lag_limit_asks_no_peer(tmp_path: Path) -> None:
    probe = Probe(tmp_path, replica_at(2))
    assert probe.readiness.verdict().ready
    assert probe.asked == []


def test_past_the_lag_limit_every_peer_is_asked_at_once_within_the_probes_bound(tmp_path: Path) -> None:
    probe = Probe(tmp_path, replica_at(40), [PeerAnswer(0, primary_state())])
    verdict = probe.readiness.verdict()
    assert verdict.cause is Cause.PRIMARY_ANSWERS
    [(ordinals, seconds)] = probe.asked
    assert ordinals == [0, 2] and 0 < seconds <= PEER_SECONDS


def test_peers_that_did_not_answer_or_sent_a_malformed_state_do_not_count(tmp_path: Path) -> None:
    probe = Probe(tmp_path, replica_at(40), [PeerAnswer(0, None, "timed out"),
                                             PeerAnswer(2, {"read_only": "no"})])
    verdict = probe.readiness.verdict()
    assert verdict.cause is Cause.NO_PEER_ANSWERS
    assert "cannot tell a primary outage from being cut off" in verdict.message


def test_a_server_that_does_not_answer_makes_the_pod_not_ready_saying_why(tmp_path: Path) -> None:
    verdict = Probe(tmp_path, SqlError(2002, "cannot reach the server at /var/run/mysqld/mysqld.sock")
                    ).readiness.verdict()
    assert verdict.cause is Cause.SERVER_SILENT
    assert "the server does not answer queries (2002: cannot reach the server" in verdict.message


def test_a_defect_of_the_check_is_a_verdict_that_says_so(tmp_path: Path) -> None:
    verdict = Probe(tmp_path, KeyError("read_only")).readiness.verdict()
    assert not verdict.ready and verdict.cause is Cause.CHECK_FAILED
    assert "this is a defect of the agent" in verdict.message


def test_the_tls_failure_names_the_designated_primarys_host_and_the_ca_file(tmp_path: Path) -> None:
    server = OwnServer(read_only=True, heartbeat_micros=None,
                       replica=ReplicaStatus("Connecting", "Yes", "SSL connection error: error:00000000"))
    tls = TlsFiles(Path("/etc/tls/ca.crt"), Path("/etc/tls/tls.crt"), Path("/etc/tls/tls.key"))
    probe = Probe(tmp_path, server, tls=tls)
    verdict = probe.readiness.verdict()
    assert verdict.cause is Cause.TLS_FAILURE
    assert f"signed by the CA in /etc/tls/ca.crt and name {probe.config.pod_host(0)}" in verdict.message


def test_a_change_of_verdict_is_logged_once(tmp_path: Path) -> None:
    probe = Probe(tmp_path, replica_at(2))
    probe.readiness.verdict()
    probe.readiness.verdict()
    probe.server = replica_at(3)  # the same verdict in other numbers
    probe.readiness.verdict()
    probe.server = OwnServer(read_only=True, heartbeat_micros=int(NOW * S), replica=ReplicaStatus("No", "Yes"))
    probe.readiness.verdict()
    assert probe.logged == [
        "readiness: ready: replicating, 2s behind the primary (limit 30s)",
        "readiness: not ready: the replication I/O thread is not running (No); start replication again "
        "once the cause is fixed"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Probe, str]]:
    probe = Probe(tmp_path, OwnServer(read_only=False, heartbeat_micros=int(NOW * S), replica=None))
    server = ReadinessServer(("127.0.0.1", 0), probe.readiness)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield probe, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_ready_pod_answers_200_with_its_verdict(served: tuple[Probe, str]) -> None:
    _, url = served
    assert _get(f"{url}/ready") == (200, "ready: the writable server (the primary) answers\n")


def test_a_pod_that_is_not_ready_answers_503_with_the_reason(served: tuple[Probe, str]) -> None:
    probe, url = served
    probe.server = OwnServer(read_only=True, heartbeat_micros=None, replica=None)
    status, body = _get(f"{url}/ready")
    assert status == 503
    assert body.startswith("not ready: replication is not configured yet")


def test_only_the_readiness_path_is_served(served: tuple[Probe, str]) -> None:
    _, url = served
    assert _get(f"{url}/v1/state")[0] == 404


ENV = {"READINESS_PORT": "3309", "MAX_REPLICATION_LAG_SECONDS": "30", "PRIMARY_DOWN_READ_SECONDS": "300",
       "BACKUP_PORT": "3307"}


def test_the_settings_come_from_the_agent_containers_environment(tmp_path: Path) -> None:
    mark = tmp_path / "role-taken"
    assert readiness_settings(MYSQL, mark, ENV) == ReadinessSettings(3309, Limits(30, 300), mark, None)
    assert readiness_settings(MARIADB, mark, ENV).backup_port == 3307


@pytest.mark.parametrize("name", ["READINESS_PORT", "MAX_REPLICATION_LAG_SECONDS", "PRIMARY_DOWN_READ_SECONDS"])
def test_a_missing_or_wrong_setting_is_named(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigProblem, match=f"environment variable {name} is 'x'"):
        readiness_settings(MYSQL, tmp_path, {**ENV, name: "x"})
