"""MySQL's clone into the running server (mysql_clone.py): which step a marked pod takes, what
the CLONE statement's answer means, the statements, and the agent's steps against fakes of its
server and its peers."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from mysql_cluster_agent.__main__ import _state_source
from mysql_cluster_agent.config import TlsFiles
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.mysql_clone import (
    CloneSource,
    Cloner,
    CloneStatus,
    Step,
    clone_statements,
    next_step,
    server_restarts,
)
from mysql_cluster_agent.peers import PeerAnswer
from mysql_cluster_agent.role import OWN_GTID_STATE, RebuildPaths, RoleError
from mysql_cluster_agent.state import ServerState

from .conftest import agent_config
from .fake_sql import FakeSql

STATUS = ("SELECT STATE, SOURCE, ERROR_NO, ERROR_MESSAGE FROM performance_schema.clone_status "
          "ORDER BY ID DESC LIMIT 1")
CLONE = "CLONE INSTANCE FROM %s@%s:%s IDENTIFIED BY %s REQUIRE NO SSL"
PASSWORD = "b4ckup-s3cret"


def status(state: str) -> CloneStatus:
    return CloneStatus(state, "db-1:3306", 0, "")


@pytest.mark.parametrize("rebuilding, last, step", [
    (False, None, Step.CLONE),
    (False, status("Failed"), Step.CLONE),
    (False, status("Completed"), Step.COMPLETED),
    (False, status("In Progress"), Step.IN_PROGRESS),
    # The diverged data is set aside first: never cloned over, whatever the status says.
    (True, None, Step.WAIT_FOR_REBUILD),
    (True, status("Completed"), Step.WAIT_FOR_REBUILD),
])
def test_the_step_of_a_marked_pod_follows_its_servers_last_clone(rebuilding, last, step):
    assert next_step(rebuilding, last) is step


@pytest.mark.parametrize("code, restarts", [
    (3707, True),   # no supervisor: the copy is in place and the server shuts down
    (2013, True), (2006, True), (0, True),  # the connection went with the server
    (1227, False), (3862, False), (2003, False),
    (3869, False),  # the donor went away: the clone failed
])
def test_only_a_restart_or_a_lost_connection_means_the_copy_is_in_place(code, restarts):
    assert server_restarts(SqlError(code, "x")) is restarts


def source(tls: TlsFiles | None = None, throttle: int = 0) -> CloneSource:
    return CloneSource("backup", lambda: PASSWORD, 3306, tls, throttle)


def test_the_clone_may_copy_the_chosen_donor_only_and_carries_the_password_as_an_argument():
    statements = clone_statements(source(), "db-1.db")
    assert statements == [("SET GLOBAL clone_valid_donor_list = %s", ("db-1.db:3306",)),
                          (CLONE, ("backup", "db-1.db", 3306, PASSWORD))]
    assert all(PASSWORD not in text for text, _ in statements)


def test_with_tls_the_clone_verifies_the_donor_by_the_ca_and_presents_the_pods_certificate():
    tls = TlsFiles(Path("/tls/ca.crt"), Path("/tls/tls.crt"), Path("/tls/tls.key"))
    statements = clone_statements(source(tls, throttle=8), "db-1.db")
    assert statements[1:5] == [("SET GLOBAL clone_max_data_bandwidth = %s", (8,)),
                               ("SET GLOBAL clone_ssl_ca = %s", ("/tls/ca.crt",)),
                               ("SET GLOBAL clone_ssl_cert = %s", ("/tls/tls.crt",)),
                               ("SET GLOBAL clone_ssl_key = %s", ("/tls/tls.key",))]
    assert statements[-1][0].endswith("REQUIRE SSL")


def peer(ordinal: int, writable: bool) -> PeerAnswer:
    gtid = parse_gtid(Flavor.MYSQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10")
    return PeerAnswer(ordinal, ServerState(ordinal, not writable, 1_800_000_000_000_000, 0, gtid).to_wire())


class Pod:
    """Pod 2 with the clone mark; pod 1 a caught-up replica, pod 0 the primary."""

    def __init__(self, tmp_path: Path, last: CloneStatus | None = None, clone_error: SqlError | None = None):
        self.paths = RebuildPaths(tmp_path, "mysql")
        self.paths.clone_mark.touch()
        row = [] if last is None else [(last.state, last.source, last.error_no, last.error_message)]
        self.sql = FakeSql({STATUS: row})
        self.clone_sql = FakeSql(failing={CLONE: clone_error} if clone_error else {})
        self.logged: list[str] = []
        self.cloner = Cloner(self.sql, lambda: self.clone_sql, self.paths, source(), 2, lambda: 3,
                             lambda n: f"db-{n}.db", lambda _: [peer(1, False), peer(0, True)], 10,
                             self.logged.append)

    def step(self) -> None:
        stopping = threading.Event()
        stopping.set()  # no wait between attempts
        self.cloner.step(stopping)

    def cloned_from(self) -> list[str]:
        return [str(args[1]) for text, args in self.clone_sql.ran if text == CLONE]


def test_a_marked_pod_clones_the_nearest_caught_up_replica_first(tmp_path):
    pod = Pod(tmp_path, clone_error=SqlError(3707, "Restart server failed (mysqld is not managed by supervisor process)."))
    pod.step()
    assert pod.cloned_from() == ["db-1.db"]
    assert "is in place and the server shuts down to start on it" in pod.logged[-1]
    assert pod.paths.clone_mark.exists()  # until the restarted server says the clone completed
    assert all(PASSWORD not in line for line in pod.logged)


def test_a_failed_clone_says_what_failed_and_what_to_check_and_the_next_attempt_takes_the_next_donor(tmp_path):
    pod = Pod(tmp_path, clone_error=SqlError(3862, "Clone Donor Error: connection refused"))
    pod.step()
    assert "the clone from db-1.db failed: 3862: Clone Donor Error" in pod.logged[-1]
    assert "backup account" in pod.logged[-1] and "next donor is tried" in pod.logged[-1]
    pod.step()
    assert pod.cloned_from() == ["db-1.db", "db-0.db"]
    assert pod.paths.clone_mark.exists()


def test_the_restarted_server_on_the_copy_ends_the_clone_and_replication_starts_from_its_own_gtid_state(tmp_path):
    pod = Pod(tmp_path, last=status("Completed"))
    pod.paths.pending_coordinates.with_name("replication-source.applied").touch()
    pod.step()
    assert not pod.paths.clone_mark.exists()
    assert pod.paths.pending_coordinates.read_text() == OWN_GTID_STATE + "\n"
    assert not pod.paths.pending_coordinates.with_name("replication-source.applied").exists()
    assert pod.cloned_from() == []


def test_a_pod_being_rebuilt_clones_nothing_while_its_diverged_data_is_not_set_aside(tmp_path):
    pod = Pod(tmp_path, last=status("Completed"))
    pod.paths.mark.write_text(f"{tmp_path}/diverged-x\n")
    pod.step()
    assert pod.cloned_from() == [] and pod.paths.clone_mark.exists()
    assert "sets the diverged data aside first" in pod.logged[-1]


def test_without_a_donor_the_pod_says_why_and_clones_nothing(tmp_path):
    pod = Pod(tmp_path)
    gtid = parse_gtid(Flavor.MYSQL, "")
    lagging = PeerAnswer(1, ServerState(1, True, None, None, gtid).to_wire())
    pod.cloner = Cloner(pod.sql, lambda: pod.clone_sql, pod.paths, source(), 2, lambda: 3, lambda n: f"db-{n}.db",
                        lambda _: [PeerAnswer(0, None, "timed out"), lagging], 10, pod.logged.append)
    pod.step()
    assert pod.cloned_from() == []
    assert pod.logged[-1].startswith("no donor to clone from") and "pod 0: timed out" in pod.logged[-1]


def test_a_server_that_keeps_running_after_its_copy_is_in_place_is_asked_to_shut_down(tmp_path):
    pod = Pod(tmp_path, clone_error=SqlError(3707, "Restart server failed"))
    pod.sql.answers["SELECT 1"] = [(1,)]
    times = iter(range(0, 10_000, 100))
    pod.cloner = Cloner(pod.sql, lambda: pod.clone_sql, pod.paths, source(), 2, lambda: 3, lambda n: f"db-{n}.db",
                        lambda _: [peer(1, False), peer(0, True)], 10, pod.logged.append, clock=lambda: next(times))
    pod.cloner.step(threading.Event())
    assert pod.sql.statements[-1] == "SHUTDOWN"
    assert "asking it to shut down" in " ".join(pod.logged)


def test_a_server_without_the_clone_plugin_says_what_it_lacks(tmp_path):
    pod = Pod(tmp_path)
    pod.clone_sql.failing["SET GLOBAL clone_valid_donor_list = %s"] = SqlError(1193, "Unknown system variable")
    with pytest.raises(RoleError, match="mysql_clone.so"):
        pod.step()


def test_while_the_pod_clones_its_agent_serves_no_state_so_peers_count_it_as_silent(tmp_path):
    mark = RebuildPaths(tmp_path, "mysql").clone_mark
    mark.touch()
    with pytest.raises(ValueError, match="clones a peer into its server"):
        _state_source(agent_config(tmp_path), mark)()
