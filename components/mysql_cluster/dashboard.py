"""The cluster's Grafana dashboard, in a ConfigMap that Grafana's dashboard sidecar loads
(grafana/helm-charts, charts/grafana: `sidecar.dashboards`, which watches ConfigMaps carrying its
label and writes each data key as a dashboard file).

Every panel reads series that signals.py builds, so a panel shows what its alert judges. Left
out, for want of a metric: MariaDB's clone progress (the clone is a stream between two containers
that counts nothing; its panel shows only that one is under way). A MySQL pod's agent clones
through the server, which counts its bytes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from .names import ClusterNames
from .settings import ClusterSettings
from .signals import Signals

DASHBOARD_FILE = "mysql-cluster.json"
# The panels' data source: a variable, so that the dashboard works with whichever Prometheus
# data source the Grafana has.
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_WIDTH, _HEIGHT = 12, 8  # two panels a row, on Grafana's 24-column grid


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    kind: str  # Grafana panel type
    unit: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)


def panels(names: ClusterNames, settings: ClusterSettings) -> list[Panel]:
    signals = Signals(names, settings.primary_ordinal)
    lag = settings.max_replication_lag_seconds
    found = [
        Panel("Replication lag by heartbeat",
              "Each pod's clock minus the newest heartbeat it has applied (the primary writes "
              f"one every second). Above {lag}s (maxReplicationLagSeconds) a replica leaves the "
              "read endpoint, and MySQLClusterReplicationLag fires.",
              "timeseries", "s", ((signals.heartbeat_lag(), "{{pod}}"),)),
        Panel("Primary: servers accepting writes",
              "1 while the pod's server has read_only off. One pod at a time; two at once fire "
              "MySQLClusterMultipleWritableServers.",
              "state-timeline", "none",
              ((f"1 - max by (pod) ({signals.exporter('mysql_global_variables_read_only')})",
                "{{pod}}"),)),
        Panel("Read endpoint members",
              f"Pods that are ready addresses of Service {names.read_service}: a replica leaves "
              "while it lags or does not replicate (kube-state-metrics).",
              "state-timeline", "none", ((signals.read_endpoints(), "{{pod}}"),)),
        Panel("Servers answering",
              "1 while the exporter beside the pod reaches its server (mysql_up).",
              "state-timeline", "none",
              ((f"max by (pod) ({signals.exporter('mysql_up')})", "{{pod}}"),)),
        Panel("Clone progress",
              "Share of its clone each new or rebuilt replica has copied from a peer, as its "
              "server reports it to the pod's agent (mysql_cluster_clone_copied_bytes over "
              "mysql_cluster_clone_estimated_bytes); no line while no pod clones.",
              "timeseries", "percentunit", ((signals.clone_progress(), "{{pod}}"),))
        if settings.flavor == "mysql" else
        Panel("Pods cloning",
              "1 while the pod's clone init container runs: a new or rebuilt replica copying its "
              "data from a peer. Its progress is not exported; the container's log shows it "
              "(kube-state-metrics).",
              "state-timeline", "none",
              ((f'max by (pod) (kube_pod_init_container_status_running{{'
                f'namespace="{names.namespace}", pod=~"{names.statefulset}-[0-9]+", '
                f'container="clone-mysql"}})', "{{pod}}"),)),
        Panel("Data volume free space",
              "Bytes free on each pod's data volume; below a tenth of the volume, "
              "MySQLClusterDataVolumeNearlyFull fires (kubelet).",
              "timeseries", "bytes",
              ((f"kubelet_volume_stats_available_bytes{{{signals.data_claims}}}",
                "{{persistentvolumeclaim}}"),)),
    ]
    if settings.backup_target:
        found.append(Panel(
            "Recovery point age",
            "Time since the newest moment up to which the binary log archive holds every "
            "transaction: what a point-in-time restore would lose now (the primary's agent). "
            f"Above binlogArchiveIntervalSeconds ({settings.binlog_archive_interval_seconds}s) "
            "plus slack, MySQLClusterRecoveryPointBehind fires.",
            "timeseries", "s", ((f"time() - {signals.recovery_point()}", "recovery point"),)))
    if settings.tls_source != "none":
        found.append(Panel(
            "Certificate time left",
            "Time until each server's loaded TLS certificate expires, as the server reports it "
            "(the agents); MySQLClusterCertificateExpiresSoon fires below 14 days.",
            "timeseries", "s",
            ((f"max by (pod) ({signals.certificate_expiry()}) - time()", "{{pod}}"),)))
    if settings.backup_schedule:
        found.append(Panel(
            "Newest successful backup and restore drill",
            "Time since the newest successful run of the backup CronJob and of the restore "
            f"drill's ({signals.restore_drill_cron_job}); MySQLClusterBackupTooOld and "
            "MySQLClusterRestoreDrillTooOld fire when the run scheduled last has not succeeded "
            "within backupAlertSeconds (kube-state-metrics).",
            "timeseries", "s",
            ((signals.success_age(names.backup_cron_job), "backup"),
             (signals.success_age(signals.restore_drill_cron_job), "restore drill"))))
    return found


def _panel(index: int, panel: Panel) -> dict[str, Any]:
    return {
        "id": index + 1,
        "title": panel.title,
        "description": panel.description,
        "type": panel.kind,
        "datasource": _DATASOURCE,
        "gridPos": {"x": (index % 2) * _WIDTH, "y": (index // 2) * _HEIGHT,
                    "w": _WIDTH, "h": _HEIGHT},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + number), "datasource": _DATASOURCE,
                     "expr": expr, "legendFormat": legend}
                    for number, (expr, legend) in enumerate(panel.queries)],
    }


def dashboard(names: ClusterNames, settings: ClusterSettings) -> dict[str, Any]:
    """The dashboard's JSON model (Grafana's dashboard schema, one per cluster)."""
    cluster = f"{names.namespace}/{names.cluster}"
    # Grafana's uid is at most 40 characters; a digest keeps clusters apart whatever their names.
    uid = "mysql-" + hashlib.sha256(cluster.encode()).hexdigest()[:20]
    return {
        "uid": uid,
        "title": f"MySQL cluster {cluster}",
        "tags": ["mysql-cluster"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus",
                                 "type": "datasource", "query": "prometheus"}]},
        "panels": [_panel(index, panel) for index, panel in
                   enumerate(panels(names, settings))],
    }


def dashboard_config_map(name: str, names: ClusterNames, settings: ClusterSettings,
                         opts: pulumi.ResourceOptions) -> core.ConfigMap:
    labels = dict(label.split("=", 1) for label in settings.grafana_dashboard_labels)
    return core.ConfigMap(
        f"{name}-dashboard",
        metadata=meta.ObjectMetaArgs(name=names.dashboard_config_map, namespace=names.namespace,
                                     labels={**names.labels, **labels}),
        data={DASHBOARD_FILE: json.dumps(dashboard(names, settings), indent=1, sort_keys=True)},
        opts=opts,
    )
