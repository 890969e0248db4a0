"""The role loop's read of its own server (gather.read_local_state): its channel's source, read
from the replica status by column name, and when it started, against a fake Sql seam."""
from __future__ import annotations

import pytest
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.gather import gather, read_local_state
from mysql_cluster_agent.heartbeat import applied_heartbeat_sql
from mysql_cluster_agent.peers import PeerAnswer

from .conftest import agent_config
from .fake_sql import FakeSql

NOW = 1_800_000_000
MARIADB = dialect_for(Flavor.MARIADB)
MYSQL = dialect_for(Flavor.MYSQL)
# A MySQL replica status row as a dict, its columns in an order of their own: only names count.
MYSQL_REPLICA = {"Retrieved_Gtid_Set": "", "Last_SQL_Error": "", "Source_Host": "db-0.db",
                 "Replica_SQL_Running": "Yes", "Last_IO_Error": "", "Replica_IO_Running": "Yes"}
MARIADB_REPLICA = {"Master_Host": "db-2.db", "Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes",
                   "Last_IO_Error": "", "Last_SQL_Error": "", "Gtid_IO_Pos": "0-100-10"}


def server(flavor: Flavor, replica_status: list[dict[str, object]], uptime: str = "600") -> FakeSql:
    dialect = dialect_for(flavor)
    gtid = "0-100-10" if flavor is Flavor.MARIADB else ""
    return FakeSql(answers={f"SELECT @@GLOBAL.read_only, {dialect.gtid_state_expression}": [(1, gtid)],
                            applied_heartbeat_sql(): [],
                            "SHOW GLOBAL STATUS LIKE 'Uptime'": [("Uptime", uptime)]},
                   named={dialect.replica_status: replica_status})


@pytest.mark.parametrize(("flavor", "row", "host"), [(Flavor.MYSQL, MYSQL_REPLICA, "db-0.db"),
                                                     (Flavor.MARIADB, MARIADB_REPLICA, "db-2.db")])
def test_a_replica_names_its_source_host_from_the_column_of_that_name(flavor: Flavor, row: dict[str, object],
                                                                       host: str) -> None:
    local = read_local_state(server(flavor, [row]), dialect_for(flavor), 1, NOW)
    assert local.server.source_host == host
    assert local.replica_configured


def test_a_server_without_a_channel_has_no_source_and_no_replica_configured() -> None:
    local = read_local_state(server(Flavor.MARIADB, []), MARIADB, 0, NOW)
    assert local.server.source_host is None
    assert not local.replica_configured


def test_a_channel_without_a_host_counts_as_configured_with_no_source() -> None:
    local = read_local_state(server(Flavor.MARIADB, [{**MARIADB_REPLICA, "Master_Host": ""}]), MARIADB, 1, NOW)
    assert local.server.source_host is None
    assert local.replica_configured


def test_the_start_time_is_now_less_the_servers_uptime() -> None:
    assert read_local_state(server(Flavor.MYSQL, [], uptime="600"), MYSQL, 0, NOW).started_at == NOW - 600


def test_a_replica_status_without_the_source_host_column_is_refused_naming_it() -> None:
    row = {name: value for name, value in MYSQL_REPLICA.items() if name != "Source_Host"}
    with pytest.raises(ValueError, match="SHOW REPLICA STATUS answered without the column Source_Host"):
        read_local_state(server(Flavor.MYSQL, [row]), MYSQL, 1, NOW)


def test_only_peers_whose_agents_sent_no_answer_at_all_count_as_unreachable(tmp_path) -> None:
    # Pod 1's agent refused (503 while it clones): reached, without a state. Pod 2 timed out.
    answers = [PeerAnswer(1, None, "HTTP 503: this pod clones", reached=True),
               PeerAnswer(2, None, "timed out", reached=False)]
    config = agent_config(tmp_path)
    (tmp_path / "topology" / "primary-ordinal").write_text("0\n")
    gathered = gather(config, server(Flavor.MYSQL, []), MYSQL, lambda _: answers, None, NOW * 1_000_000)
    assert gathered.view.unreachable == frozenset({2})
    assert gathered.view.pods_reached == 2
    assert gathered.view.answered == ()
