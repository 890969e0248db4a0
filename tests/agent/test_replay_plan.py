"""replay-plan's decisions: where restoreTo must lie (after the backup, inside the archive), where
a MySQL replay stops (the GTID event after restoreTo's transaction), what mysqlbinlog is told,
and the prologue that continues the GTID history."""
from __future__ import annotations

import calendar
import json
import time

import pytest

from mysql_cluster_agent.binlog import BinaryLog, Transaction
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import GtidState, parse_gtid
from mysql_cluster_agent.replay_plan import PlanProblem, ReplayPlan, main, plan_replay, prologue_sql
from mysql_cluster_agent.restore_handover import RestoreHandover

U = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
V = "4f22ab58-82db-22f2-af44-d91bb0530673"
T0 = calendar.timegm(time.strptime("2026-01-01T02:00:00Z", "%Y-%m-%dT%H:%M:%SZ"))


def log(name: str, flavor: Flavor, begins: str, gtids: list[str], last: int = T0 + 600,
        closed: bool = True) -> BinaryLog:
    """A log whose transactions begin at offsets 200, 400, ... and which ends at 100 past the last."""
    transactions = tuple(Transaction(g, 200 * (i + 1), T0 + i) for i, g in enumerate(gtids))
    return BinaryLog(name, flavor, "9.7.4", parse_gtid(flavor, begins), transactions, last,
                     200 * (len(gtids) + 1) - 100, closed)


def handover(restore_to: str, gtid: str) -> RestoreHandover:
    return RestoreHandover("20260101T015000Z", "2026-01-01T02:00:00Z", gtid, "tar", "20260101T000000Z",
                           restore_to)


def plan(restore_to: str, backup: str, logs: list[BinaryLog], flavor: Flavor = Flavor.MYSQL) -> ReplayPlan:
    state: GtidState = parse_gtid(flavor, backup)
    return plan_replay(handover(restore_to, backup), state, logs, flavor)


MYSQL_LOGS = [log("mysql-bin.000001", Flavor.MYSQL, f"{U}:1-5", [f"{U}:6", f"{V}:1", f"{U}:7"]),
              log("mysql-bin.000002", Flavor.MYSQL, f"{U}:1-7,{V}:1", [f"{U}:8", f"{U}:9"])]


def test_latest_replays_every_archived_log_skipping_what_the_server_holds():
    assert plan("latest", f"{U}:1-5", MYSQL_LOGS) == ReplayPlan(
        ("mysql-bin.000001", "mysql-bin.000002"), "--exclude-gtids=", ())


def test_a_mysql_gtid_stops_at_the_next_transactions_event_in_its_log_and_drops_later_logs():
    assert plan(f"{V}:1", f"{U}:1-5", MYSQL_LOGS) == ReplayPlan(
        ("mysql-bin.000001",), "--exclude-gtids=", ("--stop-position=600",))


def test_a_mysql_gtid_that_ends_its_log_replays_the_log_whole():
    assert plan(f"{U}:7", f"{U}:1-5", MYSQL_LOGS).options == ()


def test_a_mysql_gtid_in_upper_case_is_found_as_the_server_writes_it():
    assert plan(f"{U.upper()}:8", f"{U}:1-5", MYSQL_LOGS).options == ("--stop-position=400",)


@pytest.mark.parametrize("restore_to, backup, logs, refusal", [
    (f"{U}:3", f"{U}:1-5", MYSQL_LOGS, f"restoreTo {U}:3 is in backup 20260101T015000Z .*choose an older backup"),
    (f"{U}:99", f"{U}:1-5", MYSQL_LOGS, f"restoreTo {U}:99 is in neither backup .* nor the 2 binary logs archived"),
    (f"{U}:6", f"{U}:1-5", [], "no binary logs were archived after backup"),
    (f"{U}:6-7", f"{U}:1-5", MYSQL_LOGS, "neither \"\", latest, a UTC time .* nor one transaction's GTID"),
    (f"{U}:6", f"{U}:1-5", [log("mysql-bin.000001", Flavor.MYSQL, f"{U}:1-5", [f"{U}:6"], closed=False)],
     "which its server had not closed"),
])
def test_a_mysql_restore_to_outside_the_backup_and_archive_is_refused(restore_to, backup, logs, refusal):
    with pytest.raises(PlanProblem, match=refusal):
        plan(restore_to, backup, logs)


