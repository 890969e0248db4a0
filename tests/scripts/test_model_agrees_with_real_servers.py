"""The stand-ins' server model against the real servers it models: MySQL 9.7, MariaDB 11.8 and
MariaDB 10.11 (real_servers.py). The same statements go to a real server and to the model booted
from the same option file, and both must give the same outcome: accepted, or refused with the
same error; the same variable values; the same replica status. Where they differ the real server
is right. server_model.py's docstring lists which rule each test here checks.

One server per flavor and session; each test starts from a reset server and a fresh model.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.server_roots import ServerRootError, server_root
from real_servers import REAL_SERVERS, Outcome, RealServer, start_server

import server_model
import standins
from mysql_cluster.server_option_files import server_options as rendered_server_options
from mysql_cluster.supported_servers import SERVERS as PROJECT_SERVERS

REAL = ("mysql 9.7", "mariadb 11.8", "mariadb 10.11")
MYSQL = ("mysql 9.7",)
MARIADB = ("mariadb 11.8", "mariadb 10.11")
# The option file of the session's servers, after the scratch lines: a binary log named as the
# pods name it, and a server id of its own.
SESSION_OPTIONS = "server-id=7\nlog-bin=mysql-bin\n"
DONOR = "3e11fa47-71ca-11e1-9e33-c80aa9000100"


def change_source(server: str, **options: str) -> str:
    """CHANGE REPLICATION SOURCE TO (MySQL) or CHANGE MASTER TO (MariaDB) with these options
    (names without the SOURCE_/MASTER_ prefix; values as SQL text)."""
    prefix = "MASTER" if server.startswith("mariadb") else "SOURCE"
    statement = "CHANGE MASTER TO" if prefix == "MASTER" else "CHANGE REPLICATION SOURCE TO"
    return f"{statement} " + ", ".join(f"{prefix}_{name} = {value}" for name, value in options.items())


def replica_words(server: str) -> tuple[str, str, str]:
    """START, STOP and RESET ... ALL of the server's replica."""
    word = "SLAVE" if server.startswith("mariadb") else "REPLICA"
    return f"START {word}", f"STOP {word}", f"RESET {word} ALL"


# ---------------------------------------------------------------------------------------------
# The two sides.

class Model:
    """The model as the stand-in client runs it: statements it refuses by their words, then
    server_model.execute."""

    def __init__(self, server: str, options: str):
        self.server = server
        self.state = server_model.new_state(server, server_model.server_options(
            ["[mysqld]\n" + options], server))

    def run(self, sql: str) -> Outcome:
        text = " ; ".join(server_model.skeleton(tokens) for tokens in server_model.statements(sql))
        refused = standins.unknown_statement(self.server, text)
        if refused:
            return Outcome(refused)
        try:
            server_model.execute(self.state, sql)
        except server_model.SqlError as error:
            return Outcome(str(error))
        return Outcome(None)

    def variable(self, name: str) -> str:
        if name in ("gtid_executed", "gtid_purged", "gtid_binlog_pos", "gtid_slave_pos"):
            return self.state[name]
        if name == "gtid_current_pos":
            return server_model.gtid_current_pos(self.state)
        return self.state["variables"][name]


# The model's variable names as each server names them.
_MARIADB_NAMES = {"replica_parallel_workers": "slave_parallel_threads",
                  "skip_replica_start": "skip_slave_start"}
# SELECT gives booleans as 0 and 1, --verbose --help as FALSE and TRUE; the model says OFF, ON.
_BOOLEANS = ("read_only", "super_read_only", "skip_replica_start", "relay_log_recovery")
_SELECTED = {"0": "OFF", "1": "ON"}
_HELPED = {"FALSE": "OFF", "TRUE": "ON"}


def real_variable(real: RealServer, name: str) -> str:
    value = real.value(f"@@GLOBAL.{_MARIADB_NAMES.get(name, name) if real.is_mariadb else name}")
    # --batch writes the newlines between a GTID set's UUIDs as \n.
    return _SELECTED.get(value, value) if name in _BOOLEANS else value.replace("\\n", "")


