"""The rendered alerts, run by Prometheus's own rule engine (`promtool test rules`): each fires on
series that model its condition and stays silent on a healthy cluster.

The series are those the exporter and the kubelet expose for the dev stack's cluster (`mysql` in
namespace `mysql-dev`, three pods), as the ServiceMonitor's job labels them. Replica status
appears in both spellings the exporter uses: MariaDB's and MySQL 8.0's `slave_*`/`*_master`, and
MySQL 8.4's `replica_*`/`*_source`.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from mysql_cluster.render import render_stack
from stack_manifests import PROJECT_DIR, find

NAMESPACE, CLUSTER = "mysql-dev", "mysql"
JOB = f'job="{CLUSTER}-metrics",namespace="{NAMESPACE}"'
PODS = [f"{CLUSTER}-{ordinal}" for ordinal in range(3)]
REPLICAS = PODS[1:]
MAX_LAG = 30
MINUTES = 20  # series length; alerts are evaluated at the end
HEALTHY_NAMES = {
    "mariadb": ("slave_io_running", "slave_sql_running", "seconds_behind_master"),
    "mysql-8.4": ("replica_io_running", "replica_sql_running", "seconds_behind_source"),
}


def scraped(metric: str, pod: str) -> str:
    """A series of `pod`'s exporter as the ServiceMonitor's job labels it."""
    status = ',connection_name=""' if metric.startswith("mysql_slave_status_") else ""
    return f'{metric}{{{JOB},pod="{pod}"{status}}}'


def volume(metric: str, claim: str) -> str:
    """A kubelet volume statistic of claim `claim`."""
    return (f'kubelet_volume_stats_{metric}_bytes{{namespace="{NAMESPACE}",'
            f'persistentvolumeclaim="{claim}",job="kubelet"}}')


def steady(value: float) -> str:
    return f"{value}x{MINUTES}"


def then(before: str, after: str) -> str:
    """The value `before` for the first five minutes, then `after` (a value, or "_": gone)."""
    return f"{before}x5 {after}x{MINUTES - 5}"


def healthy_cluster(names: str = "mariadb") -> dict[str, str]:
    """Every series of a healthy cluster: series selector -> promtool values."""
    io_running, sql_running, lag = HEALTHY_NAMES[names]
    series = {}
    for pod in PODS:
        series[scraped("up", pod)] = steady(1)
        series[scraped("mysql_up", pod)] = steady(1)
        series[volume("capacity", f"data-{pod}")] = steady(10e9)
        series[volume("available", f"data-{pod}")] = steady(6e9)
    for pod in REPLICAS:
        for column, value in ((io_running, 1), (sql_running, 1), (lag, 0)):
            series[scraped(f"mysql_slave_status_{column}", pod)] = steady(value)
    return series


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory) -> Path:
    """The PrometheusRule the dev stack renders with monitoring on, as a Prometheus rule file."""
    manifests = render_stack(PROJECT_DIR, "dev", {
        "metrics": "true", "serviceMonitor": "true", "prometheusRule": "true",
        "maxReplicationLagSeconds": str(MAX_LAG)})
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": find(manifests, "PrometheusRule")["spec"]["groups"]}))
    return path


@pytest.fixture(scope="module")
def rules(rule_file) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule
            for rule in yaml.safe_load(rule_file.read_text())["groups"][0]["rules"]}


def promtool(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.fail("promtool is missing: run tools/install.sh (Debian package prometheus)")


def expected(rule: dict[str, Any], labels: dict[str, str], value: Optional[str] = None):
    """The alert `rule` raises for a series with `labels`: its templates filled in as
    Prometheus fills them."""
    def fill(text: str) -> str:
        for name, label in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", label)
        return text.replace("{{ $value }}", value or "")
    return {"exp_labels": {**labels, **rule["labels"]},
            "exp_annotations": {key: fill(text) for key, text in rule["annotations"].items()}}


def run_rule_tests(tmp_path: Path, rule_file: Path, series: dict[str, str],
                   alerts: dict[str, list[dict[str, Any]]]) -> None:
    """promtool evaluates every alert in `alerts` at the end of `series`; each must raise
    exactly the alerts listed (none for an empty list)."""
    test = {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": name, "values": values} for name, values in series.items()],
            "alert_rule_test": [{"eval_time": f"{MINUTES - 1}m", "alertname": name,
                                 "exp_alerts": raised} for name, raised in alerts.items()],
        }],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rendered_rules(rule_file):
    result = promtool("check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


@pytest.mark.parametrize("names", sorted(HEALTHY_NAMES))
def test_no_alert_fires_on_a_healthy_cluster(tmp_path, rule_file, rules, names):
    run_rule_tests(tmp_path, rule_file, healthy_cluster(names), {name: [] for name in rules})


def test_primary_down_fires_when_the_exporter_cannot_reach_the_primary(
        tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[scraped("mysql_up", PODS[0])] = then(1, 0)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterPrimaryDown": [expected(
        rules["MySQLClusterPrimaryDown"], {})]})


def test_primary_down_fires_when_the_primary_is_no_longer_scraped(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[scraped("up", PODS[0])] = then(1, "_")
    series[scraped("mysql_up", PODS[0])] = then(1, "_")
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterPrimaryDown": [expected(
        rules["MySQLClusterPrimaryDown"], {})]})


@pytest.mark.parametrize("names", sorted(HEALTHY_NAMES))
@pytest.mark.parametrize("thread", [0, 1], ids=["io-thread", "sql-thread"])
def test_replica_not_replicating_fires_when_a_replication_thread_stops(
        tmp_path, rule_file, rules, names, thread):
    series = healthy_cluster(names)
    column = HEALTHY_NAMES[names][thread]
    series[scraped(f"mysql_slave_status_{column}", PODS[2])] = then(1, 0)
    run_rule_tests(tmp_path, rule_file, series, {
        "MySQLClusterReplicaNotReplicating": [expected(
            rules["MySQLClusterReplicaNotReplicating"], {"namespace": NAMESPACE, "pod": PODS[2]})],
        "MySQLClusterPrimaryDown": []})


def test_replica_not_replicating_fires_when_the_replica_server_is_down(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[scraped("mysql_up", PODS[1])] = then(1, 0)
    for column in HEALTHY_NAMES["mariadb"]:
        series[scraped(f"mysql_slave_status_{column}", PODS[1])] = then(1, "_")
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterReplicaNotReplicating": [expected(
        rules["MySQLClusterReplicaNotReplicating"], {"namespace": NAMESPACE, "pod": PODS[1]})]})


def test_replica_not_replicating_fires_when_the_replica_exporter_is_down(
        tmp_path, rule_file, rules):
    series = {name: then(1, "_") if f'pod="{PODS[1]}"' in name and not name.startswith("up")
              else values for name, values in healthy_cluster().items()}
    series[scraped("up", PODS[1])] = then(1, 0)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterReplicaNotReplicating": [expected(
        rules["MySQLClusterReplicaNotReplicating"], {"namespace": NAMESPACE, "pod": PODS[1]})]})


@pytest.mark.parametrize("names", sorted(HEALTHY_NAMES))
def test_replication_lag_fires_above_max_replication_lag_seconds(tmp_path, rule_file, rules, names):
    series = healthy_cluster(names)
    column = HEALTHY_NAMES[names][2]
    series[scraped(f"mysql_slave_status_{column}", PODS[1])] = then(0, MAX_LAG + 1)
    run_rule_tests(tmp_path, rule_file, series, {
        "MySQLClusterReplicationLag": [expected(rules["MySQLClusterReplicationLag"],
                                                {"namespace": NAMESPACE, "pod": PODS[1]},
                                                str(MAX_LAG + 1))],
        "MySQLClusterReplicaNotReplicating": []})


def test_replication_lag_at_max_replication_lag_seconds_stays_silent(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[scraped("mysql_slave_status_seconds_behind_master", PODS[1])] = steady(MAX_LAG)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterReplicationLag": []})


def test_data_volume_nearly_full_fires_below_a_tenth_free(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[volume("available", f"data-{PODS[2]}")] = then(6e9, 0.9e9)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterDataVolumeNearlyFull": [expected(
        rules["MySQLClusterDataVolumeNearlyFull"],
        {"namespace": NAMESPACE, "persistentvolumeclaim": f"data-{PODS[2]}", "job": "kubelet"})]})


def test_data_volume_alert_ignores_claims_of_other_workloads(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[volume("capacity", f"data-{CLUSTER}-cache-0")] = steady(10e9)
    series[volume("available", f"data-{CLUSTER}-cache-0")] = steady(0)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterDataVolumeNearlyFull": []})
