"""The GitHub Actions workflows pass actionlint, shellcheck of their `run:` steps included."""
from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_the_workflows_pass_actionlint_and_shellcheck():
    # actionlint (requirements-dev.txt) sits beside this interpreter, which need not be on PATH.
    actionlint = Path(sysconfig.get_path("scripts")) / "actionlint"
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed (tools/install.sh installs it)"
    # Without -shellcheck actionlint skips the scripts silently when it cannot find shellcheck.
    result = subprocess.run([str(actionlint), "-color=false", f"-shellcheck={shellcheck}"],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
