"""From the backup's info files to the statements that start replication: clone-mysql reads
where the backup stands, the backup sidecar sends the statements in the server's dialect."""
from __future__ import annotations

import pytest
from scripted_pod import PASSWORDS, SERVERS, STATUS_QUERY, donor_files, sql_literal

pytest_plugins = ["pod_fixtures"]

PRIMARY = "mysql-0.mysql.mysql-dev.svc.cluster.local"
REPLICATION = sql_literal(PASSWORDS["replication-password"])
SOURCE = (f"SOURCE_HOST='{PRIMARY}', SOURCE_PORT=3306, SOURCE_USER='replicator', "
          f"SOURCE_PASSWORD={REPLICATION}, SOURCE_CONNECT_RETRY=10, GET_SOURCE_PUBLIC_KEY=1")
MASTER = (f"MASTER_HOST='{PRIMARY}', MASTER_PORT=3306, MASTER_USER='replicator', "
          f"MASTER_PASSWORD={REPLICATION}, MASTER_CONNECT_RETRY=10")


def position_sql(server: str, file: str, pos: int) -> str:
    """Start at a binary log position: MySQL 8 speaks SOURCE/REPLICA, the others MASTER/SLAVE."""
    if server.startswith("mysql 8."):
        return (f"STOP REPLICA;\nCHANGE REPLICATION SOURCE TO {SOURCE}, SOURCE_LOG_FILE='{file}', "
                f"SOURCE_LOG_POS={pos};\nSTART REPLICA;\n")
    return (f"STOP SLAVE;\nCHANGE MASTER TO {MASTER}, MASTER_LOG_FILE='{file}', "
            f"MASTER_LOG_POS={pos};\nSTART SLAVE;\n")


def gtid_sql(server: str, gtid: str) -> str:
    """Start from a GTID set: MySQL empties its own GTID history (8.4 renamed RESET MASTER) and
    follows by auto-position; MariaDB sets the replica's GTID position."""
    mysql_8 = (f"SET GLOBAL gtid_purged = '{gtid}';\nCHANGE REPLICATION SOURCE TO {SOURCE}, "
               "SOURCE_AUTO_POSITION=1;\nSTART REPLICA;\n")
    mariadb = (f"STOP SLAVE;\nSET GLOBAL gtid_slave_pos = '{gtid}';\nCHANGE MASTER TO {MASTER}, "
               "MASTER_USE_GTID=slave_pos;\nSTART SLAVE;\n")
    return {
        "mysql 8.4": "STOP REPLICA;\nRESET BINARY LOGS AND GTIDS;\n" + mysql_8,
        "mysql 8.0": "STOP REPLICA;\nRESET MASTER;\n" + mysql_8,
        "mysql 5.7": (f"STOP SLAVE;\nRESET MASTER;\nSET GLOBAL gtid_purged = '{gtid}';\n"
                      f"CHANGE MASTER TO {MASTER}, MASTER_AUTO_POSITION=1;\nSTART SLAVE;\n"),
        "mariadb 11.4": mariadb,
        "mariadb 10.11": mariadb,
    }[server]


MYSQL_GTID = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"
MARIADB_GTID = "0-100-42"
# The donor is a replica: its own binary log is not the primary's.
REPLICA_OWN_BINLOG = "replica-bin.000001\t157\n"


def replication_statements(make_pod, server: str, binlog_info, slave_info) -> list[str]:
    """Clones pod 2 from a backup with these info files, then starts its backup sidecar, which
    first makes sure (in the server's dialect) that replication is not configured yet."""
    pod = make_pod(server, 2)
    pod.scenario["donor_files"] = donor_files(server, binlog_info, slave_info)
    clone = pod.run("clone-mysql")
    assert clone.status == 0, clone.stderr
    run = pod.run("backup")
    assert run.status == 0, run.stderr
    assert run.queries == ["SELECT 1", STATUS_QUERY[server]]
    return run.statements


@pytest.mark.parametrize("server", SERVERS)
def test_a_clone_of_the_primary_replicates_from_its_binlog_position(make_pod, server):
    statements = replication_statements(make_pod, server, "mysql-bin.000003\t4711\n", None)
    assert statements == [position_sql(server, "mysql-bin.000003", 4711)]


# The GTID form each backup tool writes for a backup taken on a GTID replica: XtraBackup's
# replica info (with the wording of its version), MariaDB's binlog info GTID column.
GTID_BACKUPS = {
    "mysql 8.4": (REPLICA_OWN_BINLOG,
                  f"SET GLOBAL gtid_purged='{MYSQL_GTID}';\nCHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1;\n", MYSQL_GTID),
    "mysql 8.0": (REPLICA_OWN_BINLOG,
                  f"SET GLOBAL gtid_purged='{MYSQL_GTID}';\nCHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1;\n", MYSQL_GTID),
    "mysql 5.7": (REPLICA_OWN_BINLOG,
                  f"SET GLOBAL gtid_purged='{MYSQL_GTID}';\nCHANGE MASTER TO MASTER_AUTO_POSITION=1\n", MYSQL_GTID),
    "mariadb 11.4": (f"mysql-bin.000003\t4711\t{MARIADB_GTID}\n", None, MARIADB_GTID),
    "mariadb 10.11": (f"mysql-bin.000003\t4711\t{MARIADB_GTID}\n", None, MARIADB_GTID),
}


