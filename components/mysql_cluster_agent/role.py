"""What a role change runs on this pod's server: the statements of each action of decide.py,
from the dialect table, run in order through the Sql seam as root over the local socket.

Every statement here is allowed under (super_)read_only: the servers exempt replication and GTID
administration. The replication password travels only as a statement argument, which the seam
quotes; a statement's text is what gets logged, so the password never reaches a log."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .backup_info import BackupInfoError, backup_coordinates
from .dialect import Dialect, Flavor
from .gtid import MariadbGtidState, MysqlGtidSet, parse_gtid
from .local_server import Sql, SqlError
from .replica_status import read_replica_status

# What a clone leaves in the pending coordinates file: OWN_GTID_STATE when the copy carries its
# GTID state itself (MySQL's CLONE copies gtid_executed with the data; mysql_clone.py writes it),
# BACKUP_INFO_STATE (scripts/lib.sh, for clone.sh) when the backup tool's info files in the data directory say where the copy
# stands (MariaDB's streamed backup; backup_info.py reads them).
OWN_GTID_STATE = "own-gtid-executed"
BACKUP_INFO_STATE = "backup-info"
# A replica retries a lost connection to its source every this many seconds.
CONNECT_RETRY_SECONDS = 5

Statement = tuple[str, tuple[object, ...]]


class RoleError(Exception):
    """A role change that could not be made; the message says what failed and what to do."""


@dataclass(frozen=True)
class Replication:
    """How this server connects to its source. password is called when a channel is set, so a
    rotated Secret takes effect at the next change; tls_ca is the CA file that verifies the
    source's certificate (None: the cluster has no TLS, and the channel is told so, since
    MariaDB 11.4 and MySQL would otherwise use TLS unasked)."""
    user: str
    password: Callable[[], str]
    port: int
    heartbeat_seconds: int
    tls_ca: str | None


def source_statement(dialect: Dialect, host: str, replication: Replication) -> Statement:
    """CHANGE ... TO the source `host` by GTID. Heartbeats keep an idle link talking, so a dead
    one is noticed within the net timeout the server configuration sets."""
    password = replication.password()
    limit = dialect.max_replication_password
    if limit is not None and len(password) > limit:
        raise RoleError(f"the replication password (Secret key replication-password) has {len(password)} "
                        f"characters; {dialect.flavor.value} refuses more than {limit}: set a shorter one")
    o = dialect.source_option
    options = [f"{o}_HOST=%s", f"{o}_PORT=%s", f"{o}_USER=%s", f"{o}_PASSWORD=%s",
               f"{o}_CONNECT_RETRY={CONNECT_RETRY_SECONDS}", f"{o}_HEARTBEAT_PERIOD=%s"]
    args: list[object] = [host, replication.port, replication.user, password, replication.heartbeat_seconds]
    if replication.tls_ca is None:
        options += [f"{o}_SSL=0", f"{o}_SSL_VERIFY_SERVER_CERT=0"]
    else:
        options += [f"{o}_SSL=1", f"{o}_SSL_CA=%s", f"{o}_SSL_VERIFY_SERVER_CERT=1"]
        args.append(replication.tls_ca)
    options.append(dialect.use_gtid_option())
    return f"{dialect.change_source} {', '.join(options)}", tuple(args)


def promote_statements(dialect: Dialect) -> list[Statement]:
    return [(s, ()) for s in dialect.promote()]


def follow_statements(dialect: Dialect, host: str, replication: Replication,
                      clone_position: list[Statement] | None = None) -> list[Statement]:
    """Read-only, then a fresh channel to `host`, started. The previous channel goes first: a
    clone of a replica brings its donor's along (without the relay logs it names). The GTID
    state is a fresh clone's position (`clone_position`, from clone_position_statements) the
    first time, else this server's own transactions (Dialect.carry_own_transactions)."""
    gtid = clone_position if clone_position is not None else [(s, ()) for s in dialect.carry_own_transactions()]
    return [*((s, ()) for s in dialect.demote()),
            (dialect.stop_replica, ()), (dialect.reset_replica_all, ()), *gtid,
            source_statement(dialect, host, replication), (dialect.start_replica, ())]


def received_gtid(sql: Sql, dialect: Dialect) -> str:
    """What this replica has received from its source, applied or still in its relay log, as a
    GTID position ("" without a replication channel)."""
    try:
        status = read_replica_status(sql, dialect)
    except ValueError as error:
        raise RoleError(f"cannot tell what this server received: {error}") from None
    return status.received_gtids if status else ""


def wait_applied(sql: Sql, dialect: Dialect, position: str, seconds: int) -> tuple[bool, str]:
    """Whether this server applied `position` within `seconds`, and what the wait answered.
    `sql`'s statements must be allowed to run longer than `seconds`."""
    rows = sql.query(dialect.wait_for_gtid(), (position, seconds))
    result = rows[0][0] if rows else None
    return result is not None and str(result) == "0", text_of(result)


