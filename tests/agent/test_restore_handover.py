"""The restore's hand-over on the data volume: what the plan writes the replay reads back; the file
is on a claim, so anything else in it is refused in one line."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.restore_handover import (
    HandoverRefused, RestoreHandover, handover_path, read_handover, remove_handover, write_handover)

HANDOVER = RestoreHandover(backup="20260101T023000Z", end_time="2026-01-01T02:31:07Z", gtid="0-100-42",
                           format="xbstream", binlog_history="20251231T000000Z", restore_to="latest")


def test_what_the_plan_writes_the_replay_reads(tmp_path: Path):
    write_handover(tmp_path, HANDOVER, Flavor.MARIADB)
    assert read_handover(tmp_path, Flavor.MARIADB) == HANDOVER
    assert not list(tmp_path.glob("*.tmp"))


def test_the_replay_marks_that_it_set_the_gtid_state(tmp_path: Path):
    write_handover(tmp_path, HANDOVER, Flavor.MARIADB)
    write_handover(tmp_path, replace(HANDOVER, replaying=True), Flavor.MARIADB)
    handover = read_handover(tmp_path, Flavor.MARIADB)
    assert handover is not None and handover.replaying


def test_no_file_means_no_pending_restore(tmp_path: Path):
    assert read_handover(tmp_path, Flavor.MYSQL) is None
    write_handover(tmp_path, HANDOVER, Flavor.MARIADB)
    remove_handover(tmp_path)
    assert read_handover(tmp_path, Flavor.MARIADB) is None


@pytest.mark.parametrize(("change", "refusal"), [
    ({"gtid": "0-100-seq[$(id)]"}, "gtid is not well-formed"),
    ({"gtid": ""}, "gtid is not well-formed"),
    ({"gtid": "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"}, "gtid is not well-formed"),  # a MySQL set
    ({"backup": "../x"}, "backup is not well-formed"),
    ({"end_time": "yesterday"}, "end_time is not well-formed"),
    ({"binlog_history": "../../etc"}, "binlog_history is not well-formed"),
    ({"restore_to": "DROP TABLE"}, "restore_to is not well-formed"),
    ({"binlog_history": ""}, "binlog_history is not well-formed"),  # restoreTo needs a history
    ({"replaying": "yes"}, "replaying is not a bool"),
    ({"extra": 1}, "is not what the restore wrote"),
    ({"format": None}, "is not what the restore wrote"),
])
def test_a_hand_over_file_changed_on_the_claim_is_refused(tmp_path: Path, change, refusal):
    write_handover(tmp_path, HANDOVER, Flavor.MARIADB)
    data = json.loads(handover_path(tmp_path).read_text())
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    handover_path(tmp_path).write_text(json.dumps(data))
    with pytest.raises(HandoverRefused) as refused:
        read_handover(tmp_path, Flavor.MARIADB)
    assert refusal in str(refused.value) and "\n" not in str(refused.value)
    assert "PersistentVolumeClaim" in str(refused.value)


def test_a_hand_over_that_is_not_json_is_refused(tmp_path: Path):
    handover_path(tmp_path).write_text("name=20260101T023000Z\n")
    with pytest.raises(HandoverRefused, match="is not what the restore wrote"):
        read_handover(tmp_path, Flavor.MARIADB)


def test_the_plan_cannot_write_what_the_replay_would_refuse(tmp_path: Path):
    with pytest.raises(HandoverRefused, match="gtid is not well-formed"):
        write_handover(tmp_path, replace(HANDOVER, gtid="x"), Flavor.MARIADB)
    assert not handover_path(tmp_path).exists()