def same_outcome(model: Outcome, real: Outcome) -> None:
    """Both accepted, or both refused with the same error: the same message, except that a
    syntax error's text (which quotes the rest of the statement) is compared by its code."""
    assert model.code == real.code, f"model: {model.error}\nreal:  {real.error}"
    if model.code != "ERROR 1064 (42000)":
        assert model.error == real.error


@pytest.fixture(scope="session")
def real_servers() -> Iterator[dict[str, RealServer | Exception]]:
    """The session's servers by name, or why one could not be had (its tests fail with that)."""
    started: dict[str, RealServer | Exception] = {}
    yield started
    for server in started.values():
        if isinstance(server, RealServer):
            server.stop()


def cannot_have(server: str, error: Exception) -> None:
    """A tree that cannot be built, or a server that does not start, fails the test with what
    failed: never a skip."""
    pytest.fail(f"{server}: {error}", pytrace=False)


def reset(real: RealServer) -> None:
    """Back to the state of a fresh server: writable, no channel, no GTID history, nothing the
    tests made."""
    _, stop, reset_all = replica_words(real.name)
    sql = (f"SET GLOBAL read_only = OFF; {stop}; {reset_all}; "
           + ("SET GLOBAL slave_parallel_threads = 0; " if real.is_mariadb else "")
           + "DROP DATABASE IF EXISTS m_sql_test; DROP DATABASE IF EXISTS mysql_x; "
           "DROP USER IF EXISTS 'wild'@'localhost'; "
           + ("RESET MASTER; SET GLOBAL gtid_slave_pos = ''" if real.is_mariadb
              else "RESET BINARY LOGS AND GTIDS"))
    outcome = real.run(sql)
    assert outcome.error is None, f"{real.name}: resetting the server failed: {outcome.error}"
    if not real.is_mariadb and real.value("@@GLOBAL.gtid_mode") != "ON":
        set_gtid_mode(real, "ON")


def set_gtid_mode(real: RealServer, mode: str) -> None:
    """gtid_mode moves one step at a time."""
    steps = ["OFF_PERMISSIVE", "ON_PERMISSIVE", "ON"] if mode == "ON" else ["ON_PERMISSIVE", "OFF_PERMISSIVE", "OFF"]
    for step in steps:
        if real.value("@@GLOBAL.gtid_mode") != step:
            outcome = real.run(f"SET GLOBAL gtid_mode = {step}")
            assert outcome.error is None, outcome.error


@pytest.fixture
def pair(request: pytest.FixtureRequest,
         real_servers: dict[str, RealServer | Exception]) -> tuple[Model, RealServer]:
    """The model and the real server of the test's `server`, both fresh."""
    server = request.param
    if server not in real_servers:
        try:
            real_servers[server] = start_server(server, SESSION_OPTIONS)
        except (ServerRootError, OSError, subprocess.SubprocessError) as error:
            real_servers[server] = error
    real = real_servers[server]
    if isinstance(real, Exception):
        cannot_have(server, real)
    reset(real)
    model = Model(server, SESSION_OPTIONS)
    if not real.is_mariadb:
        model.state["server_uuid"] = real.value("@@GLOBAL.server_uuid")
    return model, real


def on(*servers: str) -> Any:
    return pytest.mark.parametrize("pair", servers, indirect=True)


def both(model: Model, real: RealServer, sql: str) -> None:
    same_outcome(model.run(sql), real.run(sql))


def same_variables(model: Model, real: RealServer, *names: str) -> None:
    assert {name: model.variable(name) for name in names} == {
        name: real_variable(real, name) for name in names}


# ---------------------------------------------------------------------------------------------
# Boot: the option files and the defaults.

_HELP_NAMES = {"gtid_mode": "gtid-mode", "enforce_gtid_consistency": "enforce-gtid-consistency",
               "super_read_only": "super-read-only", "read_only": "read-only",
               "skip_replica_start": "skip-replica-start", "relay_log_recovery": "relay-log-recovery",
               "log_bin": "log-bin", "server_id": "server-id",
               "replica_parallel_workers": "replica-parallel-workers"}
_MARIADB_HELP = {"skip_replica_start": "skip-slave-start", "replica_parallel_workers": "slave-parallel-threads"}
_MYSQL_ONLY_VARIABLES = ("gtid_mode", "enforce_gtid_consistency", "super_read_only")


