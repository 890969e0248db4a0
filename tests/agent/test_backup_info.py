"""Where a physical backup stands: the GTID its info files give, in every form the backup tools
write, and every refusal of files that are not a backup of this cluster."""
from __future__ import annotations

from pathlib import Path

import pytest
from mysql_cluster_agent.backup_info import MAX_INFO_BYTES, BackupInfoError, backup_coordinates
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid

MYSQL = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"
MYSQL_TWO = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42,\n4f22ab58-82db-22f2-af44-d91bb0530673:1-3"
MARIADB = "0-100-42"
LATER = {Flavor.MYSQL: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-90", Flavor.MARIADB: "0-100-50"}


def backup(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def read(flavor: Flavor, directory: Path) -> str:
    found = backup_coordinates(flavor, directory)
    assert found is not None
    return str(found.gtid)


# The forms each tool version writes (tests/scripts/server_model.py slave_info and binlog_info
# say which version writes which, as seen on the real tools).
@pytest.mark.parametrize(("flavor", "name", "text", "expected"), [
    (Flavor.MYSQL, "xtrabackup_slave_info",
     f"SET GLOBAL gtid_purged='{MYSQL}';\nCHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1;\n", MYSQL),
    (Flavor.MYSQL, "xtrabackup_slave_info",
     f"SET GLOBAL gtid_purged='{MYSQL}';\nCHANGE MASTER TO MASTER_AUTO_POSITION=1;\n", MYSQL),
    (Flavor.MARIADB, "mariadb_backup_slave_info",
     f"SET GLOBAL gtid_slave_pos = '{MARIADB}';\nCHANGE MASTER TO master_use_gtid = slave_pos;\n", MARIADB),
    (Flavor.MARIADB, "xtrabackup_slave_info",
     f"SET GLOBAL gtid_slave_pos = '{MARIADB}';\nCHANGE MASTER TO master_use_gtid = slave_pos\n", MARIADB),
    (Flavor.MYSQL, "xtrabackup_binlog_info", f"mysql-bin.000001\t157\t{MYSQL}\n", MYSQL),
    (Flavor.MARIADB, "mariadb_backup_binlog_info", f"mysql-bin.000001\t157\t{MARIADB}\n", MARIADB),
    (Flavor.MARIADB, "xtrabackup_binlog_info", f"mysql-bin.000001\t157\t{MARIADB}\n", MARIADB),
])
def test_each_form_of_the_info_files_gives_the_backups_gtid(tmp_path, flavor, name, text, expected):
    assert read(flavor, backup(tmp_path, **{name: text})) == str(parse_gtid(flavor, expected))


def test_a_mysql_set_of_several_sources_over_several_lines_is_read_whole(tmp_path):
    directory = backup(tmp_path, xtrabackup_binlog_info=f"mysql-bin.000001\t157\t{MYSQL_TWO}\n")
    assert read(Flavor.MYSQL, directory) == str(parse_gtid(Flavor.MYSQL, MYSQL_TWO))


@pytest.mark.parametrize("flavor", list(Flavor))
def test_the_replicas_position_wins_over_the_binary_log_state(tmp_path, flavor):
    binlog = MYSQL if flavor is Flavor.MYSQL else MARIADB
    variable = "gtid_purged" if flavor is Flavor.MYSQL else "gtid_slave_pos"
    directory = backup(tmp_path, xtrabackup_binlog_info=f"mysql-bin.000001\t157\t{binlog}\n",
                       xtrabackup_slave_info=f"SET GLOBAL {variable}='{LATER[flavor]}';\n")
    assert read(flavor, directory) == LATER[flavor]


@pytest.mark.parametrize("empty", ["", "\n", " ;\n", ";"])
def test_replica_info_that_says_nothing_leaves_the_binary_log_state(tmp_path, empty):
    directory = backup(tmp_path, mariadb_backup_slave_info=empty,
                       mariadb_backup_binlog_info=f"mysql-bin.000001\t157\t{MARIADB}\n")
    assert read(Flavor.MARIADB, directory) == MARIADB


def test_the_newer_file_name_is_read_before_the_older(tmp_path):
    directory = backup(tmp_path, mariadb_backup_binlog_info=f"mysql-bin.000002\t4\t{LATER[Flavor.MARIADB]}\n",
                       xtrabackup_binlog_info=f"mysql-bin.000001\t157\t{MARIADB}\n")
    assert read(Flavor.MARIADB, directory) == LATER[Flavor.MARIADB]


def test_the_source_file_is_named_for_the_log(tmp_path):
    directory = backup(tmp_path, xtrabackup_binlog_info=f"mysql-bin.000001\t157\t{MARIADB}\n")
    found = backup_coordinates(Flavor.MARIADB, directory)
    assert found is not None and found.source == directory / "xtrabackup_binlog_info"


@pytest.mark.parametrize("files", [{}, {"xtrabackup_binlog_info": "  \n"}, {"mariadb_backup_slave_info": ";\n"}])
def test_a_backup_without_info_that_says_something_has_no_coordinates(tmp_path, files):
    assert backup_coordinates(Flavor.MARIADB, backup(tmp_path, **files)) is None


# The refusals: each names the file and says why the backup is not of this cluster.
@pytest.mark.parametrize(("flavor", "name", "text", "message"), [
    (Flavor.MYSQL, "xtrabackup_slave_info",
     "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000009', SOURCE_LOG_POS=1234;\n",
     "has no GTID position: the donor replicates without GTIDs, so it is not a pod of this cluster: "
     "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000009', SOURCE_LOG_POS=1234;?"),
    (Flavor.MARIADB, "mariadb_backup_slave_info",
     "CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000009', MASTER_LOG_POS=1234;\n",
     "has no GTID position: the donor replicates without GTIDs, so it is not a pod of this cluster"),
    (Flavor.MARIADB, "xtrabackup_slave_info", "SET GLOBAL gtid_slave_pos = '';\n",
     "has no GTID position"),
    (Flavor.MYSQL, "xtrabackup_binlog_info", "mysql-bin.000001\t157\n",
     "has no GTID column: the donor runs without GTIDs, so it is not a pod of this cluster: mysql-bin.000001?157?"),
    (Flavor.MYSQL, "xtrabackup_binlog_info", "mysql-bin.000001\n", "has no GTID column"),
    (Flavor.MARIADB, "xtrabackup_binlog_info", f"mysql-bin.000001\tx157\t{MARIADB}\n",
     "is not file, position and GTID"),
    (Flavor.MYSQL, "xtrabackup_binlog_info", f"mysql-bin.000001\t157\t{MARIADB}\n",
     "holds no valid mysql GTID ('0-100-42"),
    (Flavor.MARIADB, "mariadb_backup_binlog_info", f"mysql-bin.000001\t157\t{MYSQL}\n",
     "holds no valid mariadb GTID"),
    (Flavor.MARIADB, "mariadb_backup_slave_info", "SET GLOBAL gtid_slave_pos = '0-1-2; DROP TABLE t';\n",
     "the backup was altered or is not of this cluster; refusing it"),
    (Flavor.MYSQL, "xtrabackup_slave_info", f"SET GLOBAL gtid_purged='{MYSQL}$(reboot)';\n",
     "holds no valid mysql GTID"),
])
def test_info_that_is_not_of_this_cluster_is_refused_naming_the_file(tmp_path, flavor, name, text, message):
    with pytest.raises(BackupInfoError, match="^" + str(tmp_path / name).replace(".", r"\.") + " ") as refused:
        backup_coordinates(flavor, backup(tmp_path, **{name: text}))
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_replica_file_that_is_refused_is_not_passed_over_for_the_binary_log_state(tmp_path):
    directory = backup(tmp_path, xtrabackup_slave_info="CHANGE MASTER TO MASTER_LOG_FILE='f', MASTER_LOG_POS=4;\n",
                       xtrabackup_binlog_info=f"mysql-bin.000001\t157\t{MARIADB}\n")
    with pytest.raises(BackupInfoError, match="has no GTID position"):
        backup_coordinates(Flavor.MARIADB, directory)


def test_an_info_file_that_is_not_text_is_refused(tmp_path):
    (tmp_path / "xtrabackup_binlog_info").write_bytes(b"mysql-bin.000001\t157\t\xff\xfe\n")
    with pytest.raises(BackupInfoError, match="is not text"):
        backup_coordinates(Flavor.MARIADB, tmp_path)


def test_an_info_file_larger_than_the_tools_write_is_refused_unread(tmp_path):
    (tmp_path / "xtrabackup_binlog_info").write_text("0-1-1," * (MAX_INFO_BYTES // 6 + 1))
    with pytest.raises(BackupInfoError, match="is larger than"):
        backup_coordinates(Flavor.MARIADB, tmp_path)


def test_an_info_name_that_is_no_regular_file_is_passed_over(tmp_path):
    (tmp_path / "xtrabackup_slave_info").mkdir()
    (tmp_path / "mariadb_backup_slave_info").symlink_to(tmp_path / "missing")
    assert backup_coordinates(Flavor.MARIADB, tmp_path) is None
