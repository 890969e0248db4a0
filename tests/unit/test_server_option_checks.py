"""`serverOptions` cannot defeat the cluster: option families that silently break replication,
durability, the scripts or the secrets are refused, names must be options the server has and
values of their type, each with one line naming serverOptions, the option and what to do.

The tables the names and types come from were generated from the real servers
(tools/server_option_table.py); where a real server runs on this machine, it is the judge."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mysql_cluster import ConfigError
from mysql_cluster.user_server_options import (REFUSED_SQL_MODES, extra_server_options,
                                          option_table, server_options_for)
from mysql_cluster import supported_servers

from .test_config_validation import registered_before_failing, rejection

TABLES = Path(__file__).parents[2] / "components" / "mysql_cluster" / "server_option_tables"


def refusal(render, flavor: str = "mariadb", version: str = "11.8", **options) -> str:
    """The one-line message rendering with these serverOptions stops with."""
    error = rejection(render, flavor=flavor, version=version, serverOptions=json.dumps(options))
    message = str(error)
    assert error.setting.key == "serverOptions"
    assert "\n" not in message
    return message


def cnf(render, flavor: str = "mariadb", version: str = "11.8", **options) -> list[str]:
    manifests = render(flavor=flavor, version=version, serverOptions=json.dumps(options))
    config_map = next(m for m in manifests if m["kind"] == "ConfigMap"
                      and "primary.cnf" in m.get("data", {}))
    return config_map["data"]["primary.cnf"].splitlines()


# --- families that defeat the cluster (finding 3 of issue 22) --------------------------------

@pytest.mark.parametrize("option, value, family", [
    ("binlog_ignore_db", "app", "replication filters"),
    ("binlog_do_db", "app", "replication filters"),
    ("replicate_wild_ignore_table", "app.%", "replication filters"),
    ("replicate_do_db", "app", "replication filters"),
    ("slave_skip_errors", "all", "error skipping"),
    ("replica_skip_errors", "all", "error skipping"),
    ("init_file", "/var/run/secrets/mysql/root-password", "statements run by the server"),
    ("init_connect", "SET NAMES latin1", "statements run by the server"),
    ("general_log_file", "/dev/stderr", "log destinations"),
    ("general_log", "ON", "log destinations"),
    ("log_error", "/dev/stdout", "log destinations"),
    ("plugin_dir", "/tmp/plugins", "plugin loading"),
    ("local_infile", "ON", "file access"),
    ("wsrep_on", "ON", "Galera"),
    ("innodb_force_recovery", "1", "recovery"),
    ("lower_case_table_names", "1", "fixed at initialisation"),
])
def test_option_families_that_defeat_the_cluster_are_refused_naming_the_family(
        render, option, value, family):
    message = refusal(render, **{option: value})
    assert f"'{option}'; {option.replace('_', '-')} is refused ({family}: " in message
    assert message.endswith("; remove it")


@pytest.mark.parametrize("option", ["extra_port", "admin_port", "mysqlx_port", "gtid_domain_id",
                                    "init_rpl_role", "transaction_read_only", "ssl_cipher",
                                    "plugin_load", "plugin_load_add"])
def test_options_the_cluster_owns_are_refused_as_managed(render, option):
    assert "is managed by the cluster" in refusal(render, **{option: "1"})


@pytest.mark.parametrize("option, value", [
    ("innodb_log_group_home_dir", "/tmp"), ("innodb_data_home_dir", "/data"),
    ("tmpdir", "/tmp"), ("innodb_tmpdir", "/tmp"),
    ("innodb_undo_directory", "/undo"), ("aria_log_dir_path", "/aria"),
])
def test_options_that_place_the_servers_files_are_refused(render, option, value):
    message = refusal(render, **{option: value})
    assert f"{option.replace('_', '-')} is refused (it places files of the server" in message


def test_an_enumeration_named_like_a_path_is_not_taken_for_one(render):
    assert "aria-sync-log-dir=NEWFILE" in cnf(render, aria_sync_log_dir="NEWFILE")


@pytest.mark.parametrize("flavor, version, option, value, shown", [
    ("mariadb", "10.11", "innodb_doublewrite", "OFF", "innodb-doublewrite=OFF"),
    ("mariadb", "10.11", "skip_innodb_doublewrite", "", "innodb-doublewrite=OFF"),
    ("mariadb", "11.8", "innodb_doublewrite", "fast", "innodb-doublewrite=fast"),
    ("mysql", "8.4", "innodb_doublewrite", "DETECT_ONLY", "innodb-doublewrite=DETECT_ONLY"),
    ("mariadb", "11.8", "innodb_flush_method", "nosync", "innodb-flush-method=nosync"),
    ("mysql", "8.4", "replica_exec_mode", "IDEMPOTENT", "replica-exec-mode=IDEMPOTENT"),
])
def test_unsafe_values_of_allowed_options_are_refused(render, flavor, version, option, value,
                                                      shown):
    message = refusal(render, flavor, version, **{option: value})
    assert f"{shown} is refused (" in message
    assert "choose another value" in message


@pytest.mark.parametrize("mode", REFUSED_SQL_MODES)
def test_sql_modes_that_change_how_statements_parse_are_refused(render, mode):
    message = refusal(render, sql_mode=f"STRICT_ALL_TABLES,{mode.lower()}")
    assert f"is refused ({mode}: it changes how the server parses quotes" in message


def test_a_sql_mode_that_keeps_parsing_is_accepted(render):
    assert "sql-mode=STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION" in cnf(
        render, sql_mode="STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION")


def test_a_refused_family_may_be_switched_off(render):
    assert "skip-log-error" in cnf(render, skip_log_error="")


# --- names the server knows, values of their type --------------------------------------------

@pytest.mark.parametrize("flavor, version", [("mariadb", "11.8"), ("mariadb", "10.11"),
                                             ("mariadb", "11.4"), ("mysql", "8.4"),
                                             ("mysql", "8.0")])
def test_a_misspelt_option_is_refused_with_the_option_it_resembles(render, flavor, version):
    message = refusal(render, flavor, version, max_conections=500)
    assert message.endswith(f"'max-conections'; {'MariaDB' if flavor == 'mariadb' else 'MySQL'} "
                            f"{version} has no option max-conections; did you mean "
                            "max_connections?")


def test_an_option_the_server_line_lacks_is_refused_where_its_table_is_complete(render):
    # An InnoDB option that MariaDB 11.8 has and 10.11 has not: 10.11 would refuse to start.
    only_newer = sorted(set(json.loads((TABLES / "mariadb-11.8.json").read_text())["options"])
                        - set(json.loads((TABLES / "mariadb-10.11.json").read_text())["options"]))
    option = next(name for name in only_newer if name.startswith("innodb-"))
    assert f"MariaDB 10.11 has no option {option}" in refusal(render, "mariadb", "10.11",
                                                               **{option: "1"})


def test_an_option_older_mysql_lines_have_but_the_table_lacks_is_let_through():
    # MySQL 8.4 has mysql_native_password (9.0 dropped it); its table comes from 9.7.
    assert server_options_for("mysql", "8.4", extra_server_options(
        {"mysql_native_password": "ON"})) == {"mysql-native-password": "ON"}


@pytest.mark.parametrize("flavor, version", [("mariadb", "11.8"), ("mysql", "8.4")])
def test_a_size_that_is_not_a_number_is_refused(render, flavor, version):
    message = refusal(render, flavor, version, innodb_buffer_pool_size="lots")
    assert "innodb-buffer-pool-size is a number on " in message
    assert "(e.g. 128M)" in message


@pytest.mark.parametrize("option, value, rule", [
    ("transaction_isolation", "SNAPSHOT", "transaction-isolation is one of READ-UNCOMMITTED, "
                                          "READ-COMMITTED, REPEATABLE-READ, SERIALIZABLE"),
    ("performance_schema", "maybe", "performance-schema is ON or OFF"),
    ("log_slow_verbosity", "query_plan,everything", "everything is not a value of "
                                                    "log-slow-verbosity"),
    ("max_connections", "", "max-connections needs a value"),
])
def test_a_value_of_the_wrong_type_is_refused_saying_what_the_option_takes(render, option, value,
                                                                          rule):
    assert rule in refusal(render, **{option: value})


def test_an_empty_value_of_a_text_option_is_written_as_empty_not_as_a_bare_flag(render):
    assert 'sql-mode=""' in cnf(render, sql_mode="")


@pytest.mark.parametrize("options", [
    {"max_connections": 500, "innodb_buffer_pool_size": "6G", "long_query_time": 0.5,
     "transaction_isolation": "read-committed", "log_slow_verbosity": "query_plan,explain",
     "performance_schema": True, "slow_query_log": "ON", "innodb": "FORCE"},
])
def test_ordinary_tuning_is_accepted(render, options):
    lines = cnf(render, **options)
    assert "max-connections=500" in lines and "innodb-buffer-pool-size=6G" in lines


def test_a_refused_option_stops_the_component_before_any_resource_is_registered(mock_monitor):
    assert registered_before_failing(mock_monitor, "orders", {
        "flavor": "mariadb", "server_options": {"innodb_buffer_pool_size": "lots"}}) == []


# --- the tables ---------------------------------------------------------------------------------

@pytest.mark.parametrize("flavor, version", list(supported_servers.SERVERS))
def test_every_supported_server_line_has_options_to_check_against(flavor, version):
    table, _ = option_table(flavor, version)
    assert "max-connections" in table and "innodb-buffer-pool-size" in table


@pytest.mark.parametrize("file_name, server", [("mariadb-10.11.json", "10.11."),
                                               ("mariadb-11.8.json", "11.8."),
                                               ("mysql-9.7.json", "9.7.")])
def test_each_table_says_which_real_server_it_was_generated_from(file_name, server):
    table = json.loads((TABLES / file_name).read_text())
    assert table["server"].startswith(server)
    assert table["generator"] == "tools/server_option_table.py"


# What the cluster's check says of a value, against what this machine's MariaDB (10.11) says of
# it when reading it from an option file: both refuse, or both accept.
JUDGED = [("innodb-buffer-pool-size", "lots"), ("innodb-buffer-pool-size", "1g"),
          ("innodb-buffer-pool-size", "512M"), ("max-conections", "5"),
          ("transaction-isolation", "SNAPSHOT"), ("transaction-isolation", "READ-COMMITTED"),
          ("sql-mode", "FOO"), ("sql-mode", ""), ("max-connections", ""),
          ("long-query-time", "0.5"), ("log-slow-verbosity", "query_plan,explain")]


def _server_refuses(tmp_path: Path, option: str, value: str) -> bool:
    line = f'{option}=""' if value == "" and option == "sql-mode" else (
        f"{option}={value}" if value else option)
    (tmp_path / "my.cnf").write_text(f"[mysqld]\n{line}\n")
    result = subprocess.run(["mariadbd", f"--defaults-file={tmp_path / 'my.cnf'}", "--verbose",
                             "--help"], capture_output=True, text=True, timeout=60)
    return result.returncode != 0 or "[ERROR]" in result.stderr


def _cluster_refuses(option: str, value: str) -> bool:
    try:
        server_options_for("mariadb", "10.11", extra_server_options({option: value}))
    except ValueError:
        return True
    return False


@pytest.mark.skipif(shutil.which("mariadbd") is None, reason="needs MariaDB 10.11 (tools/install.sh)")
@pytest.mark.parametrize("option, value", JUDGED)
def test_the_real_server_agrees_with_what_the_check_refuses(tmp_path, option, value):
    assert _cluster_refuses(option, value) == _server_refuses(tmp_path, option, value)
