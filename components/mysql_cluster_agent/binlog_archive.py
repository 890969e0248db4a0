"""The binary log archive's decisions: a pure function of what the archiver sees (its server's
role, the closed binary logs, what it archived, the histories on the target, the clock) to the
actions that keep the archive whole. binlog_archiver.py gathers the view and acts.

While its server is the primary (writable: the role loop makes one so), the archiver copies every
closed binary log to binlogs/<history>/ on the backup target, and closes the log being written
(FLUSH BINARY LOGS) once it has been written to for the archive interval, so that what a
point-in-time restore can miss stays bounded. The logs one primary archives form one history,
named by when it began; the newest history on the target is the one being written, which backups
record. A restarted primary continues its history while it is still the newest; a new, restored
or returning primary begins one (its first log may hold transactions of the previous history: a
replay skips those by GTID). After a round that leaves every closed log archived, the recovery
point is every transaction committed before the last rotation was decided; the agent serves it as
a metric (metrics.py). A pod not archiving has none.

The index and the archiver's state file are on the data volume, a claim: both are parsed strictly
(UntrustedFile names what was refused).
"""
from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass, replace
from typing import Union

from .backup_manifest import BACKUP_NAME

# The binary log basename the server options set (log-bin=mysql-bin, server_config.py) and the
# server's numbering of its logs (at least six digits).
BINLOG_FILE = re.compile(r"mysql-bin\.[0-9]{6,10}")
INDEX_NAME = "mysql-bin.index"
# A history is named by the UTC time it began, as backups are (20260101T023000Z).
HISTORY_NAME = BACKUP_NAME
HISTORY_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
# The most the index and the state file may hold: a name per log for years of hourly rotations.
FILE_LIMIT = 4 * 2**20


class UntrustedFile(ValueError):
    """The index or the archiver's state file is not of its form; the message names what."""


@dataclass(frozen=True)
class ArchiveState:
    """What the archiver keeps on the data volume, so that a restarted agent continues: the
    history it writes and the logs of that history already copied."""

    history: str
    archived: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """What the archiver keeps in memory while its server is the primary."""

    history: str
    # When the log was last rotated, or the archiving began (monotonic seconds).
    rotated_at: float
    # The server's GTID position then: a log not written to since is not rotated again.
    rotated_position: str
    # Every transaction committed before this Unix time is in a closed log; None until the
    # first rotation (the open log may hold transactions no one archived yet).
    closed_before: int | None = None


@dataclass(frozen=True)
class View:
    """One look at the server and the data volume. `position` is the GTID position when the
    server is the primary. `newest_history` (the newest on the target) is looked up only when a
    history is to be begun (no session); None when the target has none."""

    primary: bool
    monotonic: float
    wall: int
    interval: float
    position: str = ""
    closed_logs: tuple[str, ...] = ()
    present: frozenset[str] = frozenset()  # the closed logs whose files are in the data directory
    state: ArchiveState | None = None
    newest_history: str | None = None


@dataclass(frozen=True)
class StopArchiving:
    """The server is no longer the primary: the primary archives from now on."""


@dataclass(frozen=True)
class BeginHistory:
    """Archive into `history`; `new`: record it on the data volume with nothing archived yet.
    The runner writes the `started` object (the position) unless the target has it."""

    history: str
    new: bool


@dataclass(frozen=True)
class Rotate:
    """FLUSH BINARY LOGS."""


@dataclass(frozen=True)
class CopyLog:
    name: str


@dataclass(frozen=True)
class WarnPurged:
    """Logs the server removed before they could be copied (the target was unreachable for
    longer than the retention): a gap that a restore across it will report."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class RecordRecoveryPoint:
    unix_time: int


Action = Union[StopArchiving, BeginHistory, Rotate, CopyLog, WarnPurged, RecordRecoveryPoint]


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...]
    # What the archiver keeps once the actions succeeded (None: not archiving).
    session: Session | None
    # Look again at once: the actions changed what the next look sees (a new history, a
    # rotation that closed a log).
    look_again: bool = False


def history_name(unix_time: float) -> str:
    return time.strftime(HISTORY_TIME_FORMAT, time.gmtime(unix_time))


def _history_time(name: str) -> int:
    return calendar.timegm(time.strptime(name, HISTORY_TIME_FORMAT))


def _new_history(view: View) -> str:
    """Named by now, and after the newest on the target: another pod's clock may be ahead of
    this one's, and the history being written must be the newest."""
    if view.newest_history is None:
        return history_name(view.wall)
    return history_name(max(view.wall, _history_time(view.newest_history) + 1))