def text_of(value: object) -> str:
    """A value the server returned as text (MySQL prints a GTID set over several lines)."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode().replace("\n", "")
    return str(value).replace("\n", "")


def clone_position_statements(dialect: Dialect, sql: Sql, position: str) -> list[Statement]:
    """What sets a fresh clone's GTID state to the position it was copied at, unless the server
    already stands there or past it (a replica that applied it and replicated further must not be
    rewound). `position` comes from the clone's pending coordinates file."""
    if position == OWN_GTID_STATE:
        return []
    try:
        wanted = parse_gtid(dialect.flavor, position)
    except ValueError as error:
        raise RoleError(f"the clone's coordinates are not a GTID position ({error}); delete this pod's "
                        "PersistentVolumeClaim and pod to clone it again") from None
    if dialect.flavor is Flavor.MARIADB:
        assert isinstance(wanted, MariadbGtidState)
        current = MariadbGtidState.parse(_value(sql, "SELECT @@GLOBAL.gtid_slave_pos"))
        there = current.reaches(wanted)
    else:
        assert isinstance(wanted, MysqlGtidSet)
        there = MysqlGtidSet.parse(_value(sql, "SELECT @@GLOBAL.gtid_executed")).holds(wanted)
    if there:
        return []
    return [(s, (str(wanted),) if "%s" in s else ()) for s in dialect.set_clone_position()]


def clone_coordinates(flavor: Flavor, paths: RebuildPaths, pending: str) -> str:
    """The position a fresh clone starts from, by what its pending coordinates file holds: the
    backup's info files read (BACKUP_INFO_STATE), else the file's own text (OWN_GTID_STATE, or
    a GTID a clone of an earlier release wrote). The info files come from a donor's stream:
    one that is refused stops replication with the reason, the copy stays as it is."""
    if pending != BACKUP_INFO_STATE:
        return pending
    again = "delete this pod's PersistentVolumeClaim and pod to clone it again"
    try:
        found = backup_coordinates(flavor, paths.datadir)
    except BackupInfoError as error:
        raise RoleError(f"{error}; {again}") from None
    if found is None:
        raise RoleError(f"the clone in {paths.datadir} has no backup info file that says where replication "
                        f"starts; {again}")
    return str(found.gtid)


def _value(sql: Sql, query: str) -> str:
    rows = sql.query(query)
    value = rows[0][0] if rows else None
    return "" if value is None else str(value)


def run(sql: Sql, statements: list[Statement], log: Callable[[str], None]) -> None:
    """Runs the statements in order, logging each one's text (never its arguments)."""
    for text, args in statements:
        log(f"running: {text}")
        sql.execute(text, args)


@dataclass(frozen=True)
class RebuildPaths:
    """The rebuild mark, and where the diverged data goes (a diverged-<UTC time> directory of the
    data volume, which the mark names, so that a rebuild cut short goes on into the same place).
    While the mark exists the server container does not start its server but clones it anew
    (scripts/server.sh), and its liveness probe passes (scripts/liveness.sh)."""
    data_volume: Path
    data_subdir: str

    @property
    def datadir(self) -> Path:
        return self.data_volume / self.data_subdir

    @property
    def mark(self) -> Path:
        return self.data_volume / "rebuild"

    @property
    def clone_mark(self) -> Path:
        """While it exists this pod's agent clones a peer into the running server (MySQL,
        mysql_clone.py) and gives it no role."""
        return self.data_volume / "clone"

    @property
    def pending_coordinates(self) -> Path:
        """Where a clone leaves the position its replica starts from (scripts/lib.sh)."""
        return self.data_volume / "replication-source"

    def aside(self, utc_stamp: str) -> Path:
        return self.data_volume / f"diverged-{utc_stamp}"


def start_rebuild(sql: Sql, paths: RebuildPaths, utc_stamp: str, clone_in_place: bool,
                  log: Callable[[str], None]) -> None:
    """Writes the rebuild mark and stops the server; the server container sets the data aside
    before it starts again (scripts/server.sh) and clones it anew (clone.sh), or, where the
    agent clones into the running server (`clone_in_place`, MySQL), starts a new database that
    the clone mark, written after the rebuild mark, has the agent clone into (mysql_clone.py):
    the agent clones only once the rebuild mark is gone, never over the diverged data."""
    try:
        paths.mark.write_text(f"{paths.aside(utc_stamp)}\n", encoding="utf-8")
        if clone_in_place:
            paths.clone_mark.touch()
    except OSError as error:
        raise RoleError(f"cannot write the rebuild marks in {paths.data_volume}: {error.strerror}") from None
    log(f"stopping the server to rebuild it; its data goes to {paths.aside(utc_stamp)}")
    try:
        sql.execute("SHUTDOWN")
    except SqlError as error:
        # The connection may end before the answer comes: whether the server stops is what counts.
        log(f"SHUTDOWN answered: {error}")