def read_options(server: str, text: str) -> dict[str, str]:
    """The variables the real server takes from an option file (and its defaults), as its
    --verbose --help prints them after reading the file: no server starts."""
    try:
        tree = server_root(REAL_SERVERS[server]).path
    except (ServerRootError, OSError) as error:
        cannot_have(server, error)
    handle, name = tempfile.mkstemp(prefix="model-vs-server-", suffix=".cnf", dir=tree / "tmp")
    os.close(handle)
    scratch = Path(name)
    scratch.write_text(text)
    try:
        program = "mariadbd" if server.startswith("mariadb") else "mysqld"
        argv = [program, f"--defaults-file=/{scratch.relative_to(tree)}", "--verbose", "--help"]
        result = subprocess.run(argv if str(tree) == "/" else ["chroot", str(tree), *argv],
                                capture_output=True, text=True, timeout=60)
    finally:
        scratch.unlink()
    table = result.stdout.partition("Variables (--variable-name=value)")[2]
    values = dict(re.findall(r"(?m)^([a-z][\w-]*) +(\S.*?)\s*$", table))
    assert values, f"{program} --verbose --help printed no variables: {result.stderr[-500:]}"
    found = {}
    for name, help_name in _HELP_NAMES.items():
        if server.startswith("mariadb"):
            if name in _MYSQL_ONLY_VARIABLES:
                continue
            help_name = _MARIADB_HELP.get(name, help_name)
        value = values[help_name]
        found[name] = "" if value == "(No default value)" else _HELPED.get(value, value)
    return found


def _rendered(server: str, role: str) -> str:
    flavor, version = server.split()
    options = rendered_server_options(PROJECT_SERVERS[(flavor, version)], role, 7)
    return "".join(f"{name}={value}\n" for name, value in options.items()
                   if name != "plugin-load-add")  # the plugin is loaded at start, not read


OPTION_FILES = {
    "no options": lambda server: "",
    "the rendered primary.cnf": lambda server: _rendered(server, "primary"),
    "the rendered replica.cnf": lambda server: _rendered(server, "replica"),
    "old names, loose- and bare flags": lambda server: (
        "slave-parallel-workers=2\nskip-slave-start\nloose-super-read-only=ON\nrelay_log_recovery=1\n"
        "server_id=9\nlog-bin=mysql-bin\n"),
    # MariaDB also reads [mariadb] (and [server], [mariadbd]); MySQL only [mysqld].
    "other groups": lambda server: "[client]\nread-only=1\n[mariadb]\nserver-id=11\n",
}


@pytest.mark.parametrize("options", OPTION_FILES)
@pytest.mark.parametrize("server", REAL)
def test_a_server_reads_its_option_files_as_the_model_boots(server: str, options: str) -> None:
    text = OPTION_FILES[options](server)
    model = Model(server, text).state["variables"]
    real = read_options(server, "[mysqld]\n" + text)
    assert {name: model[name] for name in real} == real


# ---------------------------------------------------------------------------------------------
# read_only and super_read_only.

@on(*MYSQL)
def test_super_read_only_turns_read_only_on_and_read_only_off_turns_both_off(pair) -> None:
    model, real = pair
    both(model, real, "SET GLOBAL super_read_only = ON")
    same_variables(model, real, "read_only", "super_read_only")
    both(model, real, "SET GLOBAL read_only = OFF")
    same_variables(model, real, "read_only", "super_read_only")


@on(*MARIADB)
def test_mariadb_has_no_super_read_only(pair) -> None:
    model, real = pair
    both(model, real, "SET GLOBAL super_read_only = ON")
    same_variables(model, real, "read_only")


# The writes the remaining scripts send (backup-clone.sh's recipient account; a logged write).
WRITES = ("CREATE DATABASE IF NOT EXISTS m_sql_test",
          "CREATE USER 'wild'@'localhost'",
          "GRANT SELECT ON `m_sql_test`.* TO 'wild'@'localhost'")


@on(*MYSQL)
def test_super_read_only_refuses_root_its_writes(pair) -> None:
    model, real = pair
    both(model, real, "SET GLOBAL super_read_only = ON")
    for write in WRITES:
        both(model, real, write)


