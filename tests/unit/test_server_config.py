"""The options every server starts with: GTID replication everywhere, durable commits, a replica
that notices a dead link within seconds, and binary logs that expire, on every supported server.

Each expected line is written in the spelling of the server it is for: an option a server does
not know stops it at start."""
from __future__ import annotations

import pytest

from .conftest import SERVER_IDS, SERVERS, find, server_config

# Options every pod of every server gets, primary or replica.
DURABLE = ["sync-binlog=1", "innodb-flush-log-at-trx-commit=1", "binlog-format=ROW",
           "log-bin=mysql-bin", "relay-log-recovery=ON", "skip-name-resolve=ON"]
# GTID replication, the replica's own binary log, a 10 s net timeout and no replication before
# the sidecar has pointed the replica at the primary, in each server's words.
REPLICATION = {
    ("mysql", "8.4"): ["gtid-mode=ON", "enforce-gtid-consistency=ON", "log-replica-updates=ON",
                       "replica-net-timeout=10", "skip-replica-start=ON"],
    ("mysql", "8.0"): ["gtid-mode=ON", "enforce-gtid-consistency=ON", "log-replica-updates=ON",
                       "replica-net-timeout=10", "skip-replica-start=ON"],
    ("mysql", "5.7"): ["gtid-mode=ON", "enforce-gtid-consistency=ON", "log-slave-updates=ON",
                       "slave-net-timeout=10", "skip-slave-start=ON",
                       "master-info-repository=TABLE", "relay-log-info-repository=TABLE"],
    ("mariadb", "11.4"): ["gtid-strict-mode=ON", "log-slave-updates=ON", "slave-net-timeout=10",
                          "skip-slave-start=ON"],
    ("mariadb", "10.11"): ["gtid-strict-mode=ON", "log-slave-updates=ON", "slave-net-timeout=10",
                           "skip-slave-start=ON"],
}


def cnf_lines(rendered, flavor: str, version: str, role: str, **config) -> list[str]:
    data = find(rendered(**server_config(flavor, version), **config), "ConfigMap")["data"]
    return data[f"{role}.cnf"].splitlines()


@pytest.mark.parametrize("role", ["primary", "replica"])
@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_every_pod_commits_durably_and_replicates_by_gtid(rendered, flavor, version, role):
    lines = cnf_lines(rendered, flavor, version, role)
    missing = [line for line in DURABLE + REPLICATION[(flavor, version)] if line not in lines]
    assert missing == []


@pytest.mark.parametrize("flavor, version, expected", [
    ("mysql", "8.4", "binlog-expire-logs-seconds=864000"),
    ("mysql", "8.0", "binlog-expire-logs-seconds=864000"),
    ("mysql", "5.7", "expire-logs-days=10"),
    ("mariadb", "11.4", "binlog-expire-logs-seconds=864000"),
    ("mariadb", "10.11", "binlog-expire-logs-seconds=864000"),
], ids=SERVER_IDS)
def test_binary_logs_expire_after_the_configured_retention(rendered, flavor, version, expected):
    assert expected in cnf_lines(rendered, flavor, version, "primary", binlogRetentionDays=10)


def test_binary_logs_are_kept_a_week_by_default(rendered):
    assert "binlog-expire-logs-seconds=604800" in cnf_lines(rendered, "mysql", "8.4", "primary")


def test_mariadb_11_primary_purges_binary_logs_without_a_connected_replica(rendered):
    assert "slave-connections-needed-for-purge=0" in cnf_lines(rendered, "mariadb", "11.4",
                                                                "primary")


def test_mariadb_10_11_gets_no_purge_option_it_does_not_know(rendered):
    # mariadbd 10.11 refuses to start on an unknown option.
    assert not [line for line in cnf_lines(rendered, "mariadb", "10.11", "primary")
                if line.startswith("slave-connections-needed-for-purge")]


def test_a_changed_retention_rolls_the_pods(rendered):
    def checksum(**config):
        template = find(rendered(**config), "StatefulSet")["spec"]["template"]
        return template["metadata"]["annotations"]["mysql-cluster/config-checksum"]
    assert checksum() != checksum(binlogRetentionDays=3)
