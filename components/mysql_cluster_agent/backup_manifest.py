"""A backup's manifest (backups/<name>/manifest.json): what makes a backup complete, written by
the backup Job after a whole and verified upload, read by the restore and by retention.

It comes back from a bucket, so it is untrusted: read_manifest takes the JSON strictly (one
object, no duplicate key, no unknown field, every required field, each of its type and grammar)
and refuses anything else with one line naming the backup and what to do. Manifests written by
earlier versions with printf are the same JSON and read alike; those written before backups
recorded the namespace have none (they are no cluster's).

    manifest = read_manifest(text, name)      # ManifestRefused
    manifest.to_json()                        # what the Job uploads
    manifest.belongs_to(namespace, cluster)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional, Union

from .dialect import Flavor
from .gtid import parse_gtid

# Backup names and binary log histories are their start time in UTC (20260101T023000Z).
BACKUP_NAME = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_NAME_FORMAT = "%Y%m%dT%H%M%SZ"
UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_UTC_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
SERVER_VERSION = re.compile(r"([0-9]{1,4})\.([0-9]{1,4})\.[0-9]{1,4}[-+.~_ A-Za-z0-9]{0,64}")
SHA256 = re.compile(r"[0-9a-f]{64}")
DONOR = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
FORMAT = re.compile(r"[a-z][a-z0-9-]{0,31}")
_SIZE_LIMIT = 10**18
_SHOWN = 120


def shown(text: object) -> str:
    """A value as it may appear in a log line: printable characters only, bounded."""
    printable = "".join(c if c.isprintable() else "?" for c in str(text))
    return printable[:_SHOWN]


def is_backup_name(text: str) -> bool:
    return BACKUP_NAME.fullmatch(text) is not None and _parsed(text, _NAME_FORMAT) is not None


def backup_time(name: str) -> datetime:
    """When the backup (or binary log history) of that name started."""
    moment = _parsed(name, _NAME_FORMAT)
    if moment is None:
        raise ValueError(f"{shown(name)!r} is not a backup name (a UTC time such as 20260101T023000Z)")
    return moment


def utc_now_name(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime(_NAME_FORMAT)


def utc_time(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime(_UTC_TIME_FORMAT)


def _parsed(text: str, form: str) -> Optional[datetime]:
    try:
        return datetime.strptime(text, form).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _is_gtid(text: str) -> bool:
    """A GTID state of either flavor, or none (a backup of a server that had written nothing).
    Which flavor's is checked by the restore, after the flavor: a manifest of the other flavor is
    refused for its flavor, not its GTID."""
    if not text:
        return True
    for flavor in Flavor:
        try:
            parse_gtid(flavor, text)
            return True
        except ValueError:
            pass
    return False


def is_utc_time(text: str) -> bool:
    """Whether `text` is a real moment written as 2026-01-01T12:00:00Z."""
    return UTC_TIME.fullmatch(text) is not None and _parsed(text, _UTC_TIME_FORMAT) is not None


class ManifestRefused(ValueError):
    """A manifest that is not one this product wrote; str() is the one-line refusal."""


@dataclass(frozen=True)
class Manifest:
    name: str
    cluster: str
    namespace: Optional[str]  # None in manifests written before backups recorded it
    flavor: Flavor
    server_version: str
    start_time: str
    end_time: str
    gtid: str  # "" when the donor had written nothing
    size_bytes: int
    sha256: str
    donor: Optional[str]
    binlog_history: str  # "" when no binary log history was archived at the backup's start
    format: str

    def to_json(self) -> str:
        fields: dict[str, Union[str, int]] = {
            "name": self.name, "cluster": self.cluster}
        if self.namespace is not None:
            fields["namespace"] = self.namespace
        fields.update({"flavor": self.flavor.value, "serverVersion": self.server_version,
                       "startTime": self.start_time, "endTime": self.end_time, "gtid": self.gtid,
                       "sizeBytes": self.size_bytes, "sha256": self.sha256})
        if self.donor is not None:
            fields["donor"] = self.donor
        fields.update({"binlogHistory": self.binlog_history, "format": self.format})
        text = json.dumps(fields, indent=2) + "\n"
        # What the Job writes goes through the grammar a restore reads it with.
        read_manifest(text, self.name)
        return text

    def belongs_to(self, namespace: str, cluster: str) -> bool:
        return self.cluster == cluster and self.namespace == namespace

    @property
    def owner(self) -> str:
        return f"{self.namespace or '<no namespace>'}/{self.cluster}"

    @property
    def server_major_minor(self) -> tuple[int, int]:
        match = SERVER_VERSION.fullmatch(self.server_version)
        assert match is not None  # read_manifest checked it
        return int(match.group(1)), int(match.group(2))


# Each field: its JSON type, its grammar, whether a manifest must have it.
_FIELDS: dict[str, tuple[type, object, bool]] = {
    "name": (str, BACKUP_NAME, True),
    "cluster": (str, DNS_LABEL, True),
    "namespace": (str, DNS_LABEL, False),
    "flavor": (str, re.compile("mysql|mariadb"), True),
    "serverVersion": (str, SERVER_VERSION, True),
    "startTime": (str, is_utc_time, True),
    "endTime": (str, is_utc_time, True),
    "gtid": (str, _is_gtid, False),
    "sizeBytes": (int, lambda size: 0 <= size < _SIZE_LIMIT, True),
    "sha256": (str, SHA256, True),
    "donor": (str, DONOR, False),
    "binlogHistory": (str, lambda text: text == "" or is_backup_name(text), True),
    "format": (str, FORMAT, True),
}


def _well_formed(value: object, kind: type, grammar: object) -> bool:
    # bool is an int to Python, never to a manifest.
    if type(value) is not kind:
        return False
    if isinstance(grammar, re.Pattern):
        return isinstance(value, str) and grammar.fullmatch(value) is not None
    return bool(grammar(value))  # type: ignore[operator]


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for key, value in pairs:
        if key in fields:
            raise ManifestRefused(f"has the field '{shown(key)}' twice")
        fields[key] = value
    return fields


def read_manifest(text: Union[str, bytes], backup: str) -> Manifest:
    """The manifest of backup <backup> (its directory's name), from the text the target holds."""
    source = f"the manifest of backup {shown(backup)}"
    try:
        fields = json.loads(text, object_pairs_hook=_no_duplicates)
    except ManifestRefused as refused:
        raise ManifestRefused(f"{source} {refused}; refusing this backup, choose another") from None
    except ValueError as error:
        raise ManifestRefused(f"{source} is not a manifest of this product (not JSON: {shown(error)}); "
                              "refusing this backup, choose another") from None
    if not isinstance(fields, dict):
        raise ManifestRefused(f"{source} is not a manifest of this product (not a JSON object); "
                              "refusing this backup, choose another")
    for key, value in fields.items():
        if key not in _FIELDS:
            raise ManifestRefused(f"{source} has an unknown field '{shown(key)}'; refusing this backup, "
                                  "choose another")
        kind, grammar, _ = _FIELDS[key]
        if not _well_formed(value, kind, grammar):
            text = value if isinstance(value, str) else json.dumps(value)
            raise ManifestRefused(f"{source}: field {key} is not well-formed ('{shown(text)}'); "
                                  "refusing this backup, choose another")
    for key, (_, _, required) in _FIELDS.items():
        if required and key not in fields:
            raise ManifestRefused(f"{source} lacks the field {key}; refusing this backup, choose another")
    if fields["name"] != backup:
        raise ManifestRefused(f"the manifest under backups/{shown(backup)} names backup {fields['name']}: "
                              "it was moved or altered; refusing this backup, choose another")
    optional = {key: fields.get(key) for key in ("namespace", "donor")}
    return Manifest(
        name=str(fields["name"]), cluster=str(fields["cluster"]),
        namespace=None if optional["namespace"] is None else str(optional["namespace"]),
        flavor=Flavor(fields["flavor"]), server_version=str(fields["serverVersion"]),
        start_time=str(fields["startTime"]), end_time=str(fields["endTime"]),
        gtid=str(fields.get("gtid", "")), size_bytes=int(str(fields["sizeBytes"])),
        sha256=str(fields["sha256"]),
        donor=None if optional["donor"] is None else str(optional["donor"]),
        binlog_history=str(fields["binlogHistory"]), format=str(fields["format"]))
