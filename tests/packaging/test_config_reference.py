"""The config reference in README.md says what settings.py and Pulumi.yaml say.

On a mismatch the failure shows a diff from the rows the reference should have (-) to the rows
it has (+).
"""
from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import yaml

from mysql_cluster.settings import SETTINGS, Setting

PROJECT_DIR = Path(__file__).resolve().parents[2]
REFERENCE = PROJECT_DIR / "README.md"
HEADER = "| Key | Argument | Type | Default | Description |"


def _reference_rows() -> list[str]:
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2  # past the header and its separator line
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def _row(key: str, argument: str, kind: str, default: str, description: str) -> str:
    return f"| `{key}` | {argument} | {kind} | {default} | {description} |"


def _setting_row(setting: Setting) -> str:
    return _row(
        setting.key,
        "resource name" if setting.arg == "name" else f"`{setting.arg}`",
        f"{setting.type} (secret)" if setting.secret else setting.type,
        "(generated)" if setting.secret else f"`{json.dumps(setting.default)}`",
        setting.description,
    )


def _without_argument(row: str) -> str:
    """The row as Pulumi.yaml can describe it: it knows nothing of MySQLClusterArgs."""
    cells = row.strip("|").split(" | ")
    return "|" + " | ".join(cells[:1] + cells[2:]) + "|"


def _declared_row(key: str, declaration: dict[str, Any]) -> str:
    return _without_argument(_row(key, "", declaration["type"],
                                  f"`{json.dumps(declaration['default'])}`",
                                  declaration["description"]))


def _assert_same(expected: list[str], actual: list[str], what: str) -> None:
    diff = "\n".join(difflib.unified_diff(expected, actual, what, str(REFERENCE), lineterm=""))
    assert expected == actual, f"the config reference disagrees with {what}:\n{diff}"


def test_the_reference_lists_every_setting_as_settings_py_defines_it():
    _assert_same([_setting_row(s) for s in SETTINGS], _reference_rows(), "settings.py")


def test_the_reference_shows_the_type_default_and_description_that_pulumi_yaml_declares():
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    declared = sorted(_declared_row(key, declaration)
                      for key, declaration in project["config"].items())
    # Passwords are secrets that Pulumi.yaml deliberately leaves undeclared.
    plain = sorted(_without_argument(row) for row in _reference_rows() if "(secret)" not in row)
    _assert_same(declared, plain, "Pulumi.yaml")
