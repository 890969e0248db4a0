"""`replay-plan`: what restore-replay.sh does with a restored backup, decided before it starts the
server (backups.py runs it as an init container before restore-replay).

From the restore's hand-over (restore_handover.py), the GTID state the restored data holds (the
backup tool's info files, backup_info.py, or the manifest's for a CLONE tar) and the archived
binary logs (binlog.py), it checks that restoreTo lies inside what the backup and the archive
cover, cuts the archive at restoreTo's transaction (MySQL: the offset of the GTID event after it),
and writes for the bash, one value a file in REPLAY_PLAN_DIR (a memory volume):
  backup           the restored backup's name (its presence: a restore is pending)
  binlogs          the archived logs to replay, one path a line, oldest first
  start-option     mysqlbinlog's option that skips what the server holds, its value appended by
                   the bash from `position-query`'s answer
  binlog-options   mysqlbinlog's further options, one a line (where to stop)
  position-query   the statement that reads the server's GTID state
  up-to            " up to <restoreTo>" for the log, or nothing
  prologue.sql     the SQL that continues the GTID history at the backup's state, outside the
                   binary log; absent once it ran (restore-replay.sh leaves REPLAYING_MARK)
Every refusal is one line in the container's log naming what to change.
"""
from __future__ import annotations

import datetime
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .backup_info import BackupInfoError, backup_coordinates
from .binlog import BinaryLog, BinlogError, read_binary_log
from .dialect import Flavor, dialect_for
from .gtid import GtidState, MariadbGtidState, MysqlGtidSet, holds, parse_gtid
from .restore_handover import (
    HandoverRefused,
    RestoreHandover,
    binlogs_path,
    read_handover,
    write_handover,
)

# Archived binary logs, named as the cluster's servers name them (MariaDB 11.4+ keeps a GTID
# index, mysql-bin.000001.idx, beside each: not a log).
BINLOG_FILE = re.compile(r"mysql-bin\.[0-9]{6,10}")
# Left by restore-replay.sh on the data volume once the prologue ran: a retry resumes.
REPLAYING_MARK = "restore-replaying"
_UTC = "%Y-%m-%dT%H:%M:%SZ"


class PlanProblem(Exception):
    """A restore that cannot go on as configured; str() says what to change."""


def log_line(step: str) -> Callable[[str], None]:
    """A logger for `step`, lines as the scripts print them (time, step, message)."""
    def log(message: str) -> None:
        stamp = time.strftime(_UTC, time.gmtime())
        print(f"{stamp} {step}: {message}", file=sys.stderr, flush=True)
    return log


def flavor_of(env: Mapping[str, str]) -> Flavor:
    try:
        return Flavor(env.get("DB_FLAVOR", ""))
    except ValueError:
        raise PlanProblem(f"environment variable DB_FLAVOR is {env.get('DB_FLAVOR', '')!r}; use mysql or "
                          "mariadb") from None


def pending_restore(data_volume: Path, flavor: Flavor) -> RestoreHandover:
    try:
        handover = read_handover(data_volume, flavor)
    except HandoverRefused as refused:
        raise PlanProblem(str(refused)) from None
    if handover is None:
        raise PlanProblem(f"no restore is pending in {data_volume} (the restore step left no hand-over); "
                          "see the restore container's log")
    return handover


def restored_coordinates(handover: RestoreHandover, datadir: Path, flavor: Flavor) -> GtidState:
    """The GTID state the restored data holds: a CLONE's (tar) as the manifest carries it from
    the clone's end record, a physical backup's from the info files the backup tool wrote."""
    if handover.format == "tar":
        return parse_gtid(flavor, handover.gtid)
    try:
        found = backup_coordinates(flavor, datadir)
    except BackupInfoError as error:
        raise PlanProblem(str(error)) from None
    if found is None:
        raise PlanProblem(f"backup {handover.backup} does not say which GTID position it holds (no info file "
                          f"in {datadir}); choose another backup")
    return found.gtid


