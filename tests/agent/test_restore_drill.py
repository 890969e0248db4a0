"""The restore drill's judgement: the archive's chain from the backup on (each log begins where the
one before ended, the first not after the backup), what the replay must apply and reach, and the
verdict on the scratch server's position, its own binary log and pt-table-checksum's chunks."""
from __future__ import annotations

import pytest

from mysql_cluster_agent.binlog import BinaryLog, Transaction
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.restore_drill import ChainBroken, DrillFailed, DrillPlan, chain_end, verdict

U = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
V = "4f22ab58-82db-22f2-af44-d91bb0530673"
BACKUP = "20260101T015000Z"


def log(name: str, flavor: Flavor, begins: str, gtids: list[str]) -> BinaryLog:
    transactions = tuple(Transaction(g, 200 * (i + 1), 0) for i, g in enumerate(gtids))
    return BinaryLog(name, flavor, "", parse_gtid(flavor, begins), transactions, 0, 1000, True)


def mysql_plan(backup: str, *logs: tuple[str, list[str]]) -> DrillPlan:
    return chain_end(BACKUP, parse_gtid(Flavor.MYSQL, backup), [
        log(f"mysql-bin.{i:06d}", Flavor.MYSQL, begins, gtids) for i, (begins, gtids) in enumerate(logs, 1)])


def mariadb_plan(backup: str, *logs: tuple[str, list[str]]) -> DrillPlan:
    return chain_end(BACKUP, parse_gtid(Flavor.MARIADB, backup), [
        log(f"mysql-bin.{i:06d}", Flavor.MARIADB, begins, gtids) for i, (begins, gtids) in enumerate(logs, 1)])


def test_a_mysql_chain_expects_the_backup_plus_the_archive_and_the_transactions_after_the_backup():
    plan = mysql_plan(f"{U}:1-5", (f"{U}:1-3", [f"{U}:4", f"{U}:5", f"{U}:6"]), (f"{U}:1-6", [f"{V}:1", f"{U}:7"]))
    assert str(plan.expected) == f"{U}:1-7,{V}:1"
    assert plan.replayed == (f"{U}:6", f"{V}:1", f"{U}:7")


def test_a_mysql_archive_beginning_after_the_backup_is_a_gap_naming_the_lost_transactions():
    with pytest.raises(ChainBroken, match=rf"GAP: the archive begins after the backup's position: mysql-bin.000001 "
                                          rf"begins after transactions {U}:6-7 .*Take a new backup now"):
        mysql_plan(f"{U}:1-5", (f"{U}:1-7", [f"{U}:8"]))


def test_a_missing_mysql_log_is_a_gap_naming_the_transactions_in_no_archived_log():
    with pytest.raises(ChainBroken, match=rf"GAP: archived binary log mysql-bin.000002 begins after GTID set "
                                          rf"{U}:1-9 but mysql-bin.000001 ended at {U}:1-6 \(transactions in no "
                                          rf"archived log: {U}:7-9\)"):
        mysql_plan(f"{U}:1-5", (f"{U}:1-5", [f"{U}:6"]), (f"{U}:1-9", [f"{U}:10"]))


def test_a_mariadb_chain_expects_the_last_gtid_of_each_domain():
    plan = mariadb_plan("0-1-5", ("0-1-3", ["0-1-4", "0-1-5", "0-1-6"]), ("0-1-6", ["0-2-7", "1-2-1"]))
    assert str(plan.expected) == "0-2-7,1-2-1"
    assert plan.replayed == ("0-1-6", "0-2-7", "1-2-1")


def test_a_mariadb_log_must_begin_at_the_state_the_one_before_ended_in_every_server():
    with pytest.raises(ChainBroken, match=r"GAP: archived binary log mysql-bin.000002 begins at GTID state "
                                          r"\[0-1-9\] but mysql-bin.000001 ended at \[0-1-6\]"):
        mariadb_plan("0-1-5", ("0-1-5", ["0-1-6"]), ("0-1-9", ["0-1-10"]))


def test_a_mariadb_archive_beginning_after_the_backup_is_a_gap():
    with pytest.raises(ChainBroken, match=r"begins at \[0-1-8\], the backup is at 0-1-5"):
        mariadb_plan("0-1-5", ("0-1-8", ["0-1-9"]))


PLAN = DrillPlan(BACKUP, parse_gtid(Flavor.MYSQL, f"{U}:1-7"), (f"{U}:6", f"{U}:7"))


def test_a_server_at_the_expected_position_that_logged_the_archive_in_order_passes():
    verdict(PLAN, parse_gtid(Flavor.MYSQL, f"{U}:1-3:4-7"), [f"{U}:6", f"{U}:7"], [])


def test_a_server_at_another_position_fails_naming_both():
    with pytest.raises(DrillFailed, match=rf"the restored server is at GTID {U}:1-6, but backup {BACKUP} and the "
                                          rf"archived binary logs reach {U}:1-7: the replay lost or added"):
        verdict(PLAN, parse_gtid(Flavor.MYSQL, f"{U}:1-6"), [f"{U}:6"], [])


def test_a_transaction_applied_out_of_order_fails_naming_where():
    with pytest.raises(DrillFailed, match=rf"from transaction 1 after it on, it applied {U}:7 {U}:6 where the archive holds "
                                          rf"{U}:6 {U}:7"):
        verdict(PLAN, parse_gtid(Flavor.MYSQL, f"{U}:1-7"), [f"{U}:7", f"{U}:6"], [])


def test_a_differing_chunk_fails_naming_the_table():
    with pytest.raises(DrillFailed, match=r"the restored data differs from the source's: .* for 1 chunks \(first: "
                                          r"app.events chunk 1 checksummed at .*take a new backup"):
        verdict(PLAN, parse_gtid(Flavor.MYSQL, f"{U}:1-7"), [f"{U}:6", f"{U}:7"],
                ["app.events chunk 1 checksummed at 2026-01-01 02:00:00"])


def test_a_mariadb_server_is_judged_by_the_last_gtid_of_each_domain():
    plan = DrillPlan(BACKUP, parse_gtid(Flavor.MARIADB, "0-2-7"), ("0-2-7",))
    verdict(plan, parse_gtid(Flavor.MARIADB, "0-1-6,0-2-7"), ["0-2-7"], [])
