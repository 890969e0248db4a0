"""Client option files, as lib.sh writes them, read back by MariaDB's own option-file parser
(my_print_defaults, the parser every MariaDB and MySQL client shares): any password reads back
exactly, and the files holding it are gone once the script that wrote them ends."""
from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

LIB = resources.files("mysql_cluster.scripts").joinpath("lib.sh")
PASSWORDS = [
    "plain-password-1234",
    "with\nnewline-and-more",
    'quote"back\\slash\'single',
    "tab\tcarriage\rreturn",
    "hash # semicolon ; brackets [client]",
    "trailing-space-kept ",
]


def run_lib(tmp_path: Path, script: str, password: str) -> subprocess.CompletedProcess:
    secrets, options = tmp_path / "secrets", tmp_path / "client-options"
    secrets.mkdir(exist_ok=True)
    options.mkdir(exist_ok=True)
    (secrets / "root-password").write_text(password, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "SECRETS_DIR": str(secrets), "CLIENT_OPTIONS_DIR": str(options),
           "SCRIPT_NAME": "probe", "DB_FLAVOR": "mariadb"}
    # Bytes, not text: universal newlines would turn a carriage return into a newline.
    result = subprocess.run(["bash", "-c", f"set -euo pipefail; source {LIB}; {script}"], env=env,
                            capture_output=True, timeout=30, check=False)
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode(errors="replace"),
                                       result.stderr.decode(errors="replace"))


@pytest.fixture(scope="module", autouse=True)
def option_parser() -> None:
    if shutil.which("my_print_defaults") is None:
        pytest.fail("my_print_defaults (Debian package mariadb-client) is needed", pytrace=False)


@pytest.mark.parametrize("password", PASSWORDS, ids=range(len(PASSWORDS)))
def test_the_clients_read_back_exactly_the_password_of_the_secret(tmp_path, password):
    result = run_lib(tmp_path, 'my_print_defaults --defaults-file="$(client_options root '
                               'root-password)" client', password)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"--user=root\n--password={password}\n"


def test_the_option_file_is_readable_by_its_owner_only(tmp_path):
    result = run_lib(tmp_path, 'stat -c %a "$(client_options root root-password)"', "p" * 16)
    assert result.stdout.strip() == "600"


@pytest.mark.parametrize("ending", ["exit 0", "die 'something failed'", "kill -TERM $$"])
def test_option_files_are_removed_however_the_script_ends(tmp_path, ending):
    run_lib(tmp_path, f'client_options root root-password >/dev/null; {ending}', "p" * 16)
    assert list((tmp_path / "client-options").iterdir()) == []


def test_option_files_of_a_killed_run_are_removed_by_the_next_run(tmp_path):
    killed = run_lib(tmp_path, 'client_options root root-password >/dev/null; kill -KILL $$',
                     "p" * 16)
    assert killed.returncode == -9
    assert len(list((tmp_path / "client-options").iterdir())) == 1
    run_lib(tmp_path, "true", "p" * 16)
    assert list((tmp_path / "client-options").iterdir()) == []


def test_no_part_of_the_password_is_printed_when_the_file_is_written(tmp_path):
    result = run_lib(tmp_path, "set -x; client_options root root-password >/dev/null",
                     "secret-line-one\nsecret-line-two")
    assert "secret-line" not in result.stdout + result.stderr


def test_the_sql_client_sets_its_own_session_sql_mode_and_the_other_tools_are_not_given_it(
        tmp_path):
    """A global sql_mode such as ANSI_QUOTES must not change how the scripts' statements parse
    (issue 22, finding 3): the SQL client, which alone reads [mysql], sets its session's."""
    result = run_lib(tmp_path, 'file=$(client_options root root-password); '
                               'my_print_defaults --defaults-file="$file" mysql; echo ---; '
                               'my_print_defaults --defaults-file="$file" client mysqladmin',
                     "plain-password-1234")
    assert result.returncode == 0, result.stderr
    sql_client, other_tools = result.stdout.split("---\n")
    assert sql_client == ("--init-command=SET SESSION sql_mode="
                          "'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'\n")
    assert "init-command" not in other_tools
