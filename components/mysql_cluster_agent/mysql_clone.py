"""MySQL's clone of a peer into this pod's running server, done by the agent, the way MOCO's
agent clones (cybozu-go/moco-agent server/clone.go: the CLONE statement on a connection without
timeouts, ERROR 3707 taken as a finished copy, then waiting for the server to boot).

A pod that must clone carries the clone mark on its data volume (RebuildPaths.clone_mark): the
`donor` init container writes it when the data directory holds no database and a peer can give
a copy (donor.py), the agent when it rebuilds a diverged server (role_loop.py). The server starts
on a database the image's entrypoint made (scripts/server.sh starts it writable for that), and
the agent, as root over the socket, runs `CLONE INSTANCE FROM` the backup account of a donor, in
place: the server drops its data, copies the donor's and, with no supervisor to restart it, ends
the statement with ERROR 3707 and shuts itself down (seen on 9.7.4, tests/agent); its container
restarts it on the copy and the clone's recovery runs at that start
(https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-local.html, "restart"). The restarted
server tells the clone completed in performance_schema.clone_status, which outlives restarts
(9.7.4, tests/agent): only then does the mark go, with the coordinates that make the first
replication start from the copy's own gtid_executed. While the mark exists the agent gives the
server no role, its state port answers that it clones (peers count it as silent) and the pod is
not ready.

The decisions (which step, what a failure means) are pure functions, table-tested."""
from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .accounts import read_secret
from .config import TlsFiles
from .dialect import Flavor
from .donor import Donors, choose_donors
from .gather import AskPeers, peer_states
from .local_server import Sql, SqlError
from .peers import peer_ordinals
from .role import OWN_GTID_STATE, RebuildPaths, RoleError, Statement

# How often a running clone's progress is logged. Nothing limits how long a clone may take: a
# large copy that keeps moving is never cut off (the plugin's own network timeouts end a dead one).
PROGRESS_SECONDS = 10
# The server answers the clone into its own data directory with this error when nothing
# restarts it: ER_RESTART_SERVER_FAILED from mysql-server sql/mysqld.cc signal_restart_server,
# unless a supervisor manages mysqld (MYSQLD_PARENT_PID names its parent). The copy is whole and
# 9.7.4 shuts down right after, exit status 0 (tests/agent).
ER_RESTART_SERVER_FAILED = 3707
# How long a server whose copy is in place may take to stop by itself before the agent asks it to.
STOP_SECONDS = 60
# The client's errors of a connection the server dropped (mysql-server include/errmsg.h):
# CR_SERVER_GONE_ERROR, CR_SERVER_LOST; 0: the socket itself failed (local_server.py).
_CONNECTION_LOST = frozenset({2006, 2013, 0})


class Step(enum.Enum):
    WAIT_FOR_REBUILD = "the rebuild sets the diverged data aside first (scripts/server.sh)"
    COMPLETED = "the clone completed and the server runs on the copy"
    IN_PROGRESS = "a clone is in progress on this server"
    CLONE = "clone from a donor"


@dataclass(frozen=True)
class CloneStatus:
    """The row of performance_schema.clone_status (None: this server never cloned)."""
    state: str
    source: str
    error_no: int
    error_message: str


def next_step(rebuilding: bool, status: CloneStatus | None) -> Step:
    """What a pod with the clone mark does next, by what its server says of its last clone.
    While the rebuild mark exists the server still holds the diverged data, which must be set
    aside, never cloned over."""
    if rebuilding:
        return Step.WAIT_FOR_REBUILD
    if status is not None and status.state == "Completed":
        return Step.COMPLETED
    if status is not None and status.state == "In Progress":
        return Step.IN_PROGRESS
    return Step.CLONE


def server_restarts(error: SqlError) -> bool:
    """Whether the CLONE statement's error means the copy is in place and the server goes down
    to start on it (ERROR 3707, or the connection lost as it stops); any other error is a
    failed clone."""
    return error.code == ER_RESTART_SERVER_FAILED or error.code in _CONNECTION_LOST


@dataclass(frozen=True)
class CloneSource:
    """What a clone needs besides the donor: the donor's backup account (BACKUP_ADMIN,
    accounts.py), the server port, the pod's certificate files with TLS, and the copy's pace in
    whole MiB per second (backupThrottleBytesPerSecond; 0: no limit)."""
    user: str
    password: Callable[[], str]
    port: int
    tls: TlsFiles | None
    throttle_mib: int


