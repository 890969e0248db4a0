"""restore-replay.sh on MySQL with restoreTo one GTID: the real script, with stub tools (the
pod of test_backup_trust_script.py) whose mysqlbinlog prints the decoded archive given here. The
replay is cut in binary-log order just after the target's transaction, whatever other sources'
transactions interleave; a target the archive and the backup lack stops it before any server."""
from __future__ import annotations

import pytest

from test_backup_trust_script import NAME, pod  # noqa: F401 (the fixture)

OLD = "3e11fa47-71ca-11e1-9e33-c80aa9000100"  # the first primary
NEW = "5b0c1d2e-3f40-11f1-8a9b-0242ac120002"  # the primary after a failover
BACKUP_GTID = f"{OLD}:1-4"


def transaction(at: int, gtid: str) -> str:
    """mysqlbinlog's decoding of one transaction: its GTID event at `at`, then its row events
    and COMMIT, 234 bytes in all."""
    return (f"# at {at}\n#260101  2:32:00 server id 1  end_log_pos {at + 79} CRC32 0x1a2b3c4d \tGTID\t"
            f"last_committed=0\tsequence_number=1\trbr_only=yes\n"
            f"/*!50718 SET TRANSACTION ISOLATION LEVEL READ COMMITTED*//*!*/;\n"
            f"SET @@SESSION.GTID_NEXT= '{gtid}'/*!*/;\n"
            f"# at {at + 79}\n#260101  2:32:00 server id 1  end_log_pos {at + 203} CRC32 0x1a2b3c4d \t"
            f"Write_rows: table id 90 flags: STMT_END_F\nBINLOG '\nAAAA\n'/*!*/;\n"
            f"# at {at + 203}\n#260101  2:32:00 server id 1  end_log_pos {at + 234} CRC32 0x1a2b3c4d \t"
            f"Xid = 12\nCOMMIT/*!*/;\n")


def decoded_log(*gtids: str) -> str:
    body = "".join(transaction(197 + 234 * index, gtid) for index, gtid in enumerate(gtids))
    return (f"# at 4\n#260101  2:31:00 server id 1  end_log_pos 126 CRC32 0x1a2b3c4d \tStart: binlog v 4\n"
            f"# at 126\n#260101  2:31:00 server id 1  end_log_pos 197 CRC32 0x1a2b3c4d \tPrevious-GTIDs\n"
            f"# {BACKUP_GTID}\n{body}"
            "SET @@SESSION.GTID_NEXT= 'AUTOMATIC' /* added by mysqlbinlog */ /*!*/;\nDELIMITER ;\n")


@pytest.fixture
def mysql_pod(pod, tmp_path):  # noqa: F811 (the fixture imported above)
    """Pod 0 of a MySQL cluster after restore.sh: backup NAME at BACKUP_GTID, and two archived
    logs in which the old and the new primary's transactions interleave."""
    archive = {"mysql-bin.000004": decoded_log(f"{OLD}:5", f"{NEW}:1", f"{OLD}:6"),
               "mysql-bin.000005": decoded_log(f"{NEW}:2")}
    (tmp_path / "decoded").mkdir()
    (pod.data / "restore-binlogs").mkdir()
    for log, text in archive.items():
        (pod.data / "restore-binlogs" / log).write_text("binary")
        (tmp_path / "decoded" / log).write_text(text)
    (pod.data / "restore-pending").write_text(f"name={NAME}\ngtid={BACKUP_GTID}\nend=2026-01-01T02:31:00Z\n")
    stubs, calls = tmp_path / "stubs", pod.calls
    state = f"{OLD}:1-6,\n{NEW}:1-2"
    bodies = {
        # Decodes one log alone (the search); a replay (options, logs) prints no statements.
        "mysqlbinlog": f'if (($# == 1)); then exec cat "{tmp_path}/decoded/$(basename "$1")"; fi',
        "mysqld": "sleep 60 & child=$!\ntrap 'kill $child; exit 0' TERM\nwait",
        "mysql": f'[[ " $* " == *" -e "* ]] || cat >/dev/null\nprintf "%s\\n" "${{STUB_STATE:-{state}}}"',
    }
    for tool, body in bodies.items():
        (stubs / tool).write_text(f'#!/bin/bash\necho "{tool} $*" >>"{calls}"\n{body}\n')
    pod.run_mysql = lambda target, **env: pod.run("restore-replay.sh", DB_FLAVOR="mysql",
                                                  DB_VERSION="8.4", RESTORE_TO=target, **env)
    pod.replays = lambda: [line.split()[1:] for line in calls.read_text().splitlines()
                           if line.startswith("mysqlbinlog --")]
    return pod