@on(*REAL)
def test_read_only_alone_lets_root_write(pair) -> None:
    model, real = pair
    both(model, real, "SET GLOBAL read_only = ON")
    both(model, real, ";\n".join(WRITES))


@on(*REAL)
def test_the_event_scheduler_turns_off_and_on(pair) -> None:
    model, real = pair
    both(model, real, "SET GLOBAL event_scheduler = OFF")
    both(model, real, "SET GLOBAL event_scheduler = ON")


@on(*REAL)
def test_replication_administration_runs_on_a_read_only_server(pair) -> None:
    model, real = pair
    _, stop, reset_all = replica_words(real.name)
    both(model, real, "SET GLOBAL super_read_only = ON" if not real.is_mariadb else "SET GLOBAL read_only = ON")
    gtid = ("SET GLOBAL gtid_slave_pos = '0-100-42'" if real.is_mariadb
            else f"SET GLOBAL gtid_purged = '{DONOR}:1-77'")
    reset_logs = "RESET MASTER" if real.is_mariadb else "RESET BINARY LOGS AND GTIDS"
    both(model, real, f"{stop};\n{reset_all};\n{reset_logs};\n{gtid};\n"
         + change_source(real.name, HOST="'10.0.0.1'", PORT="3306", USER="'replicator'",
                         PASSWORD="'secret'") + f";\n{stop}")


# ---------------------------------------------------------------------------------------------
# GTIDs.

@on(*MYSQL)
def test_a_logged_write_adds_one_gtid_of_the_server_and_an_unlogged_one_none(pair) -> None:
    model, real = pair
    both(model, real, "CREATE DATABASE IF NOT EXISTS m_sql_test")
    both(model, real, "SET SESSION sql_log_bin = 0;\nCREATE DATABASE IF NOT EXISTS mysql_x")
    same_variables(model, real, "gtid_executed")


@on(*MARIADB)
def test_a_logged_write_advances_the_binlog_position_and_an_unlogged_one_does_not(pair) -> None:
    model, real = pair
    both(model, real, "CREATE DATABASE IF NOT EXISTS m_sql_test")
    both(model, real, "SET SESSION sql_log_bin = 0;\nCREATE DATABASE IF NOT EXISTS mysql_x")
    same_variables(model, real, "gtid_binlog_pos", "gtid_current_pos")


@on(*REAL)
def test_resetting_the_binary_logs_forgets_the_servers_gtids(pair) -> None:
    model, real = pair
    both(model, real, "CREATE DATABASE IF NOT EXISTS m_sql_test")
    if real.is_mariadb:
        both(model, real, "SET GLOBAL gtid_slave_pos = '0-100-42';\nRESET MASTER")
        same_variables(model, real, "gtid_binlog_pos", "gtid_slave_pos", "gtid_current_pos")
    else:
        both(model, real, f"SET GLOBAL gtid_purged = '+{DONOR}:1-77';\nRESET BINARY LOGS AND GTIDS")
        same_variables(model, real, "gtid_executed", "gtid_purged")


@on(*MYSQL)
@pytest.mark.parametrize("statements", [
    # On an empty server; then on one with GTIDs of its own (8.0+ allows it).
    [f"SET GLOBAL gtid_purged = '{DONOR}:1-77'"],
    ["CREATE DATABASE IF NOT EXISTS m_sql_test", f"SET GLOBAL gtid_purged = '{DONOR}:1-77'"],
    # A plain value must contain the old one; '+' adds, but not what the server executed.
    [f"SET GLOBAL gtid_purged = '{DONOR}:1-77'", f"SET GLOBAL gtid_purged = '{DONOR}:5-9'"],
    [f"SET GLOBAL gtid_purged = '{DONOR}:1-77'", f"SET GLOBAL gtid_purged = '{DONOR}:1-80'"],
    [f"SET GLOBAL gtid_purged = '{DONOR}:1-77'", f"SET GLOBAL gtid_purged = '+{DONOR}:70-90'"],
    [f"SET GLOBAL gtid_purged = '{DONOR}:1-77'", f"SET GLOBAL gtid_purged = '+{DONOR}:78-90'"],
], ids=["empty", "own-gtids", "not-a-superset", "superset", "plus-overlapping", "plus-new"])
def test_setting_gtid_purged(pair, statements: list[str]) -> None:
    model, real = pair
    for statement in statements:
        both(model, real, statement)
    same_variables(model, real, "gtid_executed", "gtid_purged")


