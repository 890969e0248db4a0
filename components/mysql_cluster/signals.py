"""The series a cluster's alerts and dashboard read, as PromQL: one place for the selectors and
the expressions both use, so that a panel shows exactly what its alert judges.

Sources, each named where it is used:
- the exporter beside each server, scraped through the ServiceMonitor (job `<name>-metrics`, with
  the `namespace` and `pod` labels the Prometheus Operator adds);
- the kubelet's volume statistics (`kubelet_volume_stats_*`, labelled by claim);
- kube-state-metrics, for the outcome of the backup CronJob and the restore drill's CronJob, the
  pods' readiness and the read Service's endpoints (kubernetes/kube-state-metrics
  docs/metrics/workload/cronjob-metrics.md, job-metrics.md, pod-metrics.md,
  service/endpoint-metrics.md);
- the agent beside each server, on its own metrics port under the same job: the recovery point
  its binary log archive records, the expiry of the certificate each server has loaded and a
  running MySQL clone's bytes (mysql_cluster_agent/metrics.py);
- cert-manager's controller, for the certificate's expiry when tlsSource is cert-manager
  (cert-manager/cert-manager internal/collectors/certificate_collector.go).
"""
from __future__ import annotations

from dataclasses import dataclass

from mysql_cluster_agent.metrics import (
    CERTIFICATE_EXPIRY,
    CLONE_COPIED,
    CLONE_ESTIMATED,
    RECOVERY_POINT,
)

from .names import ClusterNames


@dataclass(frozen=True)
class Signals:
    names: ClusterNames
    primary_ordinal: int

    @property
    def scraped(self) -> str:
        """The label matchers of every series of the cluster's exporters."""
        return f'job="{self.names.metrics_service}", namespace="{self.names.namespace}"'

    @property
    def primary(self) -> str:
        # The designated primary: moving it is a `pulumi up`, which renders the rules again.
        return self.names.pod(self.primary_ordinal)

    @property
    def restore_drill_cron_job(self) -> str:
        """The restore drill's contract: a CronJob of this name whose Jobs succeed when the drill
        proved the newest backup and fail when it did not. The alerts and the dashboard read only
        kube-state-metrics' series of that CronJob and its Jobs, so a drill built to this
        contract needs nothing more to be watched."""
        return self.names.restore_drill_cron_job

    def exporter(self, metric: str, matchers: str = "") -> str:
        extra = f", {matchers}" if matchers else ""
        return f"{metric}{{{self.scraped}{extra}}}"

    def recovery_point(self) -> str:
        """The newest time before which every transaction is in the binary log archive: only the
        archiving primary's agent serves it (its archiver removes the file on losing the role)."""
        return f"max by (namespace) ({self.exporter(RECOVERY_POINT)})"

    def certificate_expiry(self) -> str:
        """When each server's loaded certificate expires, as the server reports it."""
        return self.exporter(CERTIFICATE_EXPIRY)

    def clone_progress(self) -> str:
        """The share of its clone each MySQL pod that clones a peer has copied, as its server
        reports it to the agent; no series while no pod clones."""
        return (f"max by (namespace, pod) ({self.exporter(CLONE_COPIED)}) / "
                f"max by (namespace, pod) ({self.exporter(CLONE_ESTIMATED)} > 0)")

    def heartbeat_lag(self, matchers: str = "") -> str:
        """Seconds between each pod's clock and the newest heartbeat it has applied: how far
        behind the primary its data is, whatever its replication threads believe. Both times
        come from the same server, so they are read in one query (exporter --collect.heartbeat)."""
        return (f"max by (namespace, pod) ("
                f"{self.exporter('mysql_heartbeat_now_timestamp_seconds', matchers)} - "
                f"{self.exporter('mysql_heartbeat_stored_timestamp_seconds', matchers)})")

    @property
    def writable(self) -> str:
        """One series per pod whose server accepts writes (read_only off)."""
        return f"max by (namespace, pod) ({self.exporter('mysql_global_variables_read_only')}) == 0"

    @property
    def data_claims(self) -> str:
        # A StatefulSet's claims are named <claim template>-<pod>.
        return (f'namespace="{self.names.namespace}", '
                f'persistentvolumeclaim=~"data-{self.names.statefulset}-[0-9]+"')

    def cron_job(self, metric: str, cron_job: str) -> str:
        """A kube-state-metrics series of the CronJob `cron_job`."""
        return f'{metric}{{namespace="{self.names.namespace}", cronjob="{cron_job}"}}'

    def success_age(self, cron_job: str) -> str:
        """Seconds since the newest successful run of `cron_job` (none before its first)."""
        return f"time() - {self.cron_job('kube_cronjob_status_last_successful_time', cron_job)}"

    def jobs_of(self, metric: str, cron_job: str, matchers: str = "") -> str:
        """A kube-state-metrics series of every Job that `cron_job` created: the CronJob
        controller names them <cronjob>-<scheduled time in minutes>."""
        extra = f", {matchers}" if matchers else ""
        return (f'{metric}{{namespace="{self.names.namespace}", '
                f'job_name=~"{cron_job}-[0-9]+"{extra}}}')

    def read_endpoints(self) -> str:
        """Each pod that is a ready address of the read Service, by name: kube-state-metrics
        gives the Endpoints' addresses by IP, and the pods' IPs by name (only the StatefulSet's pods:
        a finished Job's pod keeps an IP that a server's pod may have been given since)."""
        return (f'max by (namespace, pod) (kube_endpoint_address{{namespace="{self.names.namespace}",'
                f' endpoint="{self.names.read_service}", ready="true"}}'
                f' * on (namespace, ip) group_left (pod) label_replace('
                f'kube_pod_info{{namespace="{self.names.namespace}", created_by_kind="StatefulSet", '
                f'created_by_name="{self.names.statefulset}"}}, "ip", "$1", "pod_ip", "(.+)"))')
