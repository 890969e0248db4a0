"""The restore drill's judgement (mysql_cluster/restore_drill.py builds its pod).

`drill-plan`, after the restore fetched the newest backup and its archived binary logs and before
the replay: proves that the logs form one unbroken chain from the backup's GTID state on, and
records the transactions the replay must apply (those after the backup, in the archive's order)
and the GTID state it must then reach. Every binary log begins with the GTID state its server had
when it began it (binlog.py: MySQL's Previous_gtids, MariaDB's Gtid_list), so each archived log
must begin exactly where the one before it ended, and the first not after the backup.

`drill-verdict`, last: after the replay and the scratch server's own checks (restore-drill.sh:
a clean start; what it printed for CHECKSUM TABLE on every table, for pt-table-checksum's table and
for its GTID state, written to files), judges whether every table read whole, compares that state
with the expected one, the chunks pt-table-checksum's rounds recomputed with the primary's, and the
transactions the replay wrote to the scratch server's own binary log with the archive's; prints
the verdict as its last line.

Everything read here (the archive, the restored data, what the scratch server printed) is
untrusted: parsed strictly, refused with one line naming it.
"""
from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .binlog import BinaryLog, BinlogError, read_binary_log
from .dialect import Flavor
from .gtid import GtidState, MariadbGtidState, MysqlGtidSet, parse_gtid
from .replay_plan import (
    BINLOG_FILE,
    PlanProblem,
    binary_logs,
    flavor_of,
    log_line,
    pending_restore,
    position_query,
    restored_coordinates,
)

# What the plan leaves for the verdict, on the scratch volume (read by this module only), and
# the files restore-drill.sh writes there for it: the client's output as printed, in batch mode
# (tab-separated, NULL as NULL).
PLAN_FILE = "drill-plan.json"
RESULTS_DIR = "drill-results"
POSITION_QUERY, POSITION = "position-query", "position"
# One `CHECKSUM TABLE <table> EXTENDED;` a line; what one client printed running them in order,
# stopping at the first that failed (--show-warnings: each result's warnings follow it); its errors.
CHECKSUM_STATEMENTS, CHECKSUMS, CHECKSUM_ERRORS = "checksum-statements", "checksums", "checksum-errors"
# percona.checksums' column names, one a line (none: no such table), and the whole table, headed
# by its column names.
CHUNK_COLUMNS, CHUNKS = "checksums-columns", "percona-checksums"
_SHOWN = 300
_STATEMENT = re.compile(r"CHECKSUM TABLE (.+) EXTENDED;")
_CHECKSUM_ROW = re.compile(r"(.+)\t(\d+|NULL)")
_SERVER_NOTE = re.compile(r"(?:Note|Warning|Error) \(Code \d+\): .*")
# The client numbers its input's lines, here the statements file, which no user sees.
_AT_LINE = re.compile(r" at line \d+:")


class DrillFailed(Exception):
    """The drill's verdict on a failure; str() is what follows "VERDICT: restore drill FAILED: "."""


class ChainBroken(Exception):
    """An archive that is not one chain from the backup on; str() names the gap and what to do."""


@dataclass(frozen=True)
class DrillPlan:
    backup: str
    expected: GtidState  # the state the replay must reach
    replayed: tuple[str, ...]  # the GTIDs it must apply, in order


def _shown(text: str) -> str:
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable[:_SHOWN] + ("..." if len(printable) > _SHOWN else "")


_MISSING_LOG = ("a log between them is missing from the archive, and a point-in-time restore across it "
                "would lose transactions. Take a new backup now, and look in the primary's binlog-archive "
                "log for 'purged before it was archived' or 'could not copy'")
_BEGINS_AFTER = "Take a new backup now; the archive covers what follows it"


def _mysql_chain(backup: MysqlGtidSet, logs: Sequence[BinaryLog]) -> tuple[GtidState, list[str]]:
    replayed: list[str] = []
    ended: Optional[MysqlGtidSet] = None
    previous = ""
    for log in logs:
        begins = log.begins_at
        assert isinstance(begins, MysqlGtidSet)
        if ended is None and not backup.holds(begins):
            raise ChainBroken(f"GAP: the archive begins after the backup's position: {log.name} begins after "
                              f"transactions {_shown(str(begins.minus(backup)))} that are in neither backup "
                              f"{_shown(str(backup))} nor any archived log. {_BEGINS_AFTER}")
        if ended is not None and begins != ended:
            missing = str(begins.minus(ended))
            raise ChainBroken(f"GAP: archived binary log {log.name} begins after GTID set {_shown(str(begins))} but "
                              f"{previous} ended at {_shown(str(ended))}"
                              f"{f' (transactions in no archived log: {_shown(missing)})' if missing else ''}: "
                              f"{_MISSING_LOG}")
        logged = MysqlGtidSet.parse(",".join(t.gtid for t in log.transactions))
        replayed += [t.gtid for t in log.transactions if not backup.holds(MysqlGtidSet.parse(t.gtid))]
        ended, previous = begins.union(logged), log.name
    return backup.union(ended or MysqlGtidSet(())), replayed


