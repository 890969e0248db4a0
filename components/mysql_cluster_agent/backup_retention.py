"""Which backups and archived binary logs the backup Job deletes after a new backup: a pure
function of what the target lists, whose each complete backup is, and the time.

- This cluster's complete backups past retentionCount (newest first) or older than
  retentionDays go; the newest never does.
- Attempts that never completed (a directory without a manifest) older than the new backup go:
  a newer one may be another Job still uploading.
- Archived binary logs closed before the oldest kept backup started go (rclone's --min-age).
- Another cluster's backups under the same prefix (its manifest names it) or unreadable ones are
  left alone, and count for nothing.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from .backup_manifest import backup_time, is_backup_name

_DAY_SECONDS = 86400


@dataclass(frozen=True)
class Retention:
    backups: tuple[str, ...]  # complete backups of this cluster to delete, manifest first
    attempts: tuple[str, ...]  # directories of attempts that never completed
    kept: tuple[str, ...]  # this cluster's complete backups kept, newest first
    binlogs_older_than_seconds: int  # archived binary logs older than this go


def retention(own: Collection[str], directories: Collection[str], complete: Collection[str],
              new_backup: str, now: datetime, count: int, days: int) -> Retention:
    """own: this cluster's complete backups (the new one among them); directories: every backup
    directory under the prefix; complete: those with a manifest, whoever's. count and days: 0
    for no limit."""
    newest_first: Sequence[str] = sorted((name for name in own if is_backup_name(name)), reverse=True)
    deleted, kept = [], []
    for index, name in enumerate(newest_first):
        age = (now - backup_time(name)).total_seconds()
        too_many = count > 0 and index >= count
        too_old = days > 0 and age > days * _DAY_SECONDS
        if index > 0 and (too_many or too_old):
            deleted.append(name)
        else:
            kept.append(name)
    attempts = sorted(name for name in directories
                      if is_backup_name(name) and name < new_backup and name not in complete)
    oldest = backup_time(kept[-1]) if kept else now
    return Retention(tuple(deleted), tuple(attempts), tuple(kept),
                     max(0, int((now - oldest).total_seconds())))
