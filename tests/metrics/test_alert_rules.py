"""The rendered alerts, run by Prometheus's own rule engine (`promtool test rules`): each fires on
series that model its condition (series_model.py) and stays silent on a healthy cluster.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from .monitored_stack import CLUSTER, MAX_LAG, NAMESPACE, rule_groups
from .series_model import (
    BACKUP, DAY, DRILL, EVALUATED_AT, HEALTHY_NAMES, MINUTES, PODS, certificate_expiry,
    cron_job_series, drill_jobs, each_minute, healthy_cluster, heartbeat,
    loaded_certificate_expiry, promtool, recovery_point, scraped, steady, then, volume)


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory) -> Path:
    """The PrometheusRule the dev stack renders with every signal on, as a Prometheus rule file."""
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups()}))
    return path


@pytest.fixture(scope="module")
def rules(rule_file) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule
            for rule in yaml.safe_load(rule_file.read_text())["groups"][0]["rules"]}


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


ALL_ALERTS = {"MySQLClusterPrimaryDown", "MySQLClusterReplicaNotReplicating",
              "MySQLClusterReplicationLag", "MySQLClusterHeartbeatMissing",
              "MySQLClusterMultipleWritableServers", "MySQLClusterDataVolumeNearlyFull",
              "MySQLClusterBackupTooOld", "MySQLClusterRestoreDrillTooOld",
              "MySQLClusterRestoreDrillFailed", "MySQLClusterCertificateExpiresSoon",
              "MySQLClusterRecoveryPointBehind"}


def test_promtool_accepts_the_rendered_rules(rule_file, rules):
    result = promtool("check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(rules) == ALL_ALERTS
    assert f"SUCCESS: {len(ALL_ALERTS)} rules found" in result.stdout


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
    series = {name: then(1, "_") if f'pod="{PODS[0]}"' in name else values
              for name, values in healthy_cluster().items()}
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
    for name in list(series):
        if f'pod="{PODS[1]}"' in name and ("slave_status" in name or "heartbeat" in name
                                          or "read_only" in name):
            series[name] = then(1, "_")
    run_rule_tests(tmp_path, rule_file, series, {
        "MySQLClusterReplicaNotReplicating": [expected(
            rules["MySQLClusterReplicaNotReplicating"], {"namespace": NAMESPACE, "pod": PODS[1]})],
        # The heartbeat is missing because the server is: that alert stays for running servers.
        "MySQLClusterHeartbeatMissing": []})


def test_replica_not_replicating_fires_when_the_replica_exporter_is_down(
        tmp_path, rule_file, rules):
    series = {name: then(1, "_") if f'pod="{PODS[1]}"' in name and not name.startswith("up")
              else values for name, values in healthy_cluster().items()}
    series[scraped("up", PODS[1])] = then(1, 0)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterReplicaNotReplicating": [expected(
        rules["MySQLClusterReplicaNotReplicating"], {"namespace": NAMESPACE, "pod": PODS[1]})]})


def stalled_heartbeat(series: dict[str, str], pod: str, at_minute: int = 5) -> int:
    """The heartbeat `pod` has applied stops advancing at `at_minute`; returns the lag then
    seen at the evaluation."""
    last = at_minute * 60 - 1
    series[heartbeat("stored", pod)] = each_minute(lambda minute: min(minute * 60 - 1, last))
    return EVALUATED_AT - last


@pytest.mark.parametrize("names", sorted(HEALTHY_NAMES))
def test_replication_lag_fires_when_the_applied_heartbeat_falls_behind_while_threads_run(
        tmp_path, rule_file, rules, names):
    # A dead link: both threads report running (and Seconds_Behind_Master 0) while no
    # heartbeat arrives.
    series = healthy_cluster(names)
    lag = stalled_heartbeat(series, PODS[1])
    run_rule_tests(tmp_path, rule_file, series, {
        "MySQLClusterReplicationLag": [expected(rules["MySQLClusterReplicationLag"],
                                                {"namespace": NAMESPACE, "pod": PODS[1]},
                                                str(lag))],
        "MySQLClusterReplicaNotReplicating": []})


def test_replication_lag_at_max_replication_lag_seconds_stays_silent(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[heartbeat("stored", PODS[1])] = each_minute(lambda minute: minute * 60 - MAX_LAG)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterReplicationLag": []})


def test_replication_lag_ignores_the_designated_primary(tmp_path, rule_file, rules):
    # The primary's own heartbeat stops with its writes: PrimaryDown and the replicas' lag say so.
    series = healthy_cluster()
    stalled_heartbeat(series, PODS[0])
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterReplicationLag": []})


def test_heartbeat_missing_fires_when_a_running_server_exports_no_heartbeat(
        tmp_path, rule_file, rules):
    series = healthy_cluster()
    for metric in ("now", "stored"):
        series[heartbeat(metric, PODS[2])] = then(1, "_")
    run_rule_tests(tmp_path, rule_file, series, {
        "MySQLClusterHeartbeatMissing": [expected(rules["MySQLClusterHeartbeatMissing"],
                                                  {"namespace": NAMESPACE, "pod": PODS[2]})],
        "MySQLClusterReplicationLag": []})


def test_multiple_writable_servers_fires_when_a_replica_leaves_read_only(
        tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[scraped("mysql_global_variables_read_only", PODS[2])] = then(1, 0)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterMultipleWritableServers": [
        expected(rules["MySQLClusterMultipleWritableServers"], {"namespace": NAMESPACE}, "2")]})


def test_a_writable_server_that_is_not_the_designated_primary_alone_is_not_two_writers(
        tmp_path, rule_file, rules):
    # A failover in progress: the old primary is gone, another took over.
    series = healthy_cluster()
    series[scraped("mysql_global_variables_read_only", PODS[0])] = then(0, "_")
    series[scraped("mysql_global_variables_read_only", PODS[1])] = then(1, 0)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterMultipleWritableServers": []})


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


TOO_OLD = {BACKUP: "MySQLClusterBackupTooOld", DRILL: "MySQLClusterRestoreDrillTooOld"}
# (model of the CronJob, why the newest success is too old)
STALE_SCHEDULES = {
    "runs-fail-after-the-first": dict(succeeding=lambda run: run == 0),
    "never-succeeded": dict(succeeding=lambda run: False),
    "no-run-started-since-the-first": dict(succeeding=lambda run: True, runs_until=0),
}


@pytest.mark.parametrize("cron_job", sorted(TOO_OLD))
@pytest.mark.parametrize("model", sorted(STALE_SCHEDULES))
def test_too_old_fires_when_no_run_succeeded_within_backup_alert_seconds_of_its_time(
        tmp_path, rule_file, rules, cron_job, model):
    series = healthy_cluster()
    series.update(cron_job_series(cron_job, **STALE_SCHEDULES[model]))
    alert = TOO_OLD[cron_job]
    others = {name: [] for name in TOO_OLD.values() if name != alert}
    run_rule_tests(tmp_path, rule_file, series, {
        alert: [expected(rules[alert], {"namespace": NAMESPACE, "cronjob": cron_job})],
        **others})


@pytest.mark.parametrize("cron_job", sorted(TOO_OLD))
def test_too_old_stays_silent_while_the_newest_failure_is_within_backup_alert_seconds(
        tmp_path, rule_file, rules, cron_job):
    # Runs fail from the one at minute 12: at minute 19 only 7 of the 10 minutes allowed
    # have passed since then, and the run of minute 9 succeeded.
    series = healthy_cluster()
    series.update(cron_job_series(cron_job, succeeding=lambda run: run < 12))
    run_rule_tests(tmp_path, rule_file, series, {TOO_OLD[cron_job]: []})


def test_too_old_alerts_are_silent_for_a_cluster_with_no_drill_yet(tmp_path, rule_file, rules):
    # Clusters from before the drill existed: no series of its CronJob at all.
    series = {name: values for name, values in healthy_cluster().items() if DRILL not in name}
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterRestoreDrillTooOld": [],
                                                 "MySQLClusterRestoreDrillFailed": []})


def test_restore_drill_failed_fires_when_the_newest_drill_failed(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series.update(drill_jobs([True, False]))
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterRestoreDrillFailed": [expected(
        rules["MySQLClusterRestoreDrillFailed"],
        {"namespace": NAMESPACE, "job_name": f"{DRILL}-29000001", "condition": "true"})]})


def test_restore_drill_failed_clears_once_a_newer_drill_succeeded(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series.update(drill_jobs([False, True]))
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterRestoreDrillFailed": []})


def test_certificate_expires_soon_fires_two_weeks_before_the_end(tmp_path, rule_file, rules):
    series = healthy_cluster()
    name, values = certificate_expiry(10 * DAY)
    series[name] = values
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterCertificateExpiresSoon": [
        expected(rules["MySQLClusterCertificateExpiresSoon"], {"namespace": NAMESPACE})]})


def test_certificate_expires_soon_fires_on_a_servers_loaded_certificate_alone(
        tmp_path, rule_file, rules):
    # cert-manager renewed the certificate, but one server still serves the one it loaded.
    series = healthy_cluster()
    name, values = loaded_certificate_expiry(PODS[1], 10 * DAY)
    series[name] = values
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterCertificateExpiresSoon": [
        expected(rules["MySQLClusterCertificateExpiresSoon"], {"namespace": NAMESPACE})]})


def test_certificate_expires_soon_is_one_alert_when_every_source_says_so(
        tmp_path, rule_file, rules):
    series = healthy_cluster()
    for name, values in [certificate_expiry(10 * DAY),
                         *(loaded_certificate_expiry(pod, 10 * DAY) for pod in PODS)]:
        series[name] = values
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterCertificateExpiresSoon": [
        expected(rules["MySQLClusterCertificateExpiresSoon"], {"namespace": NAMESPACE})]})


def test_certificate_alert_ignores_other_certificates(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[f'certmanager_certificate_expiration_timestamp_seconds{{namespace="{NAMESPACE}",'
           'name="web"}'] = steady(DAY)
    series[f'mysql_cluster_tls_certificate_expiry_timestamp_seconds{{job="other-metrics",'
           f'namespace="{NAMESPACE}",pod="other-0"}}'] = steady(DAY)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterCertificateExpiresSoon": []})


def test_recovery_point_behind_fires_when_the_archive_stops_advancing(tmp_path, rule_file, rules):
    # The archive's uploads fail from minute 1: at minute 19 the recovery point is 18 minutes
    # old, beyond binlogArchiveIntervalSeconds (300s) plus 300s since minute 11.
    series = healthy_cluster()
    name, values = recovery_point(PODS[0], lambda minute: 60 if minute else 0)
    series[name] = values
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterRecoveryPointBehind": [
        expected(rules["MySQLClusterRecoveryPointBehind"], {"namespace": NAMESPACE})]})


def test_recovery_point_at_the_interval_plus_slack_stays_silent(tmp_path, rule_file, rules):
    series = healthy_cluster()
    name, values = recovery_point(PODS[0], lambda minute: minute * 60 - 600)
    series[name] = values
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterRecoveryPointBehind": []})


def test_recovery_point_follows_the_primary_that_archives_now(tmp_path, rule_file, rules):
    # A failover at minute 5: the old primary's agent keeps its last value until its archiver
    # removes it; the new primary's archive advances.
    series = healthy_cluster()
    name, values = recovery_point(PODS[0], lambda minute: 0 if minute <= 5 else None)
    series[name] = values
    name, values = recovery_point(PODS[1], lambda minute: minute * 60 - 300 if minute > 5 else None)
    series[name] = values
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterRecoveryPointBehind": []})