def test_a_gtid_target_replays_up_to_its_transaction_in_binary_log_order(mysql_pod):
    result = mysql_pod.run_mysql(f"{NEW}:1")
    assert result.returncode == 0, result.stderr
    # The next transaction's GTID event (OLD:6) begins at 197 + 2 * 234; no later log is read.
    assert mysql_pod.replays() == [[f"--exclude-gtids={OLD}:1-6,{NEW}:1-2", "--stop-position=665",
                                    str(mysql_pod.data / "restore-binlogs" / "mysql-bin.000004")]]
    assert f"restore of backup {NAME} complete" in result.stderr


def test_a_gtid_target_that_ends_its_log_replays_that_log_whole_and_no_later_one(mysql_pod):
    result = mysql_pod.run_mysql(f"{OLD.upper()}:6")
    assert result.returncode == 0, result.stderr
    assert mysql_pod.replays() == [[f"--exclude-gtids={OLD}:1-6,{NEW}:1-2",
                                    str(mysql_pod.data / "restore-binlogs" / "mysql-bin.000004")]]


def test_a_replay_that_ends_without_the_targets_transaction_fails_and_keeps_the_archive(mysql_pod):
    """The archive held only the start of the transaction (its log was cut): the server's GTID
    state after the replay lacks the target, so nothing is marked done and the pod retries."""
    result = mysql_pod.run_mysql(f"{NEW}:1", STUB_STATE=f"{OLD}:1-5")
    assert result.returncode != 0
    assert f"the replay ended before restoreTo {NEW}:1's transaction was complete" in result.stderr, \
        result.stderr
    assert (mysql_pod.data / "restore-pending").exists()
    assert (mysql_pod.data / "restore-binlogs" / "mysql-bin.000004").exists()


def test_a_gtid_target_neither_archived_nor_in_the_backup_stops_before_any_server(mysql_pod):
    result = mysql_pod.run_mysql(f"{NEW}:3")
    assert result.returncode != 0
    assert (f"restoreTo {NEW}:3 is in neither backup {NAME} nor the 2 binary logs archived after it; "
            "name a GTID the primary committed after the backup") in result.stderr, result.stderr
    assert not mysql_pod.ran("mysqld") and not mysql_pod.replays()


def test_a_gtid_target_inside_the_backup_asks_for_an_older_backup(mysql_pod):
    result = mysql_pod.run_mysql(f"{OLD}:3")
    assert result.returncode != 0
    assert f"restoreTo {OLD}:3 is in backup {NAME}" in result.stderr, result.stderr
    assert "choose an older backup in restoreFrom" in result.stderr
    assert not mysql_pod.ran("mysqld")


@pytest.mark.parametrize("target", ["0-100-50", f"{OLD}:0", f"{OLD}:1-6", f"{OLD}:6;id", f"{OLD}:$((1))"])
def test_a_target_that_is_not_one_mysql_gtid_is_refused_before_anything_runs(mysql_pod, target):
    result = mysql_pod.run_mysql(target)
    assert result.returncode != 0
    assert "restoreTo is not well-formed" in result.stderr, result.stderr
    assert not mysql_pod.ran("mysqlbinlog") and not mysql_pod.ran("mysqld")
