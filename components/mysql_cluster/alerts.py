"""The cluster's alerts, as Prometheus alerting rules.

Each reads the sources signals.py names: the exporters (server down, replication, lag by
heartbeat, writable servers), the kubelet (free space), kube-state-metrics (backups and the
restore drill), the agents (the recovery point; the certificates the servers have loaded) and
cert-manager (its Certificate's expiry). The exporter names replica status
columns as the server does: MySQL 8.4 says `replica_io_running` where MySQL 8.0, 5.7 and MariaDB
say `slave_io_running`, so the rules accept both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .names import ClusterNames
from .settings import ClusterSettings
from .signals import Signals

# How much free space a data volume may fall to before the alert: binary logs and a clone's
# staging copy both need room.
VOLUME_FREE_RATIO = 0.10
# cert-manager renews the certificate 30 days before it expires (tls.py): two weeks left means
# renewal has failed for over two weeks.
CERTIFICATE_ALERT_DAYS = 14
# What the recovery point may lag beyond binlogArchiveIntervalSeconds: the archiver's poll (10s),
# the upload of a log of up to max_binlog_size, and a scrape or two.
RECOVERY_POINT_SLACK_SECONDS = 300


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    duration: str  # how long the condition must hold (the rule's `for`)
    severity: str
    summary: str
    description: str
    labels: dict[str, str] = field(default_factory=dict)

    def rule(self) -> dict[str, Any]:
        return {"alert": self.name, "expr": self.expr, "for": self.duration,
                "labels": {"severity": self.severity, **self.labels},
                "annotations": {"summary": self.summary, "description": self.description}}


def _by_pod(selector: str) -> str:
    return f"max by (namespace, pod) ({selector})"


def _server_alerts(signals: Signals, cluster: str, max_lag: int) -> list[Alert]:
    names, primary = signals.names, signals.primary

    def replica_status(column: str) -> str:
        return _by_pod(f'{{__name__=~"mysql_slave_status_{column}", {signals.scraped}}}')

    is_primary, not_primary = f'pod="{primary}"', f'pod!="{primary}"'
    replicas = _by_pod(signals.exporter("up", not_primary))
    answering = f'{_by_pod(signals.exporter("mysql_up"))} == 1'
    return [
        Alert(
            "MySQLClusterPrimaryDown",
            # No sample of mysql_up at 1: the exporter cannot reach the server, the exporter is
            # not scraped (pod gone, not running), or the pod was never scraped at all.
            f'absent({signals.exporter("mysql_up", is_primary)} == 1)',
            "1m", "critical",
            f"The primary of {cluster} is down: writes fail.",
            f"Pod {primary} does not answer as a running server (mysql_up is not 1, or its "
            "exporter is not scraped). Writes to the primary Service fail until it is back.",
            labels={"namespace": names.namespace, "pod": primary},
        ),
        Alert(
            "MySQLClusterReplicaNotReplicating",
            # Every scraped replica whose receiving and applying threads are not both running:
            # stopped or failed threads, no replication configured, the server or the exporter
            # down (then its status series are gone; `up` remains while the pod is a target).
            f'{replicas} unless on (namespace, pod) '
            f'({replica_status("(slave|replica)_io_running")} == 1 and on (namespace, pod) '
            f'{replica_status("(slave|replica)_sql_running")} == 1)',
            "5m", "warning",
            f"Replica {{{{ $labels.pod }}}} of {cluster} is not replicating.",
            "Its receiving or applying thread is not running, or its server or exporter does "
            "not answer (also while a new replica clones). Its data grows stale; it has left the "
            "read endpoint. See SHOW REPLICA STATUS (SHOW SLAVE STATUS) on the pod.",
        ),
        Alert(
            "MySQLClusterReplicationLag",
            # By the heartbeat the primary writes every second, not Seconds_Behind_Master: that
            # stays 0 while a dead link waits for its timeout (mysql_cluster_agent/heartbeat.py).
            f"{signals.heartbeat_lag(not_primary)} > {max_lag}",
            "2m", "warning",
            f"Replica {{{{ $labels.pod }}}} of {cluster} lags {{{{ $value }}}}s behind the "
            "primary.",
            f"Its newest applied heartbeat is more than maxReplicationLagSeconds ({max_lag}s) "
            "old: the replica has left the read endpoint until it catches up (or, while the "
            "primary is down, after primaryDownReadSeconds).",
        ),
        Alert(
            "MySQLClusterHeartbeatMissing",
            # The lag alert needs the heartbeat: say when a running server exports none.
            f'{answering} unless on (namespace, pod) '
            f'{_by_pod(signals.exporter("mysql_heartbeat_stored_timestamp_seconds"))}',
            "5m", "warning",
            f"Pod {{{{ $labels.pod }}}} of {cluster} exports no heartbeat: its lag is unknown.",
            "The server answers, but the exporter reads no row from "
            "mysql_cluster.exporter_heartbeat: the view or the metrics user's grant is missing "
            "(the backup sidecar makes both), or no primary has written a heartbeat yet. The "
            "exporter's log says which (mysql_exporter_collector_success of collector "
            "collect.heartbeat is then 0).",
        ),
        Alert(
            "MySQLClusterMultipleWritableServers",
            f"count by (namespace) ({signals.writable}) > 1",
            "1m", "critical",
            f"{{{{ $value }}}} servers of {cluster} accept writes at once.",
            "More than one server has read_only off: writes that reach both diverge, and "
            "replicas may follow either. Set read_only on every server but the primary "
            "(primaryOrdinal), then check the data of the other with pt-table-checksum.",
            labels={"namespace": names.namespace},
        ),
        Alert(
            "MySQLClusterDataVolumeNearlyFull",
            f"kubelet_volume_stats_available_bytes{{{signals.data_claims}}} / "
            f"kubelet_volume_stats_capacity_bytes{{{signals.data_claims}}} < {VOLUME_FREE_RATIO}",
            "5m", "warning",
            f"Data volume {{{{ $labels.persistentvolumeclaim }}}} of {cluster} is nearly full.",
            f"Less than {VOLUME_FREE_RATIO:.0%} of the volume is free. A full volume stops the "
            "server; grow the claim, or shorten binlogRetentionDays.",
        ),
    ]


def _not_succeeded_in_time(signals: Signals, cron_job: str, seconds: int) -> str:
    """No run of `cron_job` scheduled `seconds` ago or later has succeeded (the newest scheduled
    time as of `seconds` ago is after the newest success, or there was never one), or a
    scheduled time passed `seconds` ago without a run (the CronJob is suspended, or missed its
    starting deadline). A run's success comes after its scheduled time, so a later success
    answers for every earlier run; a run still within `seconds` of its time is not judged yet.
    kube-state-metrics keeps the newest of each time only, hence the offset."""
    def series(metric: str) -> str:
        return signals.cron_job(metric, cron_job)
    due = f"{series('kube_cronjob_status_last_schedule_time')} offset {seconds}s"
    succeeded = series("kube_cronjob_status_last_successful_time")
    # One series per CronJob, labelled alike whichever condition holds.
    return (f"max by (namespace, cronjob) ({succeeded} < on (namespace, cronjob) {due} or "
            f"({due} unless on (namespace, cronjob) {succeeded}) or "
            f"time() - {series('kube_cronjob_next_schedule_time')} > {seconds})")


def _backup_alerts(signals: Signals, cluster: str, seconds: int) -> list[Alert]:
    names, drill = signals.names, signals.restore_drill_cron_job
    newest_drill = signals.jobs_of("kube_job_created", drill)
    failed_drills = signals.jobs_of("kube_job_failed", drill, 'condition="true"')
    return [
        Alert(
            "MySQLClusterBackupTooOld",
            _not_succeeded_in_time(signals, names.backup_cron_job, seconds),
            "5m", "critical",
            f"No recent successful backup of {cluster}.",
            f"No backup scheduled more than backupAlertSeconds ({seconds}s) ago or since has "
            f"succeeded, or a scheduled backup did not start. See `kubectl -n "
            f"{names.namespace} get cronjob,jobs` and the failed Job's log; a suspended "
            f"CronJob {names.backup_cron_job} takes no backups.",
            labels={"namespace": names.namespace},
        ),
        Alert(
            "MySQLClusterRestoreDrillTooOld",
            _not_succeeded_in_time(signals, drill, seconds),
            "5m", "warning",
            f"No recent restore drill of {cluster} has proven a backup.",
            f"No drill (CronJob {drill}) scheduled more than backupAlertSeconds ({seconds}s) "
            "ago or since has succeeded, or a scheduled drill did not start: nothing has shown "
            "lately that the backups restore.",
            labels={"namespace": names.namespace},
        ),
        Alert(
            "MySQLClusterRestoreDrillFailed",
            f"{failed_drills} == 1 "
            f"and on (namespace, job_name) ({newest_drill} == on (namespace) group_left () "
            f"max by (namespace) ({newest_drill}))",
            "1m", "critical",
            f"The newest restore drill of {cluster} failed: a backup may not restore.",
            "Job {{ $labels.job_name }} did not prove the newest backup and archived binary "
            f"logs. Its log says what failed; `kubectl -n {names.namespace} logs "
            "job/{{ $labels.job_name }}`.",
        ),
    ]


def _certificate_alerts(signals: Signals, cluster: str, cert_manager: bool) -> list[Alert]:
    names = signals.names
    # One series per namespace, the soonest of every source: cert-manager's view of its
    # Certificate and each server's view of the certificate it has loaded (which stays old
    # when a renewed one was not reloaded, and is the only view of a self-signed or given one).
    sources = [signals.certificate_expiry()]
    if cert_manager:
        sources.insert(0, f'certmanager_certificate_expiration_timestamp_seconds{{'
                          f'namespace="{names.namespace}", name="{names.certificate}"}}')
    renewal = (f"cert-manager should have renewed Certificate {names.certificate} 30 days "
               "before its end (see `kubectl describe certificate` and the issuer), or a server "
               "still serves the certificate it loaded before the renewal"
               if cert_manager else
               "Renew it (self-signed: `pulumi up` renews it in its last 30 days; tlsSource "
               "secret: replace the Secret's certificate), and check that every server has "
               "loaded the new one")
    return [Alert(
        "MySQLClusterCertificateExpiresSoon",
        f"min by (namespace) ({' or '.join(sources)}) - time() < {CERTIFICATE_ALERT_DAYS * 86400}",
        "10m", "warning",
        f"The TLS certificate of {cluster} expires in less than {CERTIFICATE_ALERT_DAYS} days.",
        f"{renewal}. Once it expires, clients, replicas and clones that verify it are refused.",
        labels={"namespace": names.namespace},
    )]


def _recovery_point_alerts(signals: Signals, cluster: str, interval: int) -> list[Alert]:
    names = signals.names
    allowed = interval + RECOVERY_POINT_SLACK_SECONDS
    return [Alert(
        "MySQLClusterRecoveryPointBehind",
        f"time() - {signals.recovery_point()} > {allowed}",
        "5m", "critical",
        f"The binary log archive of {cluster} is behind: a point-in-time restore would lose "
        "recent writes.",
        f"The newest time up to which the archive holds every transaction is more than "
        f"binlogArchiveIntervalSeconds ({interval}s) plus {RECOVERY_POINT_SLACK_SECONDS}s old. "
        "See the primary's agent log (lines beginning binlog-archive:): the backup target "
        "unreachable or refusing writes, FLUSH BINARY LOGS failing, or the agent stopped.",
        labels={"namespace": names.namespace},
    )]


def alerts(names: ClusterNames, settings: ClusterSettings) -> list[Alert]:
    signals = Signals(names, settings.primary_ordinal)
    cluster = f"{names.namespace}/{names.cluster}"
    rules = _server_alerts(signals, cluster, settings.max_replication_lag_seconds)
    if settings.backup_schedule:
        rules += _backup_alerts(signals, cluster, settings.backup_alert_seconds)
    if settings.backup_target:
        rules += _recovery_point_alerts(signals, cluster, settings.binlog_archive_interval_seconds)
    if settings.tls_source != "none":
        rules += _certificate_alerts(signals, cluster, settings.tls_source == "cert-manager")
    return rules


def rule_groups(names: ClusterNames, settings: ClusterSettings) -> list[dict[str, Any]]:
    """The `groups` of a Prometheus rule file (and of a PrometheusRule's spec)."""
    return [{"name": f"mysql-cluster.{names.namespace}.{names.cluster}",
             "rules": [alert.rule() for alert in alerts(names, settings)]}]
