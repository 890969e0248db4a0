"""Upgrade in place, as docs/operations.md ("Upgrade the server version") describes it: a cluster
running MariaDB 10.11 is moved to 11.8 by changing `version`; the StatefulSet rolls the pods from
the highest ordinal down (replicas first, the primary last), each server opens the older data
directory itself, and then mariadb-upgrade runs in every pod, replicas first, with the command the
document gives."""

import re
from pathlib import Path

import pytest

from .errors import HarnessError
from .server_roots import split_server

pytestmark = pytest.mark.e2e

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"
TARGET = "mariadb-11.8"
TARGET_FLAVOR, TARGET_VERSION = split_server(TARGET)


def documented_upgrade_command() -> str:
    """The script the document runs with ``kubectl exec ... -c mysql -- bash -c '<script>'``."""
    found = re.findall(r"-c mysql -- bash -c '([^']*mariadb-upgrade[^']*)'", OPERATIONS.read_text())
    assert len(found) == 1, f"expected one mariadb-upgrade command in {OPERATIONS}: {found}"
    return found[0]


@pytest.mark.parametrize("server", ["mariadb-10.11"], indirect=True)
@pytest.mark.timeout(480)
def test_a_10_11_cluster_moves_to_11_8_by_changing_version_and_keeps_its_data_and_replication(
        mariadb_cluster, render, root_of):
    cluster = mariadb_cluster(replicas=3)
    harness = cluster.harness
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()

    harness.roll_out(render("dev", reveal_secrets=True, flavor=TARGET_FLAVOR, version=TARGET_VERSION),
                     root_of(TARGET))
    for pod in reversed(harness.pod_names()):
        try:
            harness.exec(pod, "mysql", ["bash", "-c", documented_upgrade_command()], timeout=120)
        except HarnessError as error:
            # What the server was doing says which statement waited on which.
            raise HarnessError(f"{error}; {pod}'s threads: "
                               f"{harness.run_sql(pod, 'SHOW FULL PROCESSLIST')}") from None

    cluster.assert_version(TARGET_VERSION)
    # The command paused each server's event scheduler (and a replica's applier) for the upgrade
    # and resumed it (assert_replicating below checks the applier).
    assert {pod: harness.run_sql(pod, "SELECT @@GLOBAL.event_scheduler") for pod in harness.pod_names()} == {
        pod: [("ON",)] for pod in harness.pod_names()}
    for pod in harness.pod_names():
        upgrade_info = (harness.claim_path(pod) / "mysql" / "mariadb_upgrade_info").read_text()
        assert upgrade_info.startswith(TARGET_VERSION + "."), f"{pod}: {upgrade_info}"
    for replica in cluster.replicas():
        # The replica kept its data directory: no clone at its new start.
        assert "already holds a database" in harness.log_tail(replica, "clone-mysql")
        # The primary rolled last: the replica's I/O thread, refused meanwhile, connects again at
        # its next retry (Connect_Retry, 5 s).
        harness.wait_until(lambda: cluster.replica_status(replica)["Slave_IO_Running"] == "Yes", 30,
                           f"{replica}'s I/O thread connected to the upgraded primary")
        cluster.assert_replicating(replica)
    # The 11.x configuration arrived with the new template.
    assert harness.run_sql(cluster.primary,
                           "SELECT @@slave_connections_needed_for_purge") == [("0",)]
    cluster.insert_events(101, 200)
    # A replica added afterwards clones an upgraded one.
    harness.scale_to(4)
    cluster.insert_events(201, 300)
    cluster.wait_caught_up()
    cluster.assert_replicating("mysql-3")
    cluster.assert_events_everywhere(300)
