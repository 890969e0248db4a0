"""The options every server starts with: GTID replication everywhere, durable commits, a replica
that notices a dead link within seconds, and binary logs that expire, on every supported server.

Each expected line is written in the spelling of the server it is for: an option a server does
not know stops it at start."""
from __future__ import annotations

import pytest

from mysql_cluster.user_server_options import MANAGED_OPTIONS

from stack_manifests import server_config_map

from .conftest import SERVER_IDS, SERVERS, find, server_config

# Options every pod of every server gets, primary or replica.
DURABLE = ["sync-binlog=1", "innodb-flush-log-at-trx-commit=1", "binlog-format=ROW",
           "log-bin=mysql-bin", "relay-log-recovery=ON", "skip-name-resolve=ON"]
# GTID replication, the replica's own binary log, a 10 s net timeout and no replication before
# the sidecar has pointed the replica at the primary, in each server's words.
MYSQL_REPLICATION = ["gtid-mode=ON", "enforce-gtid-consistency=ON", "log-replica-updates=ON",
                     "replica-net-timeout=10", "skip-replica-start=ON",
                     # every MySQL server can be a CLONE donor
                     "plugin-load-add=mysql_clone.so"]
REPLICATION = {
    ("mysql", "9.7"): MYSQL_REPLICATION,
    ("mysql", "8.4"): MYSQL_REPLICATION,
    ("mysql", "8.0"): MYSQL_REPLICATION,
    ("mariadb", "11.8"): ["gtid-strict-mode=ON", "log-slave-updates=ON", "slave-net-timeout=10",
                          "skip-slave-start=ON"],
    ("mariadb", "11.4"): ["gtid-strict-mode=ON", "log-slave-updates=ON", "slave-net-timeout=10",
                          "skip-slave-start=ON"],
    ("mariadb", "10.11"): ["gtid-strict-mode=ON", "log-slave-updates=ON", "slave-net-timeout=10",
                           "skip-slave-start=ON"],
}


def cnf_lines(rendered, flavor: str, version: str, role: str, **config) -> list[str]:
    data = server_config_map(rendered(**server_config(flavor, version), **config))["data"]
    return data[f"{role}.cnf"].splitlines()


@pytest.mark.parametrize("role", ["primary", "replica"])
@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_every_pod_commits_durably_and_replicates_by_gtid(rendered, flavor, version, role):
    lines = cnf_lines(rendered, flavor, version, role)
    missing = [line for line in DURABLE + REPLICATION[(flavor, version)] if line not in lines]
    assert missing == []


@pytest.mark.parametrize("flavor, version, expected", [
    ("mysql", "9.7", "binlog-expire-logs-seconds=864000"),
    ("mysql", "8.4", "binlog-expire-logs-seconds=864000"),
    ("mysql", "8.0", "binlog-expire-logs-seconds=864000"),
    ("mariadb", "11.8", "binlog-expire-logs-seconds=864000"),
    ("mariadb", "11.4", "binlog-expire-logs-seconds=864000"),
    ("mariadb", "10.11", "binlog-expire-logs-seconds=864000"),
], ids=SERVER_IDS)
def test_binary_logs_expire_after_the_configured_retention(rendered, flavor, version, expected):
    assert expected in cnf_lines(rendered, flavor, version, "primary", binlogRetentionDays=10)


def test_binary_logs_are_kept_a_week_by_default(rendered):
    assert "binlog-expire-logs-seconds=604800" in cnf_lines(rendered, "mysql", "8.4", "primary")


@pytest.mark.parametrize("version", ["11.8", "11.4"])
def test_mariadb_11_primary_purges_binary_logs_without_a_connected_replica(rendered, version):
    assert "slave-connections-needed-for-purge=0" in cnf_lines(rendered, "mariadb", version,
                                                                "primary")


def test_mariadb_10_11_gets_no_purge_option_it_does_not_know(rendered):
    # mariadbd 10.11 refuses to start on an unknown option.
    assert not [line for line in cnf_lines(rendered, "mariadb", "10.11", "primary")
                if line.startswith("slave-connections-needed-for-purge")]


def pod_config_checksum(rendered, **config) -> str:
    template = find(rendered(**config), "StatefulSet")["spec"]["template"]
    return template["metadata"]["annotations"]["mysql-cluster/config-checksum"]


def test_a_changed_retention_rolls_the_pods(rendered):
    assert pod_config_checksum(rendered) != pod_config_checksum(rendered, binlogRetentionDays=3)