def _mariadb_chain(backup: MariadbGtidState, logs: Sequence[BinaryLog]) -> tuple[GtidState, list[str]]:
    replayed: list[str] = []
    ended: Optional[MariadbGtidState] = None
    previous = ""
    backed_up = {domain: sequence for (domain, _server), sequence in backup.position().entries}
    for log in logs:
        begins = log.begins_at
        assert isinstance(begins, MariadbGtidState)
        if ended is None and not backup.reaches(begins):
            raise ChainBroken(f"GAP: the archive begins after the backup's position ({log.name} begins at "
                              f"[{begins}], the backup is at {backup}): the transactions between are in no "
                              f"archived log. {_BEGINS_AFTER}")
        if ended is not None and begins != ended:
            raise ChainBroken(f"GAP: archived binary log {log.name} begins at GTID state [{begins}] but {previous} "
                              f"ended at [{ended}]: {_MISSING_LOG}")
        logged = [MariadbGtidState.parse(t.gtid) for t in log.transactions]
        replayed += [t.gtid for t, gtid in zip(log.transactions, logged)
                     if gtid.entries[0][1] > backed_up.get(gtid.entries[0][0][0], 0)]
        ended, previous = begins, log.name
        for gtid in logged:
            ended = ended.after(gtid)
    reached = MariadbGtidState.parse(",".join([str(backup), *replayed]))
    return reached.position(), replayed


def chain_end(backup_name: str, backup: GtidState, logs: Sequence[BinaryLog]) -> DrillPlan:
    """What a replay of `logs` (oldest first) onto the backup must apply and reach; ChainBroken
    naming the first gap."""
    if isinstance(backup, MysqlGtidSet):
        expected, replayed = _mysql_chain(backup, logs)
    else:
        expected, replayed = _mariadb_chain(backup, logs)
    return DrillPlan(backup_name, expected, tuple(replayed))


@dataclass(frozen=True)
class TableChecksum:
    table: str  # as the server prints it, <schema>.<table>
    checksum: Optional[int]  # None: the server printed NULL, it could not read the table
    notes: tuple[str, ...]  # the warnings it printed with it


def read_tables(statements: Sequence[str], printed: Sequence[str], errors: str) -> list[TableChecksum]:
    """Every table's checksum, from CHECKSUM TABLE's `statements` and what the client `printed`
    for them; DrillFailed naming the first table that did not read back whole (the client's
    error where it stopped, or a NULL checksum and the server's warnings)."""
    results: list[TableChecksum] = []
    for line in printed:
        row = _CHECKSUM_ROW.fullmatch(line)
        if row:
            results.append(TableChecksum(row[1], None if row[2] == "NULL" else int(row[2]), ()))
        elif _SERVER_NOTE.fullmatch(line) and results:
            results[-1] = TableChecksum(results[-1].table, results[-1].checksum, (*results[-1].notes, line))
        else:
            raise DrillFailed(f"CHECKSUM TABLE printed an unexpected line: {_shown(line)}")
    if len(results) > len(statements):
        raise DrillFailed(f"CHECKSUM TABLE printed {len(results)} results for {len(statements)} tables")
    for index, statement in enumerate(statements):
        named = _STATEMENT.fullmatch(statement)
        table = named[1] if named else statement
        if index == len(results):
            error = _AT_LINE.sub(":", errors.strip().splitlines()[0]) if errors.strip() else "the client stopped before it, printing no error"
            raise DrillFailed(f"table {_shown(table)} of the restored backup does not read back whole: {_shown(error)}")
        if results[index].checksum is None:
            said = " ".join(results[index].notes) or "the server gave no reason (see its error log)"
            raise DrillFailed(f"table {_shown(table)} of the restored backup does not read back whole: its checksum "
                              f"is NULL: {_shown(said)}")
    return results


@dataclass(frozen=True)
class ChunkComparison:
    compared: Optional[int]  # None: no percona.checksums with the primary's columns
    differing: tuple[str, ...]  # "<db>.<tbl> chunk <n> checksummed at <ts>", oldest first


