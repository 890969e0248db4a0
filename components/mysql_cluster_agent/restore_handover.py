"""What the restore plan hands to the replay on pod 0's data volume: restore-pending.json, next
to the archived binary logs it fetched (restore-binlogs/). It is written before the restored data
directory appears (a crash between them leaves no data directory, so the restore repeats) and
removed by the replay once the server holds what restoreTo asked for.

It lives on a claim, so reading it is as strict as reading a manifest: one JSON object with
exactly these fields, each of its type and grammar; anything else is refused with one line.
Written and read by this module only.

    write_handover(data_volume, handover, flavor)  # atomically, synced; HandoverRefused
    read_handover(data_volume, flavor)             # None when no restore is pending; HandoverRefused
    write_handover(data_volume, replace(handover, replaying=True), flavor)  # the GTID state is set
    remove_handover(data_volume)
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from dataclasses import fields as fields_of
from pathlib import Path
from typing import Optional

from .backup_manifest import BACKUP_NAME, FORMAT, UTC_TIME, is_backup_name, shown
from .dialect import Flavor
from .gtid import parse_gtid

HANDOVER_FILE = "restore-pending.json"
# The archived binary logs the replay applies (restoreTo), fetched by the restore plan.
BINLOGS_DIR = "restore-binlogs"


class HandoverRefused(ValueError):
    """A hand-over file that is not what the restore plan wrote; str() is the one-line refusal."""


@dataclass(frozen=True)
class RestoreHandover:
    backup: str  # the restored backup's name
    end_time: str  # when it ended (UTC, 2026-01-01T02:30:00Z): a replay by time starts before it
    gtid: str  # the GTID state the restored data holds (the manifest's)
    format: str  # the backup's stream: xbstream (MariaDB) or tar (a MySQL clone)
    binlog_history: str  # the archived binary log history fetched, "" when none is replayed
    restore_to: str  # restoreTo as the restore was planned: "", "latest", a UTC time or a GTID
    replaying: bool = False  # the replay has set the GTID state: a retry resumes, never resets


def handover_path(data_volume: Path) -> Path:
    return data_volume / HANDOVER_FILE


def binlogs_path(data_volume: Path) -> Path:
    return data_volume / BINLOGS_DIR


def _check(handover: RestoreHandover, flavor: Flavor, source: str) -> RestoreHandover:
    def refuse(field: str, value: object) -> HandoverRefused:
        return HandoverRefused(f"{source}: {field} is not well-formed ('{shown(value)}'); it is not what the "
                               "restore wrote: delete the pod's PersistentVolumeClaim to restore anew")
    if not is_backup_name(handover.backup):
        raise refuse("backup", handover.backup)
    if UTC_TIME.fullmatch(handover.end_time) is None:
        raise refuse("end_time", handover.end_time)
    try:
        parse_gtid(flavor, handover.gtid)
    except ValueError:
        raise refuse("gtid", handover.gtid) from None
    if not handover.gtid.strip():
        raise refuse("gtid", handover.gtid)
    if FORMAT.fullmatch(handover.format) is None:
        raise refuse("format", handover.format)
    if handover.binlog_history and BACKUP_NAME.fullmatch(handover.binlog_history) is None:
        raise refuse("binlog_history", handover.binlog_history)
    if handover.restore_to not in ("", "latest") and UTC_TIME.fullmatch(handover.restore_to) is None:
        try:
            parse_gtid(flavor, handover.restore_to)
        except ValueError:
            raise refuse("restore_to", handover.restore_to) from None
    if handover.restore_to and not handover.binlog_history:
        raise refuse("binlog_history", handover.binlog_history)
    return handover


def write_handover(data_volume: Path, handover: RestoreHandover, flavor: Flavor) -> None:
    """Writes the file atomically (a temporary file synced, then renamed)."""
    path = handover_path(data_volume)
    _check(handover, flavor, f"the restore's hand-over to write to {path}")
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as file:
        json.dump(asdict(handover), file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    directory = os.open(data_volume, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_handover(data_volume: Path, flavor: Flavor) -> Optional[RestoreHandover]:
    """The pending restore's hand-over; None when there is none."""
    path = handover_path(data_volume)
    source = f"the restore's hand-over {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise HandoverRefused(f"cannot read {source}: {shown(error)}; delete the pod's PersistentVolumeClaim "
                              "to restore anew") from None
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    expected = [item.name for item in fields_of(RestoreHandover)]
    if not isinstance(fields, dict) or set(fields) != set(expected):
        raise HandoverRefused(f"{source} is not what the restore wrote (a JSON object with the fields "
                              f"{', '.join(expected)}); delete the pod's PersistentVolumeClaim to restore anew")
    for name, value in fields.items():
        kind = bool if name == "replaying" else str
        if type(value) is not kind:
            raise HandoverRefused(f"{source}: {name} is not a {kind.__name__} ('{shown(value)}'); delete the "
                                  "pod's PersistentVolumeClaim to restore anew")
    return _check(RestoreHandover(**fields), flavor, source)


def remove_handover(data_volume: Path) -> None:
    handover_path(data_volume).unlink(missing_ok=True)