def _number(log: str) -> int:
    return int(log.rpartition(".")[2])


def _purged(view: View, archived: tuple[str, ...]) -> tuple[str, ...]:
    """Closed logs gone before they were archived: listed without a file, or missing from the
    numbering between the newest archived log and the oldest the index still lists."""
    missing = [log for log in view.closed_logs if log not in view.present and log not in archived]
    if archived and view.closed_logs:
        newest, oldest = max(map(_number, archived)), min(map(_number, view.closed_logs))
        width = len(view.closed_logs[0].rpartition(".")[2])
        missing = [f"mysql-bin.{n:0{width}d}" for n in range(newest + 1, oldest)] + missing
    return tuple(missing)


def decide(view: View, session: Session | None) -> Decision:
    """The next actions of the archiver, and what it keeps when they succeed."""
    if not view.primary:
        return Decision((StopArchiving(),) if session else (), None)
    if session is None:
        recorded = view.state.history if view.state else None
        if recorded is not None and recorded == view.newest_history:
            history, new = recorded, False
        else:
            history, new = _new_history(view), True
        return Decision((BeginHistory(history, new),),
                        Session(history, view.monotonic, view.position), look_again=True)
    if view.monotonic - session.rotated_at >= view.interval:
        # What was committed before now is in the position read now, and so in a closed log
        # once that position has been rotated away: by this rotation, or by the one it equals.
        rotate = view.position != session.rotated_position or session.closed_before is None
        return Decision((Rotate(),) if rotate else (),
                        Session(session.history, view.monotonic, view.position, view.wall),
                        look_again=True)
    archived = view.state.archived if view.state and view.state.history == session.history else ()
    actions: list[Action] = []
    purged = _purged(view, archived)
    if purged:
        actions.append(WarnPurged(purged))
    actions += [CopyLog(log) for log in view.closed_logs if log in view.present and log not in archived]
    if session.closed_before is not None:
        actions.append(RecordRecoveryPoint(session.closed_before))
    return Decision(tuple(actions), session)


def closed_logs(index: str, where: str) -> tuple[str, ...]:
    """Every log the index lists but the newest, which the server still writes. The server
    writes each as a path (./mysql-bin.000001 or the data directory's); a name not of the
    binary log grammar stops the archive."""
    names = [line.rpartition("/")[2] for line in index.splitlines() if line]
    for name in names:
        if not BINLOG_FILE.fullmatch(name):
            raise UntrustedFile(f"{where} names {name[:80]!r}, not a binary log of this server; "
                                "refusing to archive it")
    return tuple(names[:-1])


def read_state(text: str, where: str) -> ArchiveState:
    """The archiver's state file, written by format_state."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UntrustedFile(f"{where} is not JSON ({error})") from None
    if not isinstance(value, dict) or set(value) != {"history", "archived"}:
        raise UntrustedFile(f"{where} is not an object of history and archived")
    history, archived = value["history"], value["archived"]
    if not isinstance(history, str) or not HISTORY_NAME.fullmatch(history):
        raise UntrustedFile(f"{where} names history {str(history)[:40]!r}, not a time like 20260101T023000Z")
    if not isinstance(archived, list) or not all(
            isinstance(name, str) and BINLOG_FILE.fullmatch(name) for name in archived):
        raise UntrustedFile(f"{where} lists archived logs not named like mysql-bin.000001")
    return ArchiveState(history, tuple(archived))


def format_state(state: ArchiveState) -> str:
    return json.dumps({"history": state.history, "archived": list(state.archived)}) + "\n"


def with_archived(state: ArchiveState, name: str) -> ArchiveState:
    return replace(state, archived=(*state.archived, name))


def newest_history(entries: list[str]) -> str | None:
    """The newest history among a listing of binlogs/ (directories end in '/'); an entry not
    named like a history is none of ours."""
    names = [entry.rstrip("/") for entry in entries if entry.endswith("/")]
    histories = sorted(name for name in names if HISTORY_NAME.fullmatch(name))
    return histories[-1] if histories else None
