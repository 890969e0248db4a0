"""The data check that other scenarios end with (checksum.py) finds a difference it is shown."""

import pytest

from .checksum import assert_replicas_match, checksum_replicas

pytestmark = pytest.mark.e2e

# Root on a replica changes a row without logging it: replication cannot mend or report it.
_CHANGE_UNLOGGED = {
    "mysql": "SET GLOBAL super_read_only = OFF; SET SESSION sql_log_bin = 0; {change};"
             " SET GLOBAL super_read_only = ON",
    "mariadb": "SET SESSION sql_log_bin = 0; {change}",
}


@pytest.mark.timeout(240)
def test_pt_table_checksum_reports_the_table_of_a_row_changed_unlogged_on_one_replica(mariadb_cluster):
    cluster = mariadb_cluster(replicas=3)
    cluster.create_events_table()
    cluster.insert_events(1, 1000)
    cluster.wait_caught_up()
    assert_replicas_match(cluster)

    changed = cluster.replicas()[1]
    cluster.harness.run_sql(changed, _CHANGE_UNLOGGED[cluster.flavor].format(
        change=f"UPDATE {cluster.app_database}.events SET payload = 'changed' WHERE seq = 500"))
    report = checksum_replicas(cluster)
    assert report.differing_tables == [f"{cluster.app_database}.events"], report.output
    assert report.exit_status == 16  # the tool's TABLE_DIFF flag alone
