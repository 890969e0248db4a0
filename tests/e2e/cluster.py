"""What the scenarios know about the component's MySQL or MariaDB cluster, on top of the harness.

The cluster is the rendered StatefulSet run by ``StatefulSetHarness``: pod 0
is the primary, the others replicate from it by GTID. Applications connect
as the application user over TCP, to the primary for writes; the tests do
the same, and use root (which logs in only from inside its pod) to inspect.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from typing import NamedTuple

from .harness import SQL_CONTAINER, HarnessError, StatefulSetHarness

# The Secret key of the application user's password (component contract).
APP_PASSWORD_KEY = "app-password"
CATCH_UP_TIMEOUT = 60.0
# How a clone reports where the new replica starts (scripts/clone.sh): a GTID position, or (MySQL's
# CLONE) the copy's own gtid_executed.
# The agent's line when it starts a fresh clone's replication (role_loop.py).
_CLONE_START = re.compile(r"starting (?:at the clone's GTID (\S+)|from the copy's own (gtid_executed))")


class Cluster:
    def __init__(self, harness: StatefulSetHarness):
        self.harness = harness
        server = next(c for c in harness.pod_spec["containers"] if c["name"] == SQL_CONTAINER)
        env = {item["name"]: item.get("value") for item in server.get("env") or []}
        self.flavor = env["DB_FLAVOR"]
        self.app_user = env["APP_USER"]
        self.app_database = env["APP_DATABASE"]
        self.app_password = harness.manifests.secret_data(
            f"{harness.name}-credentials")[APP_PASSWORD_KEY].decode()
        self.primary = harness.pod_name(0)

    def replicas(self) -> list[str]:
        return [pod for pod in self.harness.pod_names() if pod != self.primary]

    def assert_version(self, version: str) -> None:
        """Every pod runs a server release of the line `version` (e.g. "9.7")."""
        found = {pod: self.harness.run_sql(pod, "SELECT VERSION()")[0][0]
                 for pod in self.harness.pod_names()}
        assert all(release.startswith(version + ".") for release in found.values()), (
            f"expected {version} everywhere: {found}")

    # SQL

    def app_sql(self, pod: str, sql: str, timeout: float = 30) -> list[tuple[str | None, ...]]:
        """SQL as the application, over TCP to the pod's DNS name, in the application database."""
        return self.harness.run_sql(pod, sql, user=self.app_user, password=self.app_password,
                                    host=self.harness.dns_name(pod), database=self.app_database,
                                    timeout=timeout)

    def app_session(self, pod: str) -> SqlSession:
        """An application connection kept open; statements are sent one by one as the test goes."""
        return self._session(pod, self.harness.sql_client(
            user=self.app_user, password=self.app_password, host=self.harness.dns_name(pod),
            database=self.app_database))

    def read_lock_events(self, pod: str) -> SqlSession:
        """A root connection, from inside the pod, that holds a read lock on the events table
        (the pod's applier waits at its next row) until it is closed. Returns once the server
        holds the lock: the client sends it asynchronously, and rows replicated meanwhile would
        be applied before it."""
        session = self._session(pod, self.harness.sql_client())
        session.send(f"LOCK TABLES {self.app_database}.events READ")
        self.harness.wait_until(lambda: self.harness.run_sql(pod, "SHOW OPEN TABLES WHERE In_use > 0") != [],
                                10, f"the read lock on {pod}")
        return session

    def _session(self, pod: str, client: list[str]) -> SqlSession:
        return SqlSession(self.harness.exec_stream(pod, SQL_CONTAINER, client), f"{pod}/{SQL_CONTAINER}")

    # Application data: a table without a key, so that a duplicated row stays visible as one.

    def create_events_table(self) -> None:
        self.app_sql(self.primary, "CREATE TABLE events (seq INT NOT NULL, payload VARCHAR(100) NOT NULL)")

    def insert_events(self, first: int, last: int) -> None:
        """Rows first..last, in one transaction on the primary."""
        self.app_sql(self.primary, self.insert_events_sql(first, last))

    def insert_events_sql(self, first: int, last: int) -> str:
        """The statements that insert rows first..last in one transaction (MariaDB's Sequence
        engine makes them; on MySQL a recursive common table expression)."""
        if self.flavor == "mariadb":
            return f"INSERT INTO events SELECT seq, SHA2(seq, 256) FROM seq_{first}_to_{last}"
        rows = (f"WITH RECURSIVE s (seq) AS (SELECT {first} UNION ALL SELECT seq + 1 FROM s "
                f"WHERE seq < {last}) SELECT seq, SHA2(seq, 256) FROM s")
        return f"SET SESSION cte_max_recursion_depth = {last - first + 1}; INSERT INTO events {rows}"

    def events(self, pod: str) -> EventsState:
        (count, distinct, low, high), (_, checksum) = self.harness.run_sql(
            pod, "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM events;"
                 "CHECKSUM TABLE events", database=self.app_database)
        return EventsState(int(count), int(distinct), low and int(low), high and int(high), checksum)

    def assert_events_everywhere(self, expected_rows: int) -> None:
        """Every pod has rows 1..expected_rows exactly once, with the primary's checksum."""
        expected = self.events(self.primary)
        assert (expected.rows, expected.distinct, expected.low, expected.high) == (
            expected_rows, expected_rows, 1, expected_rows), f"on the primary: {expected}"
        states = {pod: self.events(pod) for pod in self.replicas()}
        assert states == dict.fromkeys(states, expected), f"the primary has {expected}"

    def assert_every_pod_holds(self, seqs: list[int]) -> None:
        """Every pod has exactly the rows `seqs`, each once, and the same CHECKSUM TABLE."""
        states = {}
        for pod in self.harness.pod_names():
            (count, distinct, total), (_, checksum) = self.harness.run_sql(
                pod, "SELECT COUNT(*), COUNT(DISTINCT seq), IFNULL(SUM(seq), 0) FROM events;"
                     "CHECKSUM TABLE events", database=self.app_database)
            states[pod] = (int(count), int(distinct), int(total), checksum)
        expected = (len(seqs), len(set(seqs)), sum(seqs))
        assert {pod: state[:3] for pod, state in states.items()} == dict.fromkeys(states, expected)
        assert len({state[3] for state in states.values()}) == 1, states

    # Replication

    def gtid_position(self, pod: str) -> str:
        """What the pod has applied: on MariaDB the primary's own binary log, a replica's applied
        position; on MySQL its gtid_executed."""
        if self.flavor == "mysql":
            variable = "gtid_executed"
        else:
            variable = "gtid_binlog_pos" if pod == self.primary else "gtid_slave_pos"
        return self.harness.run_sql(pod, f"SELECT REPLACE(@@{variable}, '\\n', '')")[0][0]

    def holds_position(self, pod: str, position: str) -> bool:
        """Whether the pod has applied everything of a position gtid_position gave."""
        if self.flavor == "mysql":
            return self.harness.run_sql(
                pod, f"SELECT GTID_SUBSET('{position}', @@GLOBAL.gtid_executed)") == [("1",)]
        return gtid_sequence(self.gtid_position(pod)) >= gtid_sequence(position)

    def wait_caught_up(self, timeout: float = CATCH_UP_TIMEOUT) -> None:
        """Wait until every replica has applied everything the primary has logged so far."""
        target = self.gtid_position(self.primary)
        self.harness.wait_until(
            lambda: all(self.holds_position(pod, target) for pod in self.replicas()), timeout,
            f"every replica at or past the primary's GTID position {target}",
        )

    def replica_status(self, pod: str) -> dict[str, str | None]:
        """SHOW SLAVE STATUS (MariaDB) or SHOW REPLICA STATUS (MySQL), by column name."""
        statement = "SHOW SLAVE STATUS" if self.flavor == "mariadb" else "SHOW REPLICA STATUS"
        names, values = self.harness.run_sql(pod, statement, column_names=True)
        return dict(zip(names, values))

    def source_host(self, pod: str) -> str | None:
        """The host the pod replicates from, if any."""
        return self.replica_status(pod).get("Master_Host" if self.flavor == "mariadb" else "Source_Host")

    def io_thread(self, pod: str, verb: str) -> None:
        """STARTs or STOPs the pod's replication I/O thread: the link to its primary."""
        self.harness.run_sql(pod, f"{verb} {'SLAVE' if self.flavor == 'mariadb' else 'REPLICA'} IO_THREAD")

    def assert_replicating(self, pod: str) -> dict[str, str | None]:
        """The replica follows the primary by its DNS name and GTID, both threads running."""
        status = self.replica_status(pod)
        if self.flavor == "mariadb":
            seen = (status["Master_Host"], status["Using_Gtid"], status["Slave_IO_Running"],
                    status["Slave_SQL_Running"])
            by_gtid = "Slave_Pos"
        else:
            seen = (status["Source_Host"], status["Auto_Position"], status["Replica_IO_Running"],
                    status["Replica_SQL_Running"])
            by_gtid = "1"
        assert seen == (self.harness.dns_name(self.primary), by_gtid, "Yes", "Yes"), status
        return status

    @property
    def clone_container(self) -> str:
        """The container that logs a new replica's clone: MariaDB's init container that streams
        it, MySQL's agent, which clones into the running server."""
        return "agent" if self.flavor == "mysql" else "clone-mysql"

    def clone_start(self, pod: str) -> str:
        """The GTID position the pod's latest clone started replication from ("gtid_executed"
        for a MySQL clone, which starts from the copy's own GTID state), as its agent logs it
        once it applied it."""
        log = self.harness.log_tail(pod, "agent", lines=10_000)
        found = ["".join(groups) for groups in _CLONE_START.findall(log)]
        assert len(found) == 1, f"expected one clone's start in the agent log of {pod}:\n{log}"
        return found[0]