def clone_statements(source: CloneSource, donor_host: str) -> list[Statement]:
    """The statements that copy `donor_host` into this server. clone_valid_donor_list lets it
    copy from that pod and nowhere else. With TLS the plugin verifies the donor's certificate
    against the CA (clone_ssl_ca) but not the name in it (9.7.4: a certificate of the same CA for
    another name was accepted), and presents the pod's own, which the backup account requires.
    clone_max_data_bandwidth paces the copy on the receiving side
    (https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-options-variables.html). The password
    travels only as an argument of the last statement, never in its logged text."""
    address = f"{donor_host}:{source.port}"
    statements: list[Statement] = [("SET GLOBAL clone_valid_donor_list = %s", (address,))]
    if source.throttle_mib > 0:
        statements.append(("SET GLOBAL clone_max_data_bandwidth = %s", (source.throttle_mib,)))
    if source.tls is not None:
        statements += [("SET GLOBAL clone_ssl_ca = %s", (str(source.tls.ca),)),
                       ("SET GLOBAL clone_ssl_cert = %s", (str(source.tls.cert),)),
                       ("SET GLOBAL clone_ssl_key = %s", (str(source.tls.key),))]
    require = "REQUIRE SSL" if source.tls is not None else "REQUIRE NO SSL"
    statements.append((f"CLONE INSTANCE FROM %s@%s:%s IDENTIFIED BY %s {require}",
                       (source.user, donor_host, source.port, source.password())))
    return statements


def read_clone_status(sql: Sql) -> CloneStatus | None:
    rows = sql.query("SELECT STATE, SOURCE, ERROR_NO, ERROR_MESSAGE FROM performance_schema.clone_status "
                     "ORDER BY ID DESC LIMIT 1")
    if not rows:
        return None
    state, source, error_no, message = rows[0]
    return CloneStatus(str(state), str(source or ""), int(str(error_no or 0)), str(message or ""))


@dataclass(frozen=True)
class CloneBytes:
    """How far a running clone is, over all its stages (performance_schema.clone_progress)."""
    copied: int
    estimated: int


def clone_bytes(sql: Sql) -> CloneBytes | None:
    """The running clone's bytes copied and expected; None while this server does not clone."""
    status = read_clone_status(sql)
    if status is None or status.state != "In Progress":
        return None
    return last_clone_bytes(sql)


def last_clone_bytes(sql: Sql) -> CloneBytes:
    """The bytes of the server's last clone, running or not, over all its stages."""
    rows = sql.query("SELECT SUM(DATA), SUM(ESTIMATE) FROM performance_schema.clone_progress")
    copied, estimated = rows[0] if rows else (0, 0)
    return CloneBytes(int(str(copied or 0)), int(str(estimated or 0)))


def progress_line(sql: Sql) -> str | None:
    """One line on the running stage and how much of it is done; None when none runs."""
    rows = sql.query("SELECT STAGE, ESTIMATE, DATA FROM performance_schema.clone_progress "
                     "WHERE STATE = 'In Progress' ORDER BY ID LIMIT 1")
    if not rows:
        return None
    stage, estimate, data = rows[0]
    total = int(str(estimate or 0))
    if total > 0:
        return f"clone in progress: stage {stage}, {int(str(data or 0)) // 2**20} of {total // 2**20} MiB"
    return f"clone in progress: stage {stage}"


