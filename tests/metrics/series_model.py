"""The series a healthy cluster's sources expose, as promtool's input series, and the ways the
tests break them. The series are those the exporter, the kubelet, kube-state-metrics and
cert-manager expose for the dev stack's cluster (`mysql` in namespace `mysql-dev`, three pods,
backups and a cert-manager certificate on), as the ServiceMonitor's job labels the exporter's.
Replica status appears in both spellings the exporter uses: MariaDB's and MySQL 8.0's `slave_*`,
and MySQL 8.4's `replica_*`. Times are seconds from promtool's start (Unix time 0); a sample is
taken every minute.
"""
from __future__ import annotations

import subprocess
from typing import Callable, Optional

import pytest

from .monitored_stack import CLUSTER, NAMESPACE

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
# alerts give them backupAlertSeconds (monitored_stack.ALERT_SECONDS) from their scheduled time.
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


def loaded_certificate_expiry(pod: str, seconds_left: float) -> tuple[str, str]:
    """The agent's view of the certificate `pod`'s server has loaded."""
    return scraped("mysql_cluster_tls_certificate_expiry_timestamp_seconds", pod), \
        each_minute(lambda minute: minute * 60 + seconds_left)


def recovery_point(pod: str, value: Callable[[int], Optional[float]]) -> tuple[str, str]:
    """The recovery point `pod`'s agent serves, `value(minute)` (None: not served)."""
    return scraped("mysql_cluster_binlog_archive_newest_timestamp_seconds", pod), \
        each_minute(value)


def pod_ip(pod: str) -> str:
    return f"10.0.0.{PODS.index(pod) + 10}"


def kube_pod(metric: str, pod: str, labels: str = "") -> str:
    """A kube-state-metrics series of pod `pod`."""
    return f'kube_pod_{metric}{{namespace="{NAMESPACE}",pod="{pod}"{labels}}}'


def read_endpoint(pod: str) -> str:
    """kube-state-metrics' series of `pod`'s address in the read Service's Endpoints."""
    return (f'kube_endpoint_address{{namespace="{NAMESPACE}",endpoint="{CLUSTER}-read",'
            f'ip="{pod_ip(pod)}",port_name="mysql",port_number="3306",port_protocol="TCP",'
            'ready="true"}')


def pods_and_read_endpoint() -> dict[str, str]:
    """kube-state-metrics' view of the pods: every pod ready and in the read Service, no clone
    running; and a finished backup Job's pod whose IP a server's pod has been given since."""
    series = {}
    for pod in PODS:
        series[kube_pod("info", pod, f',pod_ip="{pod_ip(pod)}",created_by_kind="StatefulSet",'
                                     f'created_by_name="{CLUSTER}",node="node-1"')] = steady(1)
        series[kube_pod("init_container_status_running", pod, ',container="clone-mysql"')] = \
            steady(0)
        series[read_endpoint(pod)] = steady(1)
    series[kube_pod("info", f"{BACKUP}-29000000-x7k2p",
                    f',pod_ip="{pod_ip(PODS[2])}",created_by_kind="Job",'
                    f'created_by_name="{BACKUP}-29000000",node="node-1"')] = steady(1)
    return series


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
        name, values = loaded_certificate_expiry(pod, 60 * DAY)
        series[name] = values
    for pod in REPLICAS:
        for column in (io_running, sql_running):
            series[scraped(f"mysql_slave_status_{column}", pod)] = steady(1)
    # The primary archives: every transaction of an interval (binlogArchiveIntervalSeconds, 300
    # by default) ago is in the archive; the replicas' agents serve no recovery point.
    name, values = recovery_point(PODS[0], lambda minute: max(minute * 60 - 300, 0))
    series[name] = values
    series.update(pods_and_read_endpoint())
    series.update(cron_job_series(BACKUP, succeeding=lambda run: True))
    series.update(cron_job_series(DRILL, succeeding=lambda run: True))
    series.update(drill_jobs([True, True]))
    name, values = certificate_expiry(60 * DAY)
    series[name] = values
    return series


def promtool(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.fail("promtool is missing: run tools/install.sh (Debian package prometheus)")
