"""The rendered alerts, run by Prometheus's own rule engine (`promtool test rules`): each fires on
series that model its condition and stays silent on a healthy cluster.

The series are those the exporter, the kubelet, kube-state-metrics and cert-manager expose for
the dev stack's cluster (`mysql` in namespace `mysql-dev`, three pods, backups and a
cert-manager certificate on), as the ServiceMonitor's job labels the exporter's. Replica status
appears in both spellings the exporter uses: MariaDB's and MySQL 8.0's `slave_*`, and MySQL
8.4's `replica_*`. Times are seconds from promtool's start (Unix time 0); a sample is taken every
minute.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import yaml

from .monitored_stack import ALERT_SECONDS, CLUSTER, MAX_LAG, NAMESPACE, rule_groups

JOB = f'job="{CLUSTER}-metrics",namespace="{NAMESPACE}"'
PODS = [f"{CLUSTER}-{ordinal}" for ordinal in range(3)]
REPLICAS = PODS[1:]
MINUTES = 20  # series length; alerts are evaluated at the end
EVALUATED_AT = (MINUTES - 1) * 60
HEALTHY_NAMES = {
    "mariadb": ("slave_io_running", "slave_sql_running"),
    "mysql-8.4": ("replica_io_running", "replica_sql_running"),
}
# The scheduled jobs of the model run every SCHEDULE_MINUTES and succeed a minute later; the
# alerts give them ALERT_SECONDS (backupAlertSeconds) from their scheduled time.
SCHEDULE_MINUTES = 3
BACKUP, DRILL = f"{CLUSTER}-backup", f"{CLUSTER}-restore-drill"
PRIMARY_SERVER_ID = "100"
DAY = 86400


def scraped(metric: str, pod: str, labels: str = "") -> str:
    """A series of `pod`'s exporter as the ServiceMonitor's job labels it."""
    if metric.startswith("mysql_slave_status_"):
        labels += ',connection_name=""'
    return f'{metric}{{{JOB},pod="{pod}"{labels}}}'


def heartbeat(metric: str, pod: str) -> str:
    return scraped(f"mysql_heartbeat_{metric}_timestamp_seconds", pod,
                   f',server_id="{PRIMARY_SERVER_ID}"')


def volume(metric: str, claim: str) -> str:
    """A kubelet volume statistic of claim `claim`."""
    return (f'kubelet_volume_stats_{metric}_bytes{{namespace="{NAMESPACE}",'
            f'persistentvolumeclaim="{claim}",job="kubelet"}}')


def cron_job(metric: str, name: str) -> str:
    """A kube-state-metrics series of CronJob `name`."""
    return (f'kube_cronjob_{metric}{{namespace="{NAMESPACE}",cronjob="{name}",'
            f'job="kube-state-metrics"}}')


def job(metric: str, name: str, labels: str = "") -> str:
    """A kube-state-metrics series of Job `name`."""
    return f'kube_job_{metric}{{namespace="{NAMESPACE}",job_name="{name}"{labels}}}'


def steady(value: float) -> str:
    return f"{value}x{MINUTES}"


def then(before: str, after: str) -> str:
    """The value `before` for the first five minutes, then `after` (a value, or "_": gone)."""
    return f"{before}x5 {after}x{MINUTES - 5}"


def each_minute(value: Callable[[int], Optional[float]]) -> str:
    """The values of `value(minute)`, None for no sample."""
    return " ".join("_" if value(minute) is None else str(value(minute))
                    for minute in range(MINUTES + 1))


def clock() -> str:
    return each_minute(lambda minute: minute * 60)


def scheduled_job(succeeding: Callable[[int], bool], runs_until: int = MINUTES
                  ) -> dict[str, Callable[[int], Optional[float]]]:
    """kube-state-metrics' view of a CronJob run every SCHEDULE_MINUTES (until minute
    `runs_until`), whose run at minute m succeeds a minute later when `succeeding(m)`."""
    def last_run(minute: int) -> int:
        return min(minute, runs_until) // SCHEDULE_MINUTES * SCHEDULE_MINUTES

    def last_success(minute: int) -> Optional[float]:
        done = [run for run in range(0, last_run(minute) + 1, SCHEDULE_MINUTES)
                if succeeding(run) and run + 1 <= minute]
        return (done[-1] + 1) * 60 if done else None
    return {"status_last_schedule_time": lambda minute: last_run(minute) * 60,
            "status_last_successful_time": last_success,
            "next_schedule_time": lambda minute: (last_run(minute) + SCHEDULE_MINUTES) * 60}


def cron_job_series(name: str, **model) -> dict[str, str]:
    return {cron_job(metric, name): each_minute(value)
            for metric, value in scheduled_job(**model).items()}


def drill_jobs(outcomes: list[bool]) -> dict[str, str]:
    """The drill's Jobs, one per outcome (True: succeeded), created a schedule apart, each
    finished by the time of the next."""
    series = {}
    for number, succeeded in enumerate(outcomes):
        name = f"{DRILL}-{29000000 + number}"
        series[job("created", name)] = steady(number * SCHEDULE_MINUTES * 60)
        series[job("status_succeeded", name)] = steady(int(succeeded))
        if not succeeded:
            series[job("failed", name, ',condition="true"')] = steady(1)
            series[job("failed", name, ',condition="false"')] = steady(0)
    return series


def certificate_expiry(seconds_left: float) -> str:
    return ('certmanager_certificate_expiration_timestamp_seconds{'
            f'namespace="{NAMESPACE}",name="{CLUSTER}",issuer_name="cluster-ca",'
            f'issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"}}'), \
        each_minute(lambda minute: minute * 60 + seconds_left)


def healthy_cluster(names: str = "mariadb") -> dict[str, str]:
    """Every series of a healthy cluster: series selector -> promtool values."""
    io_running, sql_running = HEALTHY_NAMES[names]
    series = {}
    for pod in PODS:
        series[scraped("up", pod)] = steady(1)
        series[scraped("mysql_up", pod)] = steady(1)
        series[scraped("mysql_global_variables_read_only", pod)] = steady(int(pod != PODS[0]))
        series[volume("capacity", f"data-{pod}")] = steady(10e9)
        series[volume("available", f"data-{pod}")] = steady(6e9)
        # Each pod has applied the heartbeat of a second ago.
        series[heartbeat("now", pod)] = clock()
        series[heartbeat("stored", pod)] = each_minute(lambda minute: minute * 60 - 1)
    for pod in REPLICAS:
        for column in (io_running, sql_running):
            series[scraped(f"mysql_slave_status_{column}", pod)] = steady(1)
    series.update(cron_job_series(BACKUP, succeeding=lambda run: True))
    series.update(cron_job_series(DRILL, succeeding=lambda run: True))
    series.update(drill_jobs([True, True]))
    name, values = certificate_expiry(60 * DAY)
    series[name] = values
    return series


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


ALL_ALERTS = {"MySQLClusterPrimaryDown", "MySQLClusterReplicaNotReplicating",
              "MySQLClusterReplicationLag", "MySQLClusterHeartbeatMissing",
              "MySQLClusterMultipleWritableServers", "MySQLClusterDataVolumeNearlyFull",
              "MySQLClusterBackupTooOld", "MySQLClusterRestoreDrillTooOld",
              "MySQLClusterRestoreDrillFailed", "MySQLClusterCertificateExpiresSoon"}


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
        expected(rules["MySQLClusterCertificateExpiresSoon"], {
            "namespace": NAMESPACE, "name": CLUSTER, "issuer_name": "cluster-ca",
            "issuer_kind": "ClusterIssuer", "issuer_group": "cert-manager.io"})]})


def test_certificate_alert_ignores_other_certificates(tmp_path, rule_file, rules):
    series = healthy_cluster()
    series[f'certmanager_certificate_expiration_timestamp_seconds{{namespace="{NAMESPACE}",'
           'name="web"}'] = steady(DAY)
    run_rule_tests(tmp_path, rule_file, series, {"MySQLClusterCertificateExpiresSoon": []})
