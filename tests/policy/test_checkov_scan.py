"""Checkov scans the rendered manifests of both stacks with the checked-in settings
(policy/checkov.yaml): no check fails, and every check skipped there still needs its skip."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack_manifests import PROJECT_DIR, STACKS
from mysql_cluster.tooling.render import manifests_yaml
from .conftest import POLICY_DIR

CHECKOV_CONFIG = POLICY_DIR / "checkov.yaml"
# Checkov pins versions the Pulumi SDK outgrew, so it lives in its own virtual environment
# (tools/install.sh); CHECKOV names another executable.
CHECKOV = os.environ.get("CHECKOV", str(PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"))


@pytest.fixture
def rendered_stacks(render, tmp_path) -> Path:
    for stack in STACKS:
        (tmp_path / f"{stack}.yaml").write_text(manifests_yaml(render(stack)), encoding="utf-8")
    return tmp_path


def checkov(directory: Path, config: Path, *options: str) -> dict[str, Any]:
    """Checkov's JSON report on every manifest in `directory`."""
    if not os.access(CHECKOV, os.X_OK):
        pytest.fail(f"{CHECKOV} is missing: run tools/install.sh (or set CHECKOV)")
    result = subprocess.run(
        [CHECKOV, "--config-file", str(config), "--directory", str(directory), *options,
         "--output", "json"],
        capture_output=True, text=True, timeout=600,
        # Offline: no look-up of a newer checkov release.
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"})
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov exited {result.returncode} without a report:\n{result.stderr}")
    assert report.get("results"), f"checkov scanned nothing: {report}"
    return report


def failures(report: dict[str, Any]) -> list[str]:
    return sorted(f"{check['check_id']} {check['check_name']}: {Path(check['file_path']).name} "
                  f"{check['resource']}" for check in report["results"]["failed_checks"])


def skipped_checks() -> list[str]:
    return yaml.safe_load(CHECKOV_CONFIG.read_text(encoding="utf-8"))["skip-check"]


def test_checkov_fails_no_check_on_the_rendered_stacks(rendered_stacks):
    report = checkov(rendered_stacks, CHECKOV_CONFIG)
    assert report["summary"]["parsing_errors"] == 0
    assert failures(report) == []


def test_every_skipped_check_fails_without_its_skip(rendered_stacks, tmp_path_factory):
    settings = yaml.safe_load(CHECKOV_CONFIG.read_text(encoding="utf-8"))
    skipped = settings.pop("skip-check")
    unskipped = tmp_path_factory.mktemp("checkov") / "checkov.yaml"
    unskipped.write_text(yaml.safe_dump(settings), encoding="utf-8")
    report = checkov(rendered_stacks, unskipped, "--check", ",".join(skipped))
    failing = {check["check_id"] for check in report["results"]["failed_checks"]}
    assert [check for check in skipped if check not in failing] == []


def test_every_skipped_check_has_its_reason_above_it():
    lines = CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines()
    entries = {line.strip()[2:]: index for index, line in enumerate(lines)
               if line.strip().startswith("- CKV_")}
    assert sorted(entries) == sorted(skipped_checks())
    assert [check for check, index in entries.items()
            if not lines[index - 1].strip().startswith("#")] == []