@on(*MYSQL)
@pytest.mark.parametrize("subset", [f"{DONOR}:1-77", f"{DONOR}:3-9", f"{DONOR}:1-78", f"{DONOR}:80",
                                    "", f"{DONOR}:1-5,3e11fa47-71ca-11e1-9e33-c80aa9000101:1"])
def test_gtid_subset(pair, subset: str) -> None:
    model, real = pair
    superset = f"{DONOR}:1-77"
    query = f"SELECT GTID_SUBSET('{subset}', '{superset}')"
    assert server_model.query(model.state, query) == [real.value(query.removeprefix("SELECT "))]


@on(*MARIADB)
@pytest.mark.parametrize("statements", [
    ["SET GLOBAL gtid_slave_pos = '0-100-42'"],
    ["SET GLOBAL gtid_slave_pos = '0-100-42'", "CREATE DATABASE IF NOT EXISTS m_sql_test"],
    ["CREATE DATABASE IF NOT EXISTS m_sql_test", "SET GLOBAL gtid_slave_pos = '0-100-42'"],
    ["CREATE DATABASE IF NOT EXISTS m_sql_test", "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos"],
], ids=["replica-position", "then-own-write", "own-write-then-position", "position-from-own"])
def test_gtid_current_pos(pair, statements: list[str]) -> None:
    model, real = pair
    for statement in statements:
        both(model, real, statement)
    same_variables(model, real, "gtid_binlog_pos", "gtid_slave_pos", "gtid_current_pos")


# ---------------------------------------------------------------------------------------------
# The replication channel.

@on(*REAL)
@pytest.mark.parametrize("length", [32, 33])
def test_replication_password_length(pair, length: int) -> None:
    model, real = pair
    both(model, real, change_source(real.name, HOST="'10.0.0.1'", USER="'replicator'",
                                    PASSWORD=f"'{'p' * length}'"))


@on(*MYSQL)
def test_auto_position_needs_gtid_mode_on(pair) -> None:
    model, real = pair
    set_gtid_mode(real, "OFF")
    model.state["variables"]["gtid_mode"] = "OFF"
    both(model, real, change_source(real.name, HOST="'10.0.0.1'", AUTO_POSITION="1"))


@on(*REAL)
def test_starting_a_replica_without_a_source_is_refused(pair) -> None:
    model, real = pair
    start, stop, _ = replica_words(real.name)
    both(model, real, stop)
    both(model, real, start)


@on(*REAL)
def test_reset_replica_all_removes_the_channel(pair) -> None:
    model, real = pair
    _, stop, reset_all = replica_words(real.name)
    both(model, real, change_source(real.name, HOST="'10.0.0.1'") + f";\n{stop};\n{reset_all}")
    outcome = real.run(f"SHOW {'SLAVE' if real.is_mariadb else 'REPLICA'} STATUS")
    assert outcome.error is None, outcome.error
    assert model.state["channel"] is None and outcome.output.strip() == ""


# ---------------------------------------------------------------------------------------------
# Statements one server has and the other lacks: each of the stand-ins' patterns, by an example.

EXAMPLES = {
    r"CHANGE MASTER": "CHANGE MASTER TO MASTER_HOST = '10.0.0.1'",
    r"(START|STOP|RESET) SLAVE": "STOP SLAVE",
    r"SHOW SLAVE STATUS": "SHOW SLAVE STATUS",
    r"RESET MASTER": "RESET MASTER",
    r"MASTER_\w+\s*=": "CHANGE REPLICATION SOURCE TO MASTER_HOST = '10.0.0.1'",
    r"gtid_purged": f"SET GLOBAL gtid_purged = '{DONOR}:1-77'",
    r"AUTO_POSITION": "CHANGE MASTER TO MASTER_AUTO_POSITION = 1",
    r"BACKUP_ADMIN": "GRANT BACKUP_ADMIN ON *.* TO 'root'@'localhost'",
    r"performance_schema\.clone_\w+": "SELECT STAGE FROM performance_schema.clone_progress",
    r"\bGTID_SUBSET\b": f"SELECT GTID_SUBSET('{DONOR}:1', '{DONOR}:1-2')",
    r"RESET BINARY LOGS AND GTIDS": "RESET BINARY LOGS AND GTIDS",
    r"gtid_slave_pos": "SET GLOBAL gtid_slave_pos = '0-100-42'",
    r"MASTER_USE_GTID": "CHANGE REPLICATION SOURCE TO MASTER_USE_GTID = slave_pos",
    r"BINLOG MONITOR": "GRANT BINLOG MONITOR ON *.* TO 'root'@'localhost'",
    r"SLAVE MONITOR": "GRANT SLAVE MONITOR ON *.* TO 'root'@'localhost'",
    r"CHANGE REPLICATION SOURCE": "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '10.0.0.1'",
    r"SOURCE_\w+\s*=": "CHANGE MASTER TO SOURCE_HOST = '10.0.0.1'",
    r"GET_SOURCE_PUBLIC_KEY": "CHANGE MASTER TO GET_SOURCE_PUBLIC_KEY = 1",
}