def binary_logs(data_volume: Path) -> list[Path]:
    directory = binlogs_path(data_volume)
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if BINLOG_FILE.fullmatch(path.name))


def position_query(flavor: Flavor) -> str:
    """The server's GTID state: where a replay (resumed or not) continues from."""
    return "SELECT @@GLOBAL.gtid_binlog_pos" if flavor is Flavor.MARIADB else "SELECT @@GLOBAL.gtid_executed"


@dataclass(frozen=True)
class ReplayPlan:
    logs: tuple[str, ...]  # names of the archived logs to replay, in order
    start_option: str
    options: tuple[str, ...]


def _target_gtid(flavor: Flavor, target: str) -> GtidState:
    """restoreTo as a GTID: MySQL's one transaction (uuid:number), MariaDB's a position (one
    domain-server-sequence per domain)."""
    state = parse_gtid(flavor, target)
    if isinstance(state, MysqlGtidSet):
        [((_uuid, tag), intervals)] = state.sources or [(("", "x"), ())]
        if tag or len(intervals) != 1 or intervals[0][0] != intervals[0][1]:
            raise ValueError("not one transaction")
    elif not state.entries:
        raise ValueError("no position")
    return state


def plan_replay(handover: RestoreHandover, backup: GtidState, logs: Sequence[BinaryLog],
                flavor: Flavor) -> ReplayPlan:
    """The replay of `logs` (oldest first) onto a backup at `backup` up to handover.restore_to;
    PlanProblem when restoreTo lies outside what the backup and the archive cover."""
    name, target = handover.backup, handover.restore_to
    start = "--start-position=" if flavor is Flavor.MARIADB else "--exclude-gtids="
    names = tuple(log.name for log in logs)
    if target in ("", "latest"):
        return ReplayPlan(names, start, ())
    if not logs:
        raise PlanProblem(f"restoreTo {target}: no binary logs were archived after backup {name}; set restoreTo "
                          "to \"\" or wait for the archive")
    if target.endswith("Z"):
        wanted = datetime.datetime.strptime(target, _UTC)
        if wanted <= datetime.datetime.strptime(handover.end_time, _UTC):
            raise PlanProblem(f"restoreTo {target} is before backup {name} ended ({handover.end_time}); choose an "
                              "older backup in restoreFrom")
        last = datetime.datetime.fromtimestamp(max(log.last_timestamp for log in logs), datetime.timezone.utc)
        if wanted > last.replace(tzinfo=None):
            raise PlanProblem(f"restoreTo {target} is after the last archived change ({last.strftime(_UTC)}); choose "
                              "an earlier time, or wait until the archive reaches it (binlogArchiveIntervalSeconds)")
        # mysqlbinlog reads it in the container's time zone, UTC (backups.py sets TZ).
        return ReplayPlan(names, start, (f"--stop-datetime={wanted:%Y-%m-%d %H:%M:%S}",))
    try:
        wanted_gtid = _target_gtid(flavor, target)
    except ValueError:
        raise PlanProblem(f"restoreTo {target} is neither \"\", latest, a UTC time (2026-01-01T02:30:00Z) nor one "
                          "transaction's GTID; correct restoreTo") from None
    if isinstance(wanted_gtid, MariadbGtidState) and isinstance(backup, MariadbGtidState):
        if backup.reaches(wanted_gtid):
            raise PlanProblem(f"restoreTo {target} is not after backup {name}'s position {backup}; choose an older "
                              "backup in restoreFrom")
        ended = logs[-1].begins_at
        assert isinstance(ended, MariadbGtidState)
        for transaction in logs[-1].transactions:
            ended = ended.after(MariadbGtidState.parse(transaction.gtid))
        if not ended.reaches(wanted_gtid):
            last_gtid = next((t.gtid for log in reversed(logs) for t in reversed(log.transactions)), "none")
            raise PlanProblem(f"restoreTo {target} is after the last archived transaction ({last_gtid}); choose an "
                              "earlier position, or wait until the archive reaches it")
        return ReplayPlan(names, start, (f"--stop-position={wanted_gtid}",))
    gtid = str(wanted_gtid)
    if holds(backup, wanted_gtid):
        raise PlanProblem(f"restoreTo {gtid} is in backup {name} (GTID set {backup}), not after it; choose an "
                          "older backup in restoreFrom")
    # "To a GTID" is a point in binary-log order, whatever other sources' transactions
    # interleave (failovers): the logs before its log whole, its log up to the next transaction.
    for index, log in enumerate(logs):
        after = log.after(gtid)
        if after is None:
            continue
        if not log.closed:
            raise PlanProblem(f"restoreTo {gtid} is in archived binary log {log.name}, which its server had not "
                              "closed: the archive may hold only its start; wait until the archive has the rest "
                              "(binlogArchiveIntervalSeconds)")
        stop = () if after == log.end else (f"--stop-position={after}",)
        return ReplayPlan(names[:index + 1], start, stop)
    raise PlanProblem(f"restoreTo {gtid} is in neither backup {name} nor the {len(logs)} binary logs archived "
                      "after it; name a GTID the primary committed after the backup (its gtid_executed), or wait "
                      "until the archive reaches it (binlogArchiveIntervalSeconds)")


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def prologue_sql(flavor: Flavor, version: str, backup: GtidState) -> str:
    """Outside the binary log: the backup's replication settings go, and new transactions
    continue the GTID history at the backup's state."""
    dialect = dialect_for(flavor, version)
    state = (f"SET GLOBAL gtid_binlog_state={_quoted(str(backup))};" if flavor is Flavor.MARIADB
             else f"SET GLOBAL gtid_purged={_quoted(str(backup))};")
    return "\n".join(["SET sql_log_bin=0;", f"{dialect.stop_replica};", f"{dialect.reset_replica_all};",
                      f"{dialect.reset_binary_logs};", state, "SET sql_log_bin=1;", ""])


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def main(env: Mapping[str, str] = os.environ) -> int:
    log = log_line("replay-plan")
    try:
        flavor, data_volume = flavor_of(env), Path(env.get("DATA_VOLUME", ""))
        plan_dir = Path(env.get("REPLAY_PLAN_DIR", ""))
        for stale in plan_dir.iterdir():
            stale.unlink()
        handover = read_handover(data_volume, flavor)
        if handover is None:
            log("no restore pending")
            return 0
        backup = restored_coordinates(handover, data_volume / env.get("DATA_SUBDIR", ""), flavor)
        paths = binary_logs(data_volume)
        plan = plan_replay(handover, backup, [read_binary_log(path, flavor) for path in paths], flavor)
        mark = data_volume / REPLAYING_MARK
        if mark.exists() and not handover.replaying:
            handover = replace(handover, replaying=True)
            write_handover(data_volume, handover, flavor)
        mark.unlink(missing_ok=True)
        if not handover.replaying:
            _write(plan_dir, "prologue.sql", prologue_sql(flavor, env.get("DB_VERSION", ""), backup))
        by_name = {path.name: path for path in paths}
        _write(plan_dir, "binlogs", "".join(f"{by_name[name]}\n" for name in plan.logs))
        _write(plan_dir, "start-option", plan.start_option)
        _write(plan_dir, "binlog-options", "".join(f"{option}\n" for option in plan.options))
        _write(plan_dir, "position-query", position_query(flavor) + ";\n")
        _write(plan_dir, "up-to", f" up to {handover.restore_to}" if handover.restore_to else "")
        _write(plan_dir, "backup", handover.backup)
    except (PlanProblem, HandoverRefused, BinlogError) as problem:
        log(f"FATAL: {problem}")
        return 1
    except OSError as error:
        log(f"FATAL: cannot write the replay's plan: {error}; the pod retries")
        return 1
    target = handover.restore_to
    log(f"backup {handover.backup} at GTID {backup}: replaying {len(plan.logs)} archived binary logs"
        f"{f' up to {target}' if target else ''}")
    return 0