# pt-table-checksum (percona-toolkit bin/pt-table-checksum) writes the primary's own result of a
# chunk as source_crc and source_cnt since 3.7; tables an older one made have master_crc and
# master_cnt.
_PRIMARYS_COLUMNS = (("source_crc", "source_cnt"), ("master_crc", "master_cnt"))


def compare_chunks(columns: Sequence[str], table: Sequence[str]) -> ChunkComparison:
    """The chunks of percona.checksums (`table`: its header, then its rows, as the client prints
    them) where the scratch server's recomputed checksum (this_crc, this_cnt) differs from the
    primary's, as pt-table-checksum compares a replica's: counts that differ, checksums that
    differ, or a checksum on one side only. Not compared without the primary's columns."""
    names = {name.lower() for name in columns}
    chosen = next(((crc, cnt) for crc, cnt in _PRIMARYS_COLUMNS if {crc, cnt} <= names), None)
    if chosen is None or not table:
        return ChunkComparison(None if chosen is None else 0, ())
    header = [name.lower() for name in table[0].split("\t")]
    wanted = ("db", "tbl", "chunk", "ts", "this_crc", "this_cnt", *chosen)
    missing = [name for name in wanted if name not in header]
    if missing:
        raise DrillFailed(f"percona.checksums as printed lacks the columns {', '.join(missing)}")
    differing: list[tuple[str, str, str, int, str]] = []
    for line in table[1:]:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DrillFailed(f"a row of percona.checksums does not parse: {_shown(line)}")
        db, tbl, chunk, ts, this_crc, this_cnt, crc, cnt = (fields[header.index(name)] for name in wanted)
        try:
            counts_differ = "NULL" not in (cnt, this_cnt) and int(cnt) != int(this_cnt)
            number = int(chunk)
        except ValueError:
            raise DrillFailed(f"a row of percona.checksums has a count or chunk that is no number: {_shown(line)}") from None
        # A checksum on one side only (NULL on the other) differs too.
        if counts_differ or crc != this_crc:
            differing.append((ts, db, tbl, number, f"{db}.{tbl} chunk {chunk} checksummed at {ts}"))
    return ChunkComparison(len(table) - 1, tuple(chunk for *_, chunk in sorted(differing)))


def verdict(plan: DrillPlan, position: GtidState, applied: Sequence[str], differing: Sequence[str]) -> None:
    """DrillFailed unless the scratch server stands at the expected position (MariaDB: the last
    GTID of each domain), pt-table-checksum found no chunk that differs, and the server's own
    binary log holds exactly the transactions the plan expected, in order."""
    reached = position.position() if isinstance(position, MariadbGtidState) else position
    if reached != plan.expected:
        raise DrillFailed(
            f"the restored server is at GTID {_shown(str(reached))}, but backup {plan.backup} and the archived "
            f"binary logs reach {_shown(str(plan.expected))}: the replay lost or added transactions. Restores from "
            "this backup would not match the source; take a new backup and see restore-replay's log")
    if differing:
        raise DrillFailed(
            "the restored data differs from the source's: pt-table-checksum's checksums replayed from the archive "
            f"differ from the primary's for {len(differing)} chunks (first: {_shown(differing[0])}). A change reached "
            "the primary's data without its binary log, or the backup's donor had drifted; a restore would not "
            "match the source. Run pt-table-checksum against the replicas, rebuild any that differ, and take a "
            "new backup")
    if tuple(applied) != plan.replayed:
        index = next((i for i, (a, b) in enumerate(zip(applied, plan.replayed)) if a != b),
                     min(len(applied), len(plan.replayed)))
        shown_applied = " ".join(applied[index:index + 3]) or "nothing"
        shown_archived = " ".join(plan.replayed[index:index + 3]) or "nothing"
        raise DrillFailed(
            f"the replay did not apply exactly the archived transactions after backup {plan.backup} (from "
            f"transaction {index + 1} after it on, it applied {_shown(shown_applied)} where the archive holds {_shown(shown_archived)}): a "
            "restore would silently lose or add them. See restore-replay's log, and take a new backup")


def _write_plan(path: Path, plan: DrillPlan) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"backup": plan.backup, "expected": str(plan.expected),
                                     "replayed": list(plan.replayed)}) + "\n", encoding="utf-8")
    temporary.replace(path)