def test_every_pattern_of_a_real_server_has_an_example() -> None:
    patterns = {pattern for server in REAL for pattern, _ in standins.UNKNOWN_TO[server]}
    assert patterns == set(EXAMPLES)


@on(*REAL)
def test_statements_a_server_lacks_are_refused_as_it_refuses_them(pair) -> None:
    model, real = pair
    assert standins.UNKNOWN_TO[real.name]
    for pattern, _ in standins.UNKNOWN_TO[real.name]:
        example = EXAMPLES[pattern]
        assert model.run(example).error, example
        same_outcome(model.run(example), real.run(example))


# ---------------------------------------------------------------------------------------------
# mariadb-backup's files, and whether it takes --slave-info.

BACKUP_CASES = {
    "a primary": [],
    "a replica by GTID": ["SET GLOBAL gtid_slave_pos = '0-100-42'",
                          "CHANGE MASTER TO MASTER_HOST = '10.0.0.1'"],
    "a GTID channel without a GTID position": ["CHANGE MASTER TO MASTER_HOST = '10.0.0.1'"],
    "a multi-threaded replica by position": [
        "SET GLOBAL gtid_slave_pos = '0-100-42'",
        "CHANGE MASTER TO MASTER_HOST = '10.0.0.1', MASTER_LOG_FILE = 'mysql-bin.000003', MASTER_LOG_POS = 1234"],
    "a multi-threaded replica without GTIDs": [
        "CHANGE MASTER TO MASTER_HOST = '10.0.0.1', MASTER_LOG_FILE = 'mysql-bin.000003', MASTER_LOG_POS = 1234"],
}


@on(*MARIADB)
@pytest.mark.parametrize("case", BACKUP_CASES)
def test_mariadb_backup_files(pair, case: str) -> None:
    """The info files' names, binlog_info's file and GTID (its offset is the real log's), the
    whole slave_info, and whether --slave-info is refused."""
    model, real = pair
    both(model, real, "CREATE DATABASE IF NOT EXISTS m_sql_test")
    if "multi-threaded" in case:
        # The model's options: what SET GLOBAL slave_parallel_threads does on the server.
        assert real.run("SET GLOBAL slave_parallel_threads = 2").error is None
        model.state["variables"]["replica_parallel_workers"] = "2"
    for statement in BACKUP_CASES[case]:
        both(model, real, statement)
    args = ["--backup", "--slave-info"]
    result, real_files = real.backup("--slave-info")
    assert (result.returncode != 0) == server_model.slave_info_refused(model.state, args), result.stderr[-800:]
    model_files = {name: text for name, text in server_model.backup_files(model.state, args)
                   if name.endswith(("_binlog_info", "_slave_info"))}
    assert sorted(model_files) == sorted(name for name in real_files if name.endswith(("_binlog_info", "_slave_info")))
    binlog_info = next(name for name in model_files if name.endswith("_binlog_info"))
    fields = model_files[binlog_info].split("\t")
    real_fields = real_files[binlog_info].split("\t")
    assert (fields[0], fields[2]) == (real_fields[0], real_fields[2])
    slave_info = [name for name in model_files if name.endswith("_slave_info")]
    assert [model_files[name] for name in slave_info] == [real_files[name] for name in slave_info]
