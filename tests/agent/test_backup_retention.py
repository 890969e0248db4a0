"""Retention after a new backup, as a pure function of what the target lists and the time."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mysql_cluster_agent.backup_retention import retention

NOW = datetime(2026, 1, 10, 3, 0, 0, tzinfo=timezone.utc)
NEW = "20260110T023000Z"
DAILY = [f"202601{day:02d}T023000Z" for day in range(1, 11)]  # ten days, the newest NEW


@pytest.mark.parametrize(("count", "days", "kept"), [
    (3, 0, DAILY[-3:]),
    (0, 2, DAILY[-2:]),  # 2 days and 30 minutes old is too old
    (5, 2, DAILY[-2:]),  # whichever limit is stricter
    (2, 30, DAILY[-2:]),
    (0, 0, DAILY),  # no limit
])
def test_backups_past_the_count_or_age_go_oldest_first(count, days, kept):
    plan = retention(DAILY, DAILY, DAILY, NEW, NOW, count, days)
    assert sorted(plan.kept) == kept
    assert sorted(plan.backups) == sorted(set(DAILY) - set(kept))


def test_the_newest_backup_is_never_deleted_however_old():
    plan = retention(["20250101T000000Z"], ["20250101T000000Z"], ["20250101T000000Z"], NEW, NOW, 0, 1)
    assert plan.kept == ("20250101T000000Z",) and plan.backups == ()


def test_only_this_clusters_backups_count_and_go():
    others = ["20260102T000000Z", "20260103T000000Z"]
    plan = retention(DAILY[-2:], DAILY[-2:] + others, DAILY[-2:] + others, NEW, NOW, 1, 0)
    assert plan.backups == (DAILY[-2],)
    assert plan.attempts == ()  # the other cluster's are complete: left alone


def test_attempts_without_a_manifest_older_than_the_new_backup_go_newer_ones_stay():
    directories = [*DAILY, "20260105T120000Z", "20260110T025900Z"]  # a failed one, one still uploading
    plan = retention(DAILY, directories, DAILY, NEW, NOW, 0, 0)
    assert plan.attempts == ("20260105T120000Z",)


def test_binary_logs_older_than_the_oldest_kept_backup_go():
    plan = retention(DAILY, DAILY, DAILY, NEW, NOW, 2, 0)
    assert plan.binlogs_older_than_seconds == int((NOW - datetime(2026, 1, 9, 2, 30, tzinfo=timezone.utc)).total_seconds())


def test_names_that_are_no_backup_are_none_of_ours():
    plan = retention([*DAILY, "notes"], [*DAILY, "notes", "tmp"], DAILY, NEW, NOW, 1, 0)
    assert "notes" not in plan.backups + plan.attempts + plan.kept and "tmp" not in plan.attempts
