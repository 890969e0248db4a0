"""The package requires the Pulumi SDK releases whose internals it was tested with."""
from __future__ import annotations

import tomllib
from pathlib import Path

from mysql_cluster.sdk_internals import NEWEST_PULUMI, OLDEST_PULUMI

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_pyproject_requires_exactly_the_pulumi_releases_the_sdk_internals_support():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    (pulumi,) = [d for d in project["project"]["dependencies"] if d.startswith("pulumi>")]
    major, minor = NEWEST_PULUMI.split(".")
    assert pulumi == f"pulumi>={OLDEST_PULUMI},<{major}.{int(minor) + 1}"
