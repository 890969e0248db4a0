"""A global sql_mode that changes how statements parse (ANSI_QUOTES makes "," a name, and
PIPES_AS_CONCAT makes || a concatenation) does not change what the scripts read: their SQL
client sets its own session's mode (issue 22, finding 3). Without it, the peers' answers failed
and an emptied pod 0 saw no peer, so it started a second, empty database."""

import shutil

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_an_emptied_pod_0_clones_from_a_peer_whose_global_sql_mode_changes_quoting(mariadb_cluster):
    cluster = mariadb_cluster(replicas=2)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()
    harness.run_sql("mysql-1", "SET GLOBAL sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT'")

    harness.stop_pod("mysql-0")
    for entry in harness.claim_path("mysql-0").iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    harness.resume_pod("mysql-0")

    log = harness.log_tail("mysql-0", cluster.clone_container, lines=10_000)
    assert "starts a new database" not in log
    donor = harness.dns_name("mysql-1")
    assert (f"cloning {donor}:3306 with the CLONE plugin" if cluster.flavor == "mysql"
            else f"streaming a backup from {donor}") in log
    cluster.assert_events_everywhere(100)
