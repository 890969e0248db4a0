"""`python -m mysql_cluster.tooling.generate`: rewrites the generated parts of Pulumi.yaml, the README
and args.py from the settings, and with --check only reports, as a diff, what is out of date."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mysql_cluster.tooling.generate import GENERATED_FILES, main

from .conftest import PROJECT_DIR


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's generated files, with a stale README table."""
    for generated in GENERATED_FILES:
        (tmp_path / generated.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_DIR / generated.path, tmp_path / generated.path)
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace(
        "Database server: mysql or mariadb.", "Database server."), encoding="utf-8")
    return tmp_path


def test_check_exits_1_with_a_diff_of_the_stale_file_and_the_command(project, capsys):
    assert main(["--check", "--project-dir", str(project)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[:2] == ["--- README.md (committed)", "+++ README.md (generated)"]
    assert "-| `flavor` | `flavor` | string | `\"mysql\"` | Database server. |" in out
    assert err == "out of date: run `python -m mysql_cluster.tooling.generate`\n"


def test_check_writes_nothing(project, capsys):
    before = (project / "README.md").read_text(encoding="utf-8")
    main(["--check", "--project-dir", str(project)])
    assert (project / "README.md").read_text(encoding="utf-8") == before


def test_generate_rewrites_only_the_stale_file_after_which_check_passes(project, capsys):
    assert main(["--project-dir", str(project)]) == 0
    assert capsys.readouterr().err == "wrote README.md\n"
    assert main(["--check", "--project-dir", str(project)]) == 0


def test_generate_keeps_what_lies_outside_the_markers(project, capsys):
    pulumi_yaml = project / "Pulumi.yaml"
    pulumi_yaml.write_text("# a comment of our own\n" + pulumi_yaml.read_text(encoding="utf-8")
                           + "# another one\n", encoding="utf-8")
    main(["--project-dir", str(project)])
    text = pulumi_yaml.read_text(encoding="utf-8")
    assert text.startswith("# a comment of our own\nname: mysql-cluster\n")
    assert text.endswith("# settings-config:end\n# another one\n")


def test_a_file_without_its_markers_is_one_line_error_naming_the_file(project, capsys):
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace(
        "<!-- settings-table:end -->\n", ""), encoding="utf-8")
    assert main(["--project-dir", str(project)]) == 2
    assert capsys.readouterr().err == (
        "error: README.md: the lines '<!-- settings-table:start -->' and "
        "'<!-- settings-table:end -->' must mark where the generated part goes\n")