# --- serverOptions and the defaults it may replace ----------------------------------------------

def extra_lines(lines: list[str]) -> list[str]:
    """The lines a .cnf has after the component's own: the user's serverOptions."""
    return lines[lines.index("# serverOptions") + 1:]


@pytest.mark.parametrize("role", ["primary", "replica"])
def test_server_options_follow_the_clusters_own_options_in_both_roles(rendered, role):
    lines = cnf_lines(rendered, "mysql", "8.4", role,
                      serverOptions='{"max_connections": 500, "long_query_time": "2"}')
    assert extra_lines(lines) == ["max-connections=500", "long-query-time=2"]


def test_server_option_with_an_empty_value_is_written_as_a_bare_flag(rendered):
    lines = cnf_lines(rendered, "mysql", "8.4", "primary", serverOptions='{"skip-log-error": ""}')
    assert extra_lines(lines) == ["skip-log-error"]


def test_boolean_server_option_values_are_written_as_on_and_off(rendered):
    lines = cnf_lines(rendered, "mysql", "8.4", "primary",
                      serverOptions='{"log_slow_extra": true, "performance_schema": false}')
    assert extra_lines(lines) == ["log-slow-extra=ON", "performance-schema=OFF"]


def test_without_server_options_the_cnf_has_no_section_for_them(rendered):
    assert "# serverOptions" not in cnf_lines(rendered, "mysql", "8.4", "primary")


@pytest.mark.parametrize("limit, size", [("2Gi", "1024M"), ("3000Mi", "1408M"), ("8G", "3712M"),
                                         ("200Mi", "128M")])
def test_buffer_pool_is_half_the_memory_limit_rounded_down_to_128_mib_and_at_least_128_mib(
        rendered, limit, size):
    lines = cnf_lines(rendered, "mysql", "8.4", "primary", serverMemoryRequest="128Mi",
                      serverMemoryLimit=limit)
    assert f"innodb-buffer-pool-size={size}" in lines


def test_buffer_pool_size_in_server_options_replaces_the_default(rendered):
    lines = cnf_lines(rendered, "mysql", "8.4", "primary",
                      serverOptions='{"innodb_buffer_pool_size": "3G"}')
    assert [line for line in lines if line.startswith("innodb-buffer-pool-size=")] == [
        "innodb-buffer-pool-size=3G"]


@pytest.mark.parametrize("flavor, version, collation", [
    ("mysql", "9.7", "utf8mb4_0900_ai_ci"),
    ("mysql", "8.4", "utf8mb4_0900_ai_ci"),
    ("mysql", "8.0", "utf8mb4_0900_ai_ci"),
    ("mariadb", "11.8", "utf8mb4_uca1400_ai_ci"),
    ("mariadb", "11.4", "utf8mb4_uca1400_ai_ci"),
    ("mariadb", "10.11", "utf8mb4_uca1400_ai_ci"),
], ids=SERVER_IDS)
def test_character_set_is_utf8mb4_with_a_unicode_collation_the_server_has(
        rendered, flavor, version, collation):
    lines = cnf_lines(rendered, flavor, version, "replica")
    assert ["character-set-server=utf8mb4", f"collation-server={collation}"] == [
        line for line in lines if line.startswith(("character-set-server=", "collation-server="))]


def test_another_character_set_in_server_options_also_drops_the_utf8mb4_collation(rendered):
    lines = cnf_lines(rendered, "mysql", "8.4", "primary",
                      serverOptions='{"character_set_server": "latin1"}')
    assert [line for line in lines if line.startswith(("character-set", "collation"))] == [
        "character-set-server=latin1"]


def test_changed_server_options_roll_the_pods(rendered):
    assert pod_config_checksum(rendered) != pod_config_checksum(
        rendered, serverOptions='{"max_connections": 500}')


REPLACEABLE_DEFAULTS = {"innodb-buffer-pool-size", "character-set-server", "collation-server"}


@pytest.mark.parametrize("role", ["primary", "replica"])
@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_every_option_the_cluster_writes_is_either_refused_in_server_options_or_replaceable(
        rendered, flavor, version, role):
    names = {line.split("=")[0] for line in cnf_lines(rendered, flavor, version, role)
             if not line.startswith(("#", "["))}
    assert names - REPLACEABLE_DEFAULTS - set(MANAGED_OPTIONS) == set()
