"""The binary log archive's decisions (binlog_archive.decide) and its strict readers of the index
and its state file, as tables: what the archiver does for each view of its server and volume."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from mysql_cluster_agent.binlog_archive import (
    ArchiveState,
    BeginHistory,
    CopyLog,
    Decision,
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
)

NOW = 1_764_990_000  # 2025-12-06T03:00:00Z
HISTORY = "20251206T020000Z"
LOGS = ("mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003")


A_VIEW = View(primary=True, monotonic=1000.0, wall=NOW, interval=300.0, position="0-1-10",
              closed_logs=LOGS, present=frozenset(LOGS), state=ArchiveState(HISTORY, LOGS[:1]),
              newest_history=HISTORY)
A_SESSION = Session(history=HISTORY, rotated_at=900.0, rotated_position="0-1-8", closed_before=NOW - 100)


def view(**fields: Any) -> View:
    return replace(A_VIEW, **fields)


def session(**fields: Any) -> Session:
    return replace(A_SESSION, **fields)


@pytest.mark.parametrize("case, seen, kept, expected", [
    ("a replica does nothing",
     view(primary=False), None, Decision((), None)),
    ("a primary that became a replica stops archiving",
     view(primary=False), session(), Decision((StopArchiving(),), None)),
    ("a restarted primary continues its history while it is the newest on the target",
     view(), None, Decision((BeginHistory(HISTORY, new=False),), Session(HISTORY, 1000.0, "0-1-10"), True)),
    ("a primary whose history is no longer the newest begins one named by now",
     view(newest_history="20251206T025000Z"), None,
     Decision((BeginHistory("20251206T030000Z", new=True),), Session("20251206T030000Z", 1000.0, "0-1-10"), True)),
    ("a new primary begins a history",
     view(state=None, newest_history=None), None,
     Decision((BeginHistory("20251206T030000Z", new=True),), Session("20251206T030000Z", 1000.0, "0-1-10"), True)),
    ("a primary whose clock is behind the newest history's names its own after it",
     view(state=None, newest_history="20251206T030500Z"), None,
     Decision((BeginHistory("20251206T030501Z", new=True),), Session("20251206T030501Z", 1000.0, "0-1-10"), True)),
    ("a log written to for the interval is rotated, and what was committed before now becomes the recovery point",
     view(monotonic=1200.0), session(), Decision((Rotate(),), Session(HISTORY, 1200.0, "0-1-10", NOW), True)),
    ("a log not written to since the last rotation is not rotated, and the recovery point moves to now",
     view(monotonic=1200.0, position="0-1-8"), session(),
     Decision((), Session(HISTORY, 1200.0, "0-1-8", NOW), True)),
    ("the first rotation after beginning happens even without writes: the open log may hold unarchived ones",
     view(monotonic=1200.0, position="0-1-8"), session(closed_before=None),
     Decision((Rotate(),), Session(HISTORY, 1200.0, "0-1-8", NOW), True)),
    ("before the interval, every closed log not yet archived is copied in order, then the recovery point recorded",
     view(), session(),
     Decision((CopyLog(LOGS[1]), CopyLog(LOGS[2]), RecordRecoveryPoint(NOW - 100)), session())),
    ("no recovery point is claimed before the first rotation",
     view(), session(closed_before=None),
     Decision((CopyLog(LOGS[1]), CopyLog(LOGS[2])), session(closed_before=None))),
    ("a state file of another history counts nothing as archived",
     view(state=ArchiveState("20251205T000000Z", LOGS)), session(),
     Decision((*map(CopyLog, LOGS), RecordRecoveryPoint(NOW - 100)), session())),
    ("a log listed without its file is warned about and skipped",
     view(present=frozenset(LOGS[:2])), session(),
     Decision((WarnPurged((LOGS[2],)), CopyLog(LOGS[1]), RecordRecoveryPoint(NOW - 100)), session())),
    ("logs the server purged between the newest archived and the oldest listed are warned about",
     view(closed_logs=("mysql-bin.000004",), present=frozenset({"mysql-bin.000004"})), session(),
     Decision((WarnPurged(LOGS[1:]), CopyLog("mysql-bin.000004"), RecordRecoveryPoint(NOW - 100)), session())),
    ("with everything archived only the recovery point is recorded",
     view(state=ArchiveState(HISTORY, LOGS)), session(), Decision((RecordRecoveryPoint(NOW - 100),), session())),
])
def test_the_archive_decides(case: str, seen: View, kept: Session | None, expected: Decision) -> None:
    assert decide(seen, kept) == expected, case


@pytest.mark.parametrize("index, expected", [
    ("./mysql-bin.000001\n./mysql-bin.000002\n", ("mysql-bin.000001",)),
    ("/var/lib/mysql/mysql-bin.000007\n/var/lib/mysql/mysql-bin.000008\n/var/lib/mysql/mysql-bin.000009\n",
     ("mysql-bin.000007", "mysql-bin.000008")),
    ("./mysql-bin.000001\n", ()),
    ("", ()),
])
def test_the_closed_logs_are_every_log_of_the_index_but_the_newest(index: str, expected: tuple[str, ...]) -> None:
    assert closed_logs(index, "the index") == expected


@pytest.mark.parametrize("index", [
    "./mysql-bin.000001\n../../etc/passwd\n./mysql-bin.000002\n",
    "./mysql-bin.1\n./mysql-bin.000002\n",
    "./other-bin.000001\n./mysql-bin.000002\n",
])
def test_an_index_naming_anything_but_a_binary_log_is_refused_naming_it(index: str) -> None:
    with pytest.raises(UntrustedFile, match="the index names .* not a binary log of this server; refusing"):
        closed_logs(index, "the index")


def test_the_state_file_reads_back_what_was_written() -> None:
    state = ArchiveState(HISTORY, LOGS)
    assert read_state(format_state(state), "state") == state


@pytest.mark.parametrize("text, refused", [
    ("", "not JSON"),
    ("[]", "not an object of history and archived"),
    ('{"history": "20251206T020000Z"}', "not an object of history and archived"),
    ('{"history": "../x", "archived": []}', "names history '../x', not a time"),
    ('{"history": "20251206T020000Z", "archived": ["../../etc/passwd"]}', "archived logs not named like"),
    ('{"history": "20251206T020000Z", "archived": "mysql-bin.000001"}', "archived logs not named like"),
])
def test_a_state_file_not_of_its_form_is_refused_saying_what(text: str, refused: str) -> None:
    with pytest.raises(UntrustedFile, match=refused):
        read_state(text, "state")


@pytest.mark.parametrize("entries, expected", [
    ([], None),
    (["20251205T000000Z/", "20251206T020000Z/", "20251204T000000Z/"], "20251206T020000Z"),
    (["20251207T000000Z", "junk/", "20251206T020000Z/"], "20251206T020000Z"),
])
def test_the_newest_history_is_the_latest_directory_named_like_one(entries: list[str], expected: str | None) -> None:
    assert newest_history(entries) == expected
