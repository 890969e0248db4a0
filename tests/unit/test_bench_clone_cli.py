"""bench/clone.py's command line and dataset statements (the benchmark itself is not run here:
no timed assertions in tests)."""

import pytest

from bench.clone import numbered_rows, parse_args, results_name


def test_the_clone_benchmark_runs_on_mariadb_10_11_unless_told_otherwise():
    assert parse_args([]).server == "mariadb-10.11"


def test_the_clone_benchmark_takes_the_e2e_harness_mysql_server():
    assert parse_args(["--server", "mysql-9.7"]).server == "mysql-9.7"


def test_the_tls_cost_of_the_stream_is_refused_on_mysql_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--server", "mysql-9.7", "--tls-cost"])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--tls-cost" in message and "mysql-9.7" in message


def test_results_of_the_default_server_keep_their_file_name_and_others_name_their_server():
    assert results_name("clone", "mariadb-10.11", 256) == "clone-256mb.json"
    assert results_name("clone", "mysql-9.7", 256) == "clone-mysql-9.7-256mb.json"


def test_mysql_numbers_a_whole_chunk_of_rows_beyond_its_default_recursion_depth():
    before, rows = numbered_rows("mysql", 20001, 40000)
    assert "cte_max_recursion_depth = 20000;" in before
    assert "SELECT 20001 UNION ALL SELECT seq + 1" in rows and "WHERE seq < 40000" in rows


def test_both_flavors_select_the_same_values_of_the_row_number():
    mariadb = numbered_rows("mariadb", 1, 10)[1].format(values="seq, SHA2(seq, 512)")
    mysql = numbered_rows("mysql", 1, 10)[1].format(values="seq, SHA2(seq, 512)")
    assert mariadb == "SELECT seq, SHA2(seq, 512) FROM seq_1_to_10"
    assert mysql.endswith("SELECT seq, SHA2(seq, 512) FROM numbers")
