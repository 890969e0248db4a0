"""The cluster's alerts, as Prometheus alerting rules.

They read the series Prometheus scrapes through the cluster's ServiceMonitor (job
`<name>-metrics`, with the `namespace` and `pod` labels the operator adds) and the kubelet's
volume statistics. The exporter names replica status columns as the server does: MySQL 8.4 says
`replica_io_running` and `seconds_behind_source` where MySQL 8.0, 5.7 and MariaDB say
`slave_io_running` and `seconds_behind_master`, so the rules accept both.

A rule on the age of the last successful backup belongs here once backups exist and export the
time of their last success; none is written for a metric that nobody exports yet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .names import ClusterNames

# How much free space a data volume may fall to before the alert: binary logs and a clone's
# staging copy both need room.
VOLUME_FREE_RATIO = 0.10


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


def alerts(names: ClusterNames, max_replication_lag_seconds: int, primary_ordinal: int
           ) -> list[Alert]:
    scraped = f'job="{names.metrics_service}", namespace="{names.namespace}"'
    # The designated primary: moving it is a `pulumi up`, which renders the rules again.
    primary = names.pod(primary_ordinal)

    def replica_status(column: str) -> str:
        return _by_pod(f'{{__name__=~"mysql_slave_status_{column}", {scraped}}}')

    replicas = _by_pod(f'up{{{scraped}, pod!="{primary}"}}')
    # A StatefulSet's claims are named <claim template>-<pod>.
    claims = (f'namespace="{names.namespace}", '
              f'persistentvolumeclaim=~"data-{names.statefulset}-[0-9]+"')
    cluster = f"{names.namespace}/{names.cluster}"
    return [
        Alert(
            "MySQLClusterPrimaryDown",
            # No sample of mysql_up at 1: the exporter cannot reach the server, the exporter is
            # not scraped (pod gone, not running), or the pod was never scraped at all.
            f'absent(mysql_up{{{scraped}, pod="{primary}"}} == 1)',
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
            f'{replica_status("seconds_behind_(master|source)")} > {max_replication_lag_seconds}',
            "2m", "warning",
            f"Replica {{{{ $labels.pod }}}} of {cluster} lags {{{{ $value }}}}s behind the "
            "primary.",
            f"More than maxReplicationLagSeconds ({max_replication_lag_seconds}s) behind: the "
            "replica has left the read endpoint until it catches up.",
        ),
        Alert(
            "MySQLClusterDataVolumeNearlyFull",
            f"kubelet_volume_stats_available_bytes{{{claims}}} / "
            f"kubelet_volume_stats_capacity_bytes{{{claims}}} < {VOLUME_FREE_RATIO}",
            "5m", "warning",
            f"Data volume {{{{ $labels.persistentvolumeclaim }}}} of {cluster} is nearly full.",
            f"Less than {VOLUME_FREE_RATIO:.0%} of the volume is free. A full volume stops the "
            "server; grow the claim, or shorten binlogRetentionDays.",
        ),
    ]


def rule_groups(names: ClusterNames, max_replication_lag_seconds: int, primary_ordinal: int
                ) -> list[dict[str, Any]]:
    """The `groups` of a Prometheus rule file (and of a PrometheusRule's spec)."""
    rules = alerts(names, max_replication_lag_seconds, primary_ordinal)
    return [{"name": f"mysql-cluster.{names.namespace}.{names.cluster}",
             "rules": [alert.rule() for alert in rules]}]