@pytest.mark.parametrize("server", SERVERS)
def test_a_clone_with_a_gtid_position_replicates_by_gtid(make_pod, server):
    binlog_info, slave_info, gtid = GTID_BACKUPS[server]
    statements = replication_statements(make_pod, server, binlog_info, slave_info)
    assert statements == [gtid_sql(server, gtid)]


# Every other form of the info files, on a server whose backup tool writes it:
# (server, binlog info, replica info) -> ("position", file, pos) or ("gtid", set).
INFO_FORMS = {
    "MySQL binlog info with a GTID column: MySQL follows the position": (
        "mysql 8.0", f"mysql-bin.000003\t4711\t{MYSQL_GTID}\n", None,
        ("position", "mysql-bin.000003", 4711)),
    "MySQL binlog info with a GTID set over several lines": (
        "mysql 8.4", f"mysql-bin.000003\t4711\t{MYSQL_GTID},\n4c1ac3e2-71ca-11e1-9e33-c80aa9429562:1-5\n",
        None, ("position", "mysql-bin.000003", 4711)),
    "replica info in position form, SOURCE words and ';'": (
        "mysql 8.4", REPLICA_OWN_BINLOG,
        "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000009', SOURCE_LOG_POS=1234;\n",
        ("position", "mysql-bin.000009", 1234)),
    "replica info in position form, MASTER words, no ';'": (
        "mysql 5.7", REPLICA_OWN_BINLOG,
        "CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000009', MASTER_LOG_POS=1234\n",
        ("position", "mysql-bin.000009", 1234)),
    "MySQL replica info in GTID form with MASTER words, on 8.0": (
        "mysql 8.0", REPLICA_OWN_BINLOG,
        f"SET GLOBAL gtid_purged='{MYSQL_GTID}';\nCHANGE MASTER TO MASTER_AUTO_POSITION=1;\n",
        ("gtid", MYSQL_GTID)),
    "empty MySQL replica info: the binlog info counts": (
        "mysql 8.4", "mysql-bin.000003\t4711\n", "", ("position", "mysql-bin.000003", 4711)),
    "MySQL replica info of blanks and ';' only: the binlog info counts": (
        "mysql 8.0", "mysql-bin.000003\t4711\n", " ;\n", ("position", "mysql-bin.000003", 4711)),
    "MariaDB binlog info without GTID: the position": (
        "mariadb 10.11", "mysql-bin.000003\t4711\n", None, ("position", "mysql-bin.000003", 4711)),
    "MariaDB replica info in GTID form, no ';'": (
        "mariadb 10.11", "replica-bin.000001\t157\t0-101-5\n",
        f"SET GLOBAL gtid_slave_pos = '{MARIADB_GTID}';\nCHANGE MASTER TO master_use_gtid = slave_pos\n",
        ("gtid", MARIADB_GTID)),
    "MariaDB 11.4 replica info in GTID form with ';' (mariadb_backup_slave_info)": (
        "mariadb 11.4", None,
        f"SET GLOBAL gtid_slave_pos = '{MARIADB_GTID}';\nCHANGE MASTER TO master_use_gtid = slave_pos;\n",
        ("gtid", MARIADB_GTID)),
    "MariaDB replica info in position form": (
        "mariadb 10.11", None,
        "CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000009', MASTER_LOG_POS=1234;\n",
        ("position", "mysql-bin.000009", 1234)),
    "empty MariaDB 11.4 replica info: the binlog info counts": (
        "mariadb 11.4", f"mysql-bin.000003\t4711\t{MARIADB_GTID}\n", "", ("gtid", MARIADB_GTID)),
}


@pytest.mark.parametrize("form", INFO_FORMS)
def test_each_form_of_the_backup_info_gives_where_replication_starts(make_pod, form):
    server, binlog_info, slave_info, start = INFO_FORMS[form]
    statements = replication_statements(make_pod, server, binlog_info, slave_info)
    expected = position_sql(server, *start[1:]) if start[0] == "position" else gtid_sql(server, start[1])
    assert statements == [expected]


def test_replica_info_that_names_a_file_but_no_position_fails_the_clone(make_pod):
    pod = make_pod("mysql 8.4", 2)
    pod.scenario["donor_files"] = donor_files(
        "mysql 8.4", REPLICA_OWN_BINLOG, "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000009';\n")
    run = pod.run("clone-mysql")
    assert run.status == 1
    assert "names a binlog file but no position" in run.stderr
    assert not (pod.data / "mysql").exists()
