"""shellcheck finds nothing in the scripts (the pods run these files, from the scripts
ConfigMap)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import PROJECT_DIR

SCRIPTS = sorted(PROJECT_DIR.glob("scripts/*.sh"))
# The scripts a container or probe runs (the others are helpers they source).
ENTRY_POINTS = ["backup-binlogs.sh", "backup-clone.sh", "backup-job.sh", "clone.sh", "init-config.sh", "liveness.sh",
                "readiness.sh", "restore-replay.sh", "restore.sh", "sidecar.sh"]


@pytest.fixture(scope="module")
def shellcheck() -> str:
    path = shutil.which("shellcheck")
    assert path, "shellcheck is not installed (tools/install.sh installs it)"
    return path


def test_scripts_are_found():
    assert {path.name for path in SCRIPTS} >= set(ENTRY_POINTS)


def test_script_files_pass_shellcheck(shellcheck):
    # --external-sources follows each `source`, resolved next to the script.
    result = subprocess.run([shellcheck, "--external-sources", "--source-path=SCRIPTDIR",
                             *map(str, SCRIPTS)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