def test_a_time_stops_mysqlbinlog_at_that_time():
    assert plan("2026-01-01T02:05:00Z", f"{U}:1-5", MYSQL_LOGS).options == (
        "--stop-datetime=2026-01-01 02:05:00",)


@pytest.mark.parametrize("restore_to, refusal", [
    ("2026-01-01T02:00:00Z", r"is before backup 20260101T015000Z ended \(2026-01-01T02:00:00Z\)"),
    ("2026-01-01T02:10:01Z", r"is after the last archived change \(2026-01-01T02:10:00Z\)"),
])
def test_a_time_outside_the_backup_and_archive_is_refused(restore_to, refusal):
    with pytest.raises(PlanProblem, match=refusal):
        plan(restore_to, f"{U}:1-5", MYSQL_LOGS)


MARIADB_LOGS = [log("mysql-bin.000001", Flavor.MARIADB, "0-1-5", ["0-1-6", "0-1-7"]),
                log("mysql-bin.000002", Flavor.MARIADB, "0-1-7", ["0-2-8"])]


def test_a_mariadb_position_stops_mariadb_binlog_there():
    assert plan("0-2-8", "0-1-5", MARIADB_LOGS, Flavor.MARIADB) == ReplayPlan(
        ("mysql-bin.000001", "mysql-bin.000002"), "--start-position=", ("--stop-position=0-2-8",))


@pytest.mark.parametrize("restore_to, refusal", [
    ("0-1-4", "restoreTo 0-1-4 is not after backup 20260101T015000Z's position 0-1-5"),
    ("0-1-9", r"restoreTo 0-1-9 is after the last archived transaction \(0-2-8\)"),
])
def test_a_mariadb_position_outside_the_backup_and_archive_is_refused(restore_to, refusal):
    with pytest.raises(PlanProblem, match=refusal):
        plan(restore_to, "0-1-5", MARIADB_LOGS, Flavor.MARIADB)


def test_the_mysql_prologue_resets_replication_and_the_binary_logs_then_sets_gtid_purged_outside_the_log():
    assert prologue_sql(Flavor.MYSQL, "9.7", parse_gtid(Flavor.MYSQL, f"{U}:1-5")).splitlines() == [
        "SET sql_log_bin=0;", "STOP REPLICA;", "RESET REPLICA ALL;", "RESET BINARY LOGS AND GTIDS;",
        f"SET GLOBAL gtid_purged='{U}:1-5';", "SET sql_log_bin=1;"]


def test_the_mariadb_prologue_sets_the_binary_log_state():
    assert prologue_sql(Flavor.MARIADB, "11.8", parse_gtid(Flavor.MARIADB, "0-1-5,1-2-3")).splitlines()[-3:] == [
        "RESET MASTER;", "SET GLOBAL gtid_binlog_state='0-1-5,1-2-3';", "SET sql_log_bin=1;"]


def test_a_crafted_gtid_in_the_hand_over_stops_the_plan_before_any_server(tmp_path, capsys):
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    fields = {"backup": "20260101T015000Z", "end_time": "2026-01-01T02:00:00Z", "gtid": "0-1-5';$(touch x)",
              "format": "xbstream", "binlog_history": "", "restore_to": "", "replaying": False}
    (tmp_path / "restore-pending.json").write_text(json.dumps(fields))
    env = {"DB_FLAVOR": "mariadb", "DATA_VOLUME": str(tmp_path), "DATA_SUBDIR": "mysql",
           "REPLAY_PLAN_DIR": str(plan_dir)}
    assert main(env) == 1
    assert "replay-plan: FATAL: the restore's hand-over" in capsys.readouterr().err
    assert list(plan_dir.iterdir()) == [], "restore-replay finds no plan: it starts no server"
