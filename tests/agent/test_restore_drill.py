"""The restore drill's judgement: the archive's chain from the backup on (each log begins where the
one before ended, the first not after the backup), what the replay must apply and reach, and the
verdict on the scratch server's position, its own binary log, every table's checksum and
pt-table-checksum's chunks (both namings of the primary's columns, compared as pt-table-checksum
compares a replica's)."""
from __future__ import annotations

import pytest

from mysql_cluster_agent.binlog import BinaryLog, Transaction
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.restore_drill import (
    ChainBroken,
    ChunkComparison,
    DrillFailed,
    DrillPlan,
    chain_end,
    compare_chunks,
    read_tables,
    verdict,
)

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


# What the scratch server printed for CHECKSUM TABLE (restore-drill.sh), as the verdict reads it.
STATEMENTS = ["CHECKSUM TABLE `app`.`events` EXTENDED;", "CHECKSUM TABLE `app`.`orders` EXTENDED;"]


def test_every_table_with_a_checksum_reads_whole():
    tables = read_tables(STATEMENTS, ["app.events\t3081573225", "app.orders\t0"], "")
    assert [(t.table, t.checksum) for t in tables] == [("app.events", 3081573225), ("app.orders", 0)]


@pytest.mark.parametrize("printed, errors, said", [
    (["app.events\t3081573225"],
     "ERROR 1877 (HY000) at line 2: Operation cannot be performed. The table 'app.orders' is missing, corrupt "
     "or contains bad data.\n",
     "ERROR 1877 (HY000): Operation cannot be performed. The table 'app.orders' is missing, corrupt"),
    (["app.events\t3081573225"], "ERROR 2013 (HY000) at line 2: Lost connection to server during query\n",
     "ERROR 2013 (HY000): Lost connection to server during query"),
    (["app.events\t3081573225"], "", "the client stopped"),
    (["app.events\t3081573225", "app.orders\tNULL", "Error (Code 1146): Table 'app.orders' doesn't exist"], "",
     "its checksum is NULL: Error (Code 1146): Table 'app.orders' doesn't exist"),
    (["app.events\t3081573225", "app.orders\tNULL"], "", "its checksum is NULL: the server gave no reason"),
], ids=["the server refused it", "the server died reading it", "the client stopped silently",
        "NULL with the server's reason", "NULL without a reason"])
def test_the_first_table_that_does_not_read_whole_fails_naming_it_and_what_the_server_said(printed, errors, said):
    with pytest.raises(DrillFailed) as failure:
        read_tables(STATEMENTS, printed, errors)
    assert str(failure.value).startswith("table `app`.`orders` of the restored backup does not read back whole: ")
    assert said in str(failure.value)
    assert "at line" not in str(failure.value)


def test_a_line_that_is_neither_a_checksum_nor_a_warning_fails_showing_it():
    with pytest.raises(DrillFailed, match="CHECKSUM TABLE printed an unexpected line: something else"):
        read_tables(STATEMENTS, ["app.events\t1", "something else"], "")


# pt-table-checksum's table as the client prints it: a header, then tab-separated rows, NULL as NULL.
SOURCE_COLUMNS = ["db", "tbl", "chunk", "chunk_time", "chunk_index", "lower_boundary", "upper_boundary",
                  "this_crc", "this_cnt", "source_crc", "source_cnt", "ts"]
MASTER_COLUMNS = [name.replace("source_", "master_") for name in SOURCE_COLUMNS]


def printed(columns: list[str], *rows: dict[str, str]) -> list[str]:
    base = {"db": "app", "tbl": "events", "chunk": "1", "chunk_time": "0.01", "chunk_index": "NULL",
            "lower_boundary": "NULL", "upper_boundary": "NULL", "this_crc": "5dd3a2e1", "this_cnt": "600",
            "ts": "2026-01-01 02:00:00"}
    lines = ["\t".join(columns)]
    for row in rows:
        values = {**base, **{f"{side}_{kind}": base[f"this_{kind}"] for side in ("source", "master")
                             for kind in ("crc", "cnt")}, **row}
        lines.append("\t".join(values[name] for name in columns))
    return lines


@pytest.mark.parametrize("columns", [SOURCE_COLUMNS, MASTER_COLUMNS], ids=["source_ (3.7)", "master_ (older)"])
@pytest.mark.parametrize("row, differs", [
    ({}, False),
    ({"this_crc": "0badf00d"}, True),
    ({"this_cnt": "599"}, True),
    ({"source_crc": "NULL", "master_crc": "NULL"}, True),
    ({"this_crc": "NULL"}, True),
    ({"this_crc": "NULL", "source_crc": "NULL", "master_crc": "NULL"}, False),
    ({"source_cnt": "NULL", "master_cnt": "NULL"}, False),
], ids=["equal", "differing crc", "differing counts", "primary's crc NULL", "recomputed crc NULL", "both crc NULL",
        "primary's count NULL (as pt-table-checksum: only the crc then)"])
def test_a_chunk_differs_as_pt_table_checksum_compares_a_replicas(columns, row, differs):
    comparison = compare_chunks(columns, printed(columns, row))
    assert comparison.compared == 1
    assert comparison.differing == (("app.events chunk 1 checksummed at 2026-01-01 02:00:00",) if differs else ())


def test_differing_chunks_are_named_oldest_first():
    rows = [{"chunk": "2", "this_cnt": "1", "ts": "2026-01-01 03:00:00"}, {"chunk": "10", "this_cnt": "1"},
            {"chunk": "3"}]
    assert compare_chunks(SOURCE_COLUMNS, printed(SOURCE_COLUMNS, *rows)).differing == (
        "app.events chunk 10 checksummed at 2026-01-01 02:00:00", "app.events chunk 2 checksummed at 2026-01-01 03:00:00")


@pytest.mark.parametrize("columns, table, compared", [
    ([], [], None),
    (["db", "tbl", "chunk", "this_crc", "this_cnt", "ts"], printed(["db", "tbl", "chunk", "this_crc", "this_cnt", "ts"], {}),
     None),
    (SOURCE_COLUMNS, [], 0),
], ids=["no table", "neither naming", "no chunk yet"])
def test_chunks_are_not_compared_without_the_primarys_columns(columns, table, compared):
    assert compare_chunks(columns, table) == ChunkComparison(compared, ())


def test_a_row_that_does_not_parse_fails_showing_it():
    with pytest.raises(DrillFailed, match=r"a row of percona.checksums does not parse: app\?events"):
        compare_chunks(SOURCE_COLUMNS, [*printed(SOURCE_COLUMNS), "app\tevents"])