class Cloner:
    """Clones this pod's server while its clone mark exists, one step at a time (step). A
    failed attempt goes to the next donor of donor.py's order, so that one that failed is tried
    again only after every other one."""

    def __init__(self, sql: Sql, clone_sql: Callable[[], Sql], paths: RebuildPaths, source: CloneSource,
                 me: int, replicas: Callable[[], int], host: Callable[[int], str], ask: AskPeers,
                 max_lag_seconds: int, log: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        """`sql`: this server with the agent's statement timeout; `clone_sql`: a connection of
        its own without one, for the CLONE statement, however long the copy takes."""
        self._sql = sql
        self._clone_sql = clone_sql
        self._paths = paths
        self._source = source
        self._me = me
        self._replicas = replicas
        self._host = host
        self._ask = ask
        self._max_lag = max_lag_seconds
        self._log = log
        self._clock = clock
        self.attempts = 0
        self._said = ""

    def marked(self) -> bool:
        return self._paths.clone_mark.exists()

    def step(self, stop: threading.Event) -> None:
        step = next_step(self._paths.mark.exists(), read_clone_status(self._sql))
        if step is Step.COMPLETED:
            self._finish()
        elif step is Step.CLONE:
            self._clone(stop)
        else:
            self._say(step.value + "; waiting")

    def _finish(self) -> None:
        """The coordinates first, then the mark: a stop in between leaves the mark, and the next
        look finishes again."""
        pending = self._paths.pending_coordinates
        try:
            temporary = pending.with_name(pending.name + ".tmp")
            temporary.write_text(OWN_GTID_STATE + "\n", encoding="utf-8")
            temporary.rename(pending)
            pending.with_name(pending.name + ".applied").unlink(missing_ok=True)
            self._paths.clone_mark.unlink(missing_ok=True)
        except OSError as error:
            raise RoleError(f"cannot end the clone on {self._paths.data_volume}: {error.strerror}; "
                            "check that the data volume is writable") from None
        self._log("clone complete: the server runs on the copy; replication starts from the copy's own "
                  "gtid_executed")

    def _donor(self) -> tuple[int, str] | None:
        order = peer_ordinals(self._me, self._replicas())
        states, problems = peer_states(Flavor.MYSQL, self._ask(order))
        choice = choose_donors(self._me, order, states, self._max_lag)
        if not isinstance(choice, Donors):
            details = "; ".join(f"pod {n}: {problem}" for n, problem in sorted(problems.items()))
            self._say(f"no donor to clone from ({choice.why}{'; ' + details if details else ''}); asking again")
            return None
        ordinal = choice.ordinals[self.attempts % len(choice.ordinals)]
        self._log(choice.why)
        return ordinal, self._host(ordinal)

    def _clone(self, stop: threading.Event) -> None:
        donor = self._donor()
        if donor is None:
            return
        ordinal, host = donor
        self.attempts += 1
        statements = clone_statements(self._source, host)
        over = " over TLS verified by the cluster CA" if self._source.tls is not None else ""
        self._log(f"attempt {self.attempts}, pod {ordinal}: cloning {host}:{self._source.port} with the CLONE plugin"
                  f"{over}")
        clone_sql = self._clone_sql()
        for text, args in statements[:-1]:
            self._log(f"running: {text}")
            try:
                clone_sql.execute(text, args)
            except SqlError as error:
                raise RoleError(f"cannot prepare the clone from {host} ({text}: {error}); the server must load "
                                "the clone plugin (mysql_clone.so, in the component's server options)") from None
        outcome: list[SqlError | None] = []
        runner = threading.Thread(target=self._run_clone, args=(clone_sql, statements[-1], outcome), daemon=True)
        runner.start()
        last = self._clock()
        while runner.is_alive():
            runner.join(1)
            if self._clock() - last >= PROGRESS_SECONDS and runner.is_alive():
                last = self._clock()
                self._progress()
        answer = outcome[0] if outcome else SqlError(0, "the clone ended without an answer")
        if answer is None:
            # A server with a supervisor restarts by itself; this one ends the statement with 3707.
            self._log(f"the clone from {host} is in place; the server restarts on the copy")
        elif server_restarts(answer):
            self._log(f"the clone from {host} is in place and the server shuts down to start on it ({answer}); "
                      "its container starts it again and the clone's recovery runs then")
            self._until_stopped(stop)
        else:
            delay = min(2 ** self.attempts, 60)
            self._log(f"the clone from {host} failed: {answer}. Check that pod {ordinal}'s server runs and that its "
                      "backup account exists (the primary's agent makes it); the next donor is tried in "
                      f"{delay}s. The server keeps its data until a clone succeeds.")
            stop.wait(delay)

    def _until_stopped(self, stop: threading.Event) -> None:
        """9.7.4 stops by itself after ERROR 3707; a server that goes on running the old data is
        asked to stop, since only a start finishes the clone."""
        deadline = self._clock() + STOP_SECONDS
        while not stop.is_set():
            try:
                self._sql.query("SELECT 1")
            except SqlError:
                return
            if self._clock() >= deadline:
                self._log(f"the server still runs {STOP_SECONDS}s after the clone; asking it to shut down so "
                          "that its container starts it on the copy")
                try:
                    self._sql.execute("SHUTDOWN")
                except SqlError as error:
                    self._log(f"SHUTDOWN answered: {error}")
                return
            stop.wait(1)

    def _run_clone(self, sql: Sql, statement: Statement, outcome: list[SqlError | None]) -> None:
        text, args = statement
        self._log(f"running: {text}")
        try:
            sql.execute(text, args)
            outcome.append(None)
        except SqlError as error:
            outcome.append(error)

    def _progress(self) -> None:
        try:
            line = progress_line(self._sql)
        except SqlError as error:
            line = f"cannot read the clone's progress: {error}"
        if line:
            self._log(line)

    def _say(self, message: str) -> None:
        if message != self._said:
            self._log(message)
            self._said = message


def clone_source(user: str, secrets_dir: Path, port: int, tls: TlsFiles | None, throttle_mib: int) -> CloneSource:
    """The backup account's password is read from its Secret file at each attempt."""
    return CloneSource(user=user, password=lambda: read_secret(secrets_dir, "backup-password"), port=port,
                       tls=tls, throttle_mib=throttle_mib)

