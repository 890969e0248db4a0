"""Where a physical backup stands in the primary's history, read from the files the backup tool
writes next to the data: the GTID set (MySQL) or GTID position (MariaDB) a server made from it
starts replicating at. Every server of the cluster runs with GTIDs, so a backup without one was
taken from a server that is not part of it: that is refused, never a fallback to binary log
positions.

The files, named ``xtrabackup_<kind>`` or, from MariaDB 11.1, ``mariadb_backup_<kind>``:
- ``slave_info``, from a backup of a replica: ``SET GLOBAL gtid_purged='<set>'`` (MySQL) or
  ``SET GLOBAL gtid_slave_pos = '<position>'`` (MariaDB) and a CHANGE statement, with or without
  the semicolons; only the position form (``..._LOG_FILE='f', ..._LOG_POS=n``) when the replica
  does not use GTIDs.
- ``binlog_info``: ``file<TAB>position``, and a third column, the GTID state, when GTIDs are on
  (a MySQL set of several sources may go on over more lines).
A MariaDB replica's gtid_slave_pos is its canonical position, so the replica file wins; on MySQL
both carry the donor's gtid_executed. A file of nothing but blanks and semicolons says nothing
(kubernetes/website #13054), as if absent.

The files come from a backup stream or a bucket: untrusted. They are read bounded and strictly,
and the GTID must be one of the flavor's (gtid.py); anything else is a BackupInfoError whose
one-line message names the file and what to do."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .dialect import Flavor
from .gtid import GtidState, parse_gtid

# The backup tool's two prefixes, the newer first.
PREFIXES = ("mariadb_backup", "xtrabackup")
# Far more than any info file the tools write; a larger one is not theirs.
MAX_INFO_BYTES = 1 << 20
_SHOWN = 120
_REPLICA_GTID = re.compile(r"(?:gtid_purged|gtid_slave_pos)\s*=\s*'([^']*)'", re.IGNORECASE)
_SAYS_SOMETHING = re.compile(r"[^\s;]")
_POSITION = re.compile(r"0|[1-9][0-9]{0,19}")


class BackupInfoError(Exception):
    """An info file that is unreadable, or does not hold a GTID state of this cluster's flavor."""


@dataclass(frozen=True)
class BackupCoordinates:
    gtid: GtidState
    # The info file it was read from, for the log.
    source: Path


def shown(text: str) -> str:
    """Text from a file as it may appear in a log line: printable, one line, bounded."""
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable[:_SHOWN]


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_INFO_BYTES + 1)
    except OSError as error:
        raise BackupInfoError(f"{path} is unreadable ({error.strerror}); the copy is incomplete: clone again") from error
    if len(data) > MAX_INFO_BYTES:
        raise BackupInfoError(f"{path} is larger than {MAX_INFO_BYTES} bytes, so not the backup tool's; refusing the backup")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BackupInfoError(f"{path} is not text ({error.reason}), so not the backup tool's; refusing the backup") from error


def _info_file(directory: Path, kind: str) -> tuple[Path, str] | None:
    """The first info file of this kind that says something, with its text."""
    for prefix in PREFIXES:
        path = directory / f"{prefix}_{kind}"
        if path.is_file():
            text = _read(path)
            if _SAYS_SOMETHING.search(text):
                return path, text
    return None


def _checked(flavor: Flavor, path: Path, text: str) -> GtidState:
    try:
        return parse_gtid(flavor, "".join(text.split()))
    except ValueError as error:
        raise BackupInfoError(
            f"{path} holds no valid {flavor.value} GTID ('{shown(text)}': {error}): the backup was altered "
            "or is not of this cluster; refusing it") from error


def _from_replica_info(flavor: Flavor, path: Path, text: str) -> GtidState:
    found = _REPLICA_GTID.search(text)
    if found is None or not found.group(1).strip():
        raise BackupInfoError(
            f"{path} has no GTID position: the donor replicates without GTIDs, so it is not a pod of this "
            f"cluster: {shown(text)}")
    return _checked(flavor, path, found.group(1))


def _from_binlog_info(flavor: Flavor, path: Path, text: str) -> GtidState:
    columns = text.split(None, 2)
    if len(columns) < 3:
        raise BackupInfoError(
            f"{path} has no GTID column: the donor runs without GTIDs, so it is not a pod of this cluster: "
            f"{shown(text)}")
    if not _POSITION.fullmatch(columns[1]):
        raise BackupInfoError(
            f"{path} is not file, position and GTID ('{shown(text)}'): the backup was altered or is not of "
            "this cluster; refusing it")
    return _checked(flavor, path, columns[2])


def backup_coordinates(flavor: Flavor, directory: Path) -> BackupCoordinates | None:
    """The GTID state the backup in directory holds; None when it has no info file that says
    anything (the caller says what that means for its copy); BackupInfoError on a refusal."""
    replica = _info_file(directory, "slave_info")
    if replica is not None:
        return BackupCoordinates(_from_replica_info(flavor, *replica), replica[0])
    binlog = _info_file(directory, "binlog_info")
    if binlog is not None:
        return BackupCoordinates(_from_binlog_info(flavor, *binlog), binlog[0])
    return None