class EventsState(NamedTuple):
    rows: int
    distinct: int  # distinct seq values: fewer than rows means duplicates
    low: int | None
    high: int | None
    checksum: str  # CHECKSUM TABLE


class SqlSession:
    """One open client connection fed statement by statement through its stdin."""

    def __init__(self, process: subprocess.Popen, where: str):
        self.process = process
        self.where = where
        self.sent = 0

    def send(self, sql: str) -> None:
        try:
            self.process.stdin.write(sql.rstrip().rstrip(";") + ";\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            self.close()  # raises with the client's error
            raise
        self.sent += 1

    def close(self, timeout: float = 30) -> str:
        """End the session; raise if any statement failed. Returns the output."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise HarnessError(f"SQL session in {self.where} did not end within {timeout:g} s") from None
        if self.process.returncode != 0:
            raise HarnessError(f"SQL session in {self.where} failed after {self.sent} statements "
                               f"(exit {self.process.returncode}): {stderr.strip()}")
        return stdout

    def kill(self) -> None:
        if self.process.poll() is None:
            # The whole group: the client runs in a child of nsenter.
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.communicate()


def gtid_sequence(position: str) -> int:
    """Sequence number of a single-domain GTID position such as 0-100-42."""
    match = re.fullmatch(r"\d+-\d+-(\d+)", position)
    assert match, f"not a single-domain GTID position: {position!r}"
    return int(match.group(1))

