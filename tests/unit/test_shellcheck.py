"""shellcheck finds nothing in the scripts (the pods run these files, from the scripts
ConfigMap), and every script is either an entry point that a workload runs or a library that
another script sources: a new script is covered without a change here."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stack_manifests import workload_pod_specs

from .conftest import PROJECT_DIR

SCRIPTS = sorted(PROJECT_DIR.glob("scripts/*.sh"))
# An entry point starts like a program; a library only tells shellcheck its shell.
SHEBANG = "#!/usr/bin/env bash"
LIBRARY_HEADER = "# shellcheck shell=bash"
ENTRY_POINTS = [path for path in SCRIPTS if path.read_text(encoding="utf-8").startswith(SHEBANG)]
LIBRARIES = [path for path in SCRIPTS if path not in ENTRY_POINTS]
SOURCED = re.compile(r'^\s*source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)/([\w.-]+\.sh)"',
                     re.MULTILINE)
SCRIPT_PATH = re.compile(r"/opt/mysql-cluster/scripts/([\w.-]+\.sh)")
# Every workload and optional container: backups with a schedule (and the MariaDB restore
# drill), a restore, metrics; rendered for each flavor, whose backup containers differ.
EVERYTHING = {"backupTarget": "s3", "backupS3Endpoint": "https://s3.storage:8333",
              "backupS3Bucket": "backups", "backupS3Secret": "s3-keys",
              "backupSchedule": "30 2 * * *", "restoreFrom": "latest", "metrics": "true"}


@pytest.fixture(scope="module")
def shellcheck() -> str:
    path = shutil.which("shellcheck")
    assert path, "shellcheck is not installed (tools/install.sh installs it)"
    return path


def run_shellcheck(shellcheck: str, scripts: list[Path]) -> subprocess.CompletedProcess[str]:
    # --external-sources follows each `source`, resolved next to the script.
    return subprocess.run([shellcheck, "--external-sources", "--source-path=SCRIPTDIR",
                           *map(str, scripts)], capture_output=True, text=True, check=False)


def scripts_run_by_workloads(manifests: list[dict]) -> set[str]:
    """The scripts that a command or probe of a workload's container names."""
    names: set[str] = set()
    for spec in workload_pod_specs(manifests).values():
        for container in spec.get("initContainers", []) + spec["containers"]:
            words = container.get("command", []) + container.get("args", [])
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                words += container.get(probe, {}).get("exec", {}).get("command", [])
            names |= {name for word in words for name in SCRIPT_PATH.findall(word)}
    return names


def test_there_are_entry_points_and_libraries():
    assert ENTRY_POINTS and LIBRARIES


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_a_script_is_an_entry_point_that_stops_at_the_first_failure_or_a_library(script):
    text = script.read_text(encoding="utf-8")
    if script in ENTRY_POINTS:
        assert re.search(r"^set -euo pipefail$", text, re.MULTILINE), script.name
    else:
        assert text.startswith(LIBRARY_HEADER), \
            f"{script.name} starts with neither {SHEBANG!r} nor {LIBRARY_HEADER!r}"


def test_the_entry_points_are_the_scripts_the_workloads_run(rendered):
    run = set()
    for flavor in ("mysql", "mariadb"):
        run |= scripts_run_by_workloads(rendered(**EVERYTHING, flavor=flavor))
    assert run == {path.name for path in ENTRY_POINTS}


def test_every_library_is_sourced_by_another_script():
    sourced = {name for path in SCRIPTS for name in SOURCED.findall(path.read_text("utf-8"))}
    assert {path.name for path in LIBRARIES} <= sourced


def test_script_files_pass_shellcheck(shellcheck):
    # Each file is checked on its own, an entry point with the libraries it sources.
    result = run_shellcheck(shellcheck, SCRIPTS)
    assert result.returncode == 0, result.stdout + result.stderr