def _read_plan(path: Path, flavor: Flavor) -> DrillPlan:
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        replayed = fields["replayed"]
        if not isinstance(replayed, list) or not all(isinstance(g, str) for g in replayed):
            raise ValueError("replayed is not a list of GTIDs")
        for gtid in replayed:
            parse_gtid(flavor, gtid)
        return DrillPlan(str(fields["backup"]), parse_gtid(flavor, str(fields["expected"])), tuple(replayed))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PlanProblem(f"the drill plan {path} is unreadable ({_shown(str(error))}); see drill-plan's log") from None


def plan_main(env: Mapping[str, str]) -> int:
    log = log_line("restore-drill-plan")
    try:
        flavor, data_volume = flavor_of(env), Path(env.get("DATA_VOLUME", ""))
        handover = pending_restore(data_volume, flavor)
        backup = restored_coordinates(handover, data_volume / env.get("DATA_SUBDIR", ""), flavor)
        paths = binary_logs(data_volume)
        if not paths:
            raise PlanProblem(f"no binary logs were archived with backup {handover.backup}, so no recovery point "
                              "after it can be proven; check the primary's binlog-archive container")
        plan = chain_end(handover.backup, backup, [read_binary_log(path, flavor) for path in paths])
        secrets_dir = Path(env.get("SECRETS_DIR", ""))
        secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The scratch server's own root password: the drill holds none of the cluster's.
        password = secrets_dir / "root-password"
        with os.fdopen(os.open(password, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(24) + "\n")
        results = data_volume / RESULTS_DIR
        results.mkdir(exist_ok=True)
        (results / POSITION_QUERY).write_text(position_query(flavor) + "\n", encoding="utf-8")
        _write_plan(data_volume / PLAN_FILE, plan)
    except (PlanProblem, BinlogError, ChainBroken) as problem:
        log(f"FATAL: {problem}")
        return 1
    except OSError as error:
        log(f"FATAL: cannot write the drill's plan: {error}; the drill is not run")
        return 1
    log(f"backup {plan.backup} at GTID {backup} and {len(paths)} archived binary logs form one chain; the replay "
        f"must apply {len(plan.replayed)} transactions and reach GTID {plan.expected}")
    return 0


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line]


def verdict_main(env: Mapping[str, str]) -> int:
    log = log_line("restore-drill")
    try:
        flavor, data_volume = flavor_of(env), Path(env.get("DATA_VOLUME", ""))
        plan = _read_plan(data_volume / PLAN_FILE, flavor)
        results = data_volume / RESULTS_DIR
        tables = read_tables(_lines(results / CHECKSUM_STATEMENTS), _lines(results / CHECKSUMS),
                             (results / CHECKSUM_ERRORS).read_text(encoding="utf-8", errors="replace"))
        for table in tables:
            log(f"checksum {_shown(table.table)} {table.checksum}")
        try:
            position = parse_gtid(flavor, (results / POSITION).read_text(encoding="utf-8").replace("\\n", ""))
        except ValueError as error:
            raise DrillFailed(f"the scratch server's GTID state does not parse ({error})") from None
        chunks = compare_chunks(_lines(results / CHUNK_COLUMNS), _lines(results / CHUNKS))
        if chunks.compared is None and (results / CHUNK_COLUMNS).read_text(encoding="utf-8").strip():
            log("percona.checksums has neither source_crc and source_cnt nor master_crc and master_cnt: its chunks "
                "are not compared")
        own = sorted((data_volume / env.get("DATA_SUBDIR", "")).glob("mysql-bin.*"))
        applied = [t.gtid for path in own if BINLOG_FILE.fullmatch(path.name)
                   for t in read_binary_log(path, flavor).transactions]
        verdict(plan, position, applied, chunks.differing)
    except (PlanProblem, OSError) as problem:
        log(f"VERDICT: restore drill FAILED: {problem}")
        return 1
    except BinlogError as problem:
        log(f"VERDICT: restore drill FAILED: the scratch server's own binary log does not read: {problem}")
        return 1
    except DrillFailed as failure:
        log(f"VERDICT: restore drill FAILED: {failure}")
        return 1
    log(f"VERDICT: restore drill passed: backup {plan.backup} and the {len(plan.replayed)} archived transactions "
        f"after it restored to GTID {plan.expected}, each applied once in order; the server started clean; "
        f"{len(tables)} tables read whole; {'none' if chunks.compared is None else chunks.compared} chunks "
        "checksummed by pt-table-checksum equal the source's")
    return 0


def main(command: str) -> int:
    """`drill-plan` or `drill-verdict`."""
    return plan_main(os.environ) if command == "drill-plan" else verdict_main(os.environ)
