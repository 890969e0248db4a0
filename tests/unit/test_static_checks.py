"""The code passes the static checks configured in pyproject.toml: ruff's lint rules and mypy in
strict mode, over every package under components/, the policy pack and the tools (ruff over the
benchmarks too). A new package under components/ is checked without a change here."""
from __future__ import annotations

import subprocess
import sys

from .conftest import PROJECT_DIR

PACKAGES = sorted(path.relative_to(PROJECT_DIR).as_posix()
                  for path in PROJECT_DIR.glob("components/*/__init__.py"))
CHECKED = [path.rsplit("/", 1)[0] for path in PACKAGES] + ["policy", "tools"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=PROJECT_DIR, capture_output=True,
                          text=True, check=False)


def test_the_checked_paths_include_the_component():
    assert "components/mysql_cluster" in CHECKED


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache", "__main__.py", *CHECKED, "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing():
    result = _run("mypy", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
