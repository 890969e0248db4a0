"""The dialect table: the statements and facts that differ between the servers."""
from __future__ import annotations

from mysql_cluster.supported_servers import SERVERS
from mysql_cluster_agent.dialect import Flavor, dialect_for


def test_mysql_speaks_source_and_replica_and_mariadb_master_and_slave() -> None:
    assert dialect_for(Flavor.MYSQL).change_source == "CHANGE REPLICATION SOURCE TO"
    assert dialect_for(Flavor.MARIADB).change_source == "CHANGE MASTER TO"


def test_only_mysql_8_0_resets_binary_logs_with_reset_master() -> None:
    assert dialect_for(Flavor.MYSQL, "8.0").reset_binary_logs == "RESET MASTER"
    assert dialect_for(Flavor.MYSQL, "8.4").reset_binary_logs == "RESET BINARY LOGS AND GTIDS"
    assert dialect_for(Flavor.MYSQL, "9.7").reset_binary_logs == "RESET BINARY LOGS AND GTIDS"
    assert dialect_for(Flavor.MARIADB, "11.8").reset_binary_logs == "RESET MASTER"


def test_a_mysql_primary_runs_the_event_scheduler_and_a_replica_does_not() -> None:
    mysql = dialect_for(Flavor.MYSQL)
    assert "SET GLOBAL event_scheduler = ON" in mysql.promote()
    assert "SET GLOBAL event_scheduler = OFF" in mysql.demote()


def test_a_mariadb_promotion_leaves_the_event_scheduler_alone() -> None:
    mariadb = dialect_for(Flavor.MARIADB)
    assert not any("event_scheduler" in s for s in mariadb.promote() + mariadb.demote())


def test_the_components_servers_take_their_flavor_facts_from_the_dialect_table() -> None:
    for (flavor, version), server in SERVERS.items():
        dialect = dialect_for(Flavor(flavor), version)
        assert server.dialect is dialect
        assert server.read_only_option == dialect.read_only_option
        assert server.server_command == dialect.server_command
