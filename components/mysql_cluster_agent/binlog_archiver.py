"""The binary log archiver, a thread of the agent in every pod of a cluster with a backup target:
every poll it looks at its server and the data volume, decides (binlog_archive.decide) and acts.
It reaches its server as root over the socket (the role, the GTID position, FLUSH BINARY LOGS),
reads the index and the closed logs from the data directory, and copies them with rclone
(rclone_target.py). It keeps the history it writes and the logs archived in a JSON file on the
data volume (binlog-archive.json), so that a restarted agent continues.

Nothing here ends the agent: a failed look or copy is logged, once until it changes, and tried
again at the next poll.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .binlog_archive import (
    FILE_LIMIT,
    INDEX_NAME,
    Action,
    ArchiveState,
    BeginHistory,
    CopyLog,
    RecordRecoveryPoint,
    Rotate,
    Session,
    StopArchiving,
    UntrustedFile,
    View,
    WarnPurged,
    closed_logs,
    decide,
    format_state,
    newest_history,
    read_state,
    with_archived,
)
from .config import ConfigProblem
from .dialect import Dialect
from .local_server import Sql, SqlError
from .rclone_target import RcloneError, RcloneTarget, TargetProblem

Log = Callable[[str], None]
STATE_NAME = "binlog-archive.json"
# How often closed logs are looked for (a log also closes when it reaches max_binlog_size).
MAX_POLL_SECONDS = 10
# Looks in a row without a wait: a beginning and a rotation each ask for one more.
_LOOKS_PER_ROUND = 3


class RecoveryPoint:
    """The recovery point as the archiver last recorded it, read by the metrics thread: every
    transaction committed before this Unix time is in the archive; None while not archiving."""

    def __init__(self) -> None:
        self._value: float | None = None
        self._lock = threading.Lock()

    def set(self, value: float | None) -> None:
        with self._lock:
            self._value = value

    def get(self) -> float | None:
        with self._lock:
            return self._value


@dataclass(frozen=True)
class ArchiverSettings:
    remote: str  # the cluster's place on the target (BACKUP_REMOTE)
    data_volume: Path
    datadir: Path
    interval: float

    @property
    def poll_seconds(self) -> float:
        return min(self.interval, MAX_POLL_SECONDS)

    @property
    def state_file(self) -> Path:
        return self.data_volume / STATE_NAME

    def history_path(self, history: str) -> str:
        return f"{self.remote}/binlogs/{history}"


def archiver_settings(env: Mapping[str, str]) -> ArchiverSettings | None:
    """The archive's settings from the environment; None without a backup target
    (BACKUP_REMOTE unset). ConfigProblem names a variable that is missing or wrong."""
    remote = env.get("BACKUP_REMOTE", "")
    if not remote:
        return None
    values = {name: env.get(name, "") for name in ("DATA_VOLUME", "DATA_SUBDIR", "ARCHIVE_INTERVAL_SECONDS")}
    for name, value in values.items():
        if not value:
            raise ConfigProblem(f"environment variable {name} is not set; the StatefulSet sets it with a backupTarget")
    interval = values["ARCHIVE_INTERVAL_SECONDS"]
    if not interval.isdigit() or int(interval) == 0:
        raise ConfigProblem(f"environment variable ARCHIVE_INTERVAL_SECONDS is {interval[:20]!r}; "
                            "it must be a whole number of seconds above 0 (binlogArchiveIntervalSeconds)")
    volume = Path(values["DATA_VOLUME"])
    return ArchiverSettings(remote, volume, volume / values["DATA_SUBDIR"], float(interval))


class ArchiveRoundFailed(Exception):
    """A round stopped; the message says what failed and what happens next, `about` what failed
    without the tool's words (rclone's carry the time: the same failure, said again)."""

    def __init__(self, message: str, about: str) -> None:
        super().__init__(message)
        self.about = about


class Archiver:
    """Looks, decides and acts, one round at a time (round)."""

    def __init__(self, sql: Sql, target: RcloneTarget, dialect: Dialect, settings: ArchiverSettings,
                 recovery_point: RecoveryPoint, log: Log,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._sql = sql
        self._target = target
        self._dialect = dialect
        self._settings = settings
        self._recovery_point = recovery_point
        self.log = log
        self._monotonic = monotonic
        self._wall = wall
        self.session: Session | None = None
        self._said = ""

    def _say(self, message: str, about: str = "") -> None:
        """Logs a problem once until another one (or none) is met; `about` names the problem
        when the message differs each time."""
        if (about or message) != self._said:
            self.log(message)
            self._said = about or message

    def _position(self) -> str:
        rows = self._sql.query(f"SELECT {self._dialect.gtid_position_expression}")
        # MySQL prints a long GTID set over several lines.
        return str(rows[0][0] or "").replace("\n", "")

    def _read(self, path: Path) -> str | None:
        try:
            with path.open(encoding="utf-8", errors="replace") as file:
                text = file.read(FILE_LIMIT + 1)
        except FileNotFoundError:
            return None
        if len(text) > FILE_LIMIT:
            raise UntrustedFile(f"{path} is larger than {FILE_LIMIT} bytes")
        return text

    def _state(self) -> ArchiveState | None:
        path = self._settings.state_file
        text = self._read(path)
        if text is None:
            return None
        try:
            return read_state(text, str(path))
        except UntrustedFile as problem:
            # Only the archiver writes it: a new history is safe (its first log may repeat
            # transactions of the last one, which a replay skips by GTID).
            self._say(f"{problem}; beginning a new binary log history")
            return None

    def look(self) -> View:
        """The server's role first; the clock before the position, so that what was committed
        before that time is in that position."""
        settings = self._settings
        rows = self._sql.query("SELECT @@GLOBAL.read_only")
        if str(rows[0][0]) != "0":
            return View(primary=False, monotonic=self._monotonic(), wall=int(self._wall()),
                        interval=settings.interval)
        monotonic, wall = self._monotonic(), int(self._wall())
        position = self._position()
        index_path = settings.datadir / INDEX_NAME
        index = self._read(index_path)
        if index is None:
            raise UntrustedFile(f"{index_path} is missing: is log-bin=mysql-bin set?")
        logs = closed_logs(index, str(index_path))
        present = frozenset(log for log in logs if (settings.datadir / log).is_file())
        newest = (newest_history(self._target.list(f"{settings.remote}/binlogs", "--dirs-only"))
                  if self.session is None else None)
        return View(primary=True, monotonic=monotonic, wall=wall, interval=settings.interval,
                    position=position, closed_logs=logs, present=present, state=self._state(),
                    newest_history=newest)

    @property
    def poll_seconds(self) -> float:
        return self._settings.poll_seconds

    def round_or_say(self) -> None:
        """A round; what stopped it is logged, once until it changes."""
        poll = self.poll_seconds
        try:
            self.round()
        except ArchiveRoundFailed as failure:
            self._say(str(failure), failure.about)
        except SqlError as error:
            self._say(f"cannot ask the local server for its role and binary logs: {error}; "
                      f"asking again in {poll:g}s")
        except (UntrustedFile, OSError) as problem:
            self._say(f"the binary log archive stopped: {problem}; looking again in {poll:g}s")
        except (RcloneError, TargetProblem) as error:
            self._say(f"cannot list the binary log histories on the backup target: {error}; "
                      f"looking again in {poll:g}s", "list")
        except Exception as error:  # noqa: BLE001 - the agent must outlive a defect, and say it
            self._say(f"the binary log archive failed unexpectedly ({type(error).__name__}: {error}); "
                      "this is a defect of the agent: please report it")

    def round(self) -> None:
        """Looks and acts until the decision waits for the next poll. A failure raises: the
        session is kept as it was before the action that failed."""
        for _ in range(_LOOKS_PER_ROUND):
            decision = decide(self.look(), self.session)
            for action in decision.actions:
                self._act(action, decision.session)
            self.session = decision.session
            if not decision.look_again:
                break
        self._said = ""

    def _act(self, action: Action, session: Session | None) -> None:
        settings = self._settings
        if isinstance(action, StopArchiving):
            self._recovery_point.set(None)
            self.log("this server is no longer the primary; the primary archives from now on")
        elif isinstance(action, BeginHistory):
            self._begin(action)
        elif isinstance(action, Rotate):
            try:
                self._sql.execute("FLUSH BINARY LOGS")
            except SqlError as error:
                raise ArchiveRoundFailed(f"FLUSH BINARY LOGS failed: {error}; trying again in "
                                         f"{settings.poll_seconds:g}s", "FLUSH BINARY LOGS") from None
        elif isinstance(action, WarnPurged):
            self.log(f"WARNING: {', '.join(action.names)} purged before it was archived: a point-in-time "
                     "restore across it will report a gap; take a new backup")
        elif isinstance(action, CopyLog):
            assert session is not None
            destination = settings.history_path(session.history)
            try:
                # copyto: the object keeps the log's name (rclone copy would take a directory).
                self._target.run(["copyto", str(settings.datadir / action.name),
                                  f"{destination}/{action.name}"], action.name)
            except (RcloneError, TargetProblem) as error:
                raise ArchiveRoundFailed(f"could not copy {action.name} to {destination}; retrying in "
                                         f"{settings.poll_seconds:g}s: {error}", f"copy {action.name}") from None
            self._record(with_archived(self._current_state(session.history), action.name))
            self.log(f"archived {action.name}")
        elif isinstance(action, RecordRecoveryPoint) and self._recovery_point.get() != action.unix_time:
            self._recovery_point.set(action.unix_time)
            # Said at each new value (once an interval at most): how far a restore can reach.
            self.log(f"recovery point {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(action.unix_time))} "
                     f"({action.unix_time}): every transaction committed before it is archived")

    def _current_state(self, history: str) -> ArchiveState:
        state = self._state()
        return state if state is not None and state.history == history else ArchiveState(history)

    def _record(self, state: ArchiveState) -> None:
        """Written whole, by rename."""
        path = self._settings.state_file
        partial = path.with_name(path.name + ".tmp")
        try:
            partial.write_text(format_state(state), encoding="utf-8")
            partial.replace(path)
        except OSError as error:
            message = (f"cannot record the binary log history in {path}: {error.strerror}; "
                       "is the data volume full or read-only?")
            raise ArchiveRoundFailed(message, message) from None

    def _begin(self, action: BeginHistory) -> None:
        settings = self._settings
        archive = settings.history_path(action.history)
        if action.new:
            self._record(ArchiveState(action.history))
        try:
            if not self._target.list(f"{archive}/started"):
                self._target.rcat(f"{archive}/started", self._position().encode())
        except (RcloneError, TargetProblem) as error:
            raise ArchiveRoundFailed(f"cannot write to the backup target at {archive}; check the target "
                                     f"settings and its Secret: {error}", f"begin {archive}") from None
        self.log(f"this server is the primary: archiving closed binary logs to {archive}; rotating at "
                 f"least every {settings.interval:g}s while written to")


def run_archiver(archiver: Archiver, stop: threading.Event) -> None:
    """The archiver's thread, until `stop` is set."""
    archiver.log("archiving the binary logs whenever this server is the primary")
    while not stop.is_set():
        archiver.round_or_say()
        stop.wait(archiver.poll_seconds)


def start_archiver(sql: Sql, dialect: Dialect, env: Mapping[str, str], stop: threading.Event,
                   log: Log) -> RecoveryPoint | None:
    """Starts the archiver's thread when the pod has a backup target; its recovery point."""
    settings = archiver_settings(env)
    if settings is None:
        return None
    recovery_point = RecoveryPoint()
    archiver = Archiver(sql, RcloneTarget.from_env(env), dialect, settings, recovery_point,
                        lambda message: log(f"binlog-archive: {message}"))
    threading.Thread(target=run_archiver, name="binlog-archive", daemon=True, args=(archiver, stop)).start()
    return recovery_point
