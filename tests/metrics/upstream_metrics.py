"""Metric names that sources other than the exporter expose, as their upstream repositories
define them (the exporter's own names are taken from its /metrics output against a real server,
test_exporter_real_servers.py). Only the families the cluster's signals may read are listed; a
name here is one its source really serves.
"""
from __future__ import annotations

from mysql_cluster_agent.metrics import HELP as AGENT_METRICS

# kubernetes/kube-state-metrics at c92fe0c5 (v2.20.0-11), the metric tables of
# docs/metrics/workload/cronjob-metrics.md, job-metrics.md, pod-metrics.md (the pod and init
# container rows used) and docs/metrics/service/endpoint-metrics.md.
KUBE_STATE_METRICS = frozenset(["kube_cronjob_annotations", "kube_cronjob_created", "kube_cronjob_info", "kube_cronjob_labels", "kube_cronjob_metadata_resource_version", "kube_cronjob_next_schedule_time", "kube_cronjob_schedule_invalid", "kube_cronjob_spec_failed_job_history_limit", "kube_cronjob_spec_starting_deadline_seconds", "kube_cronjob_spec_successful_job_history_limit", "kube_cronjob_spec_suspend", "kube_cronjob_status_active", "kube_cronjob_status_last_schedule_time", "kube_cronjob_status_last_successful_time", "kube_job_annotations", "kube_job_complete", "kube_job_created", "kube_job_failed", "kube_job_info", "kube_job_labels", "kube_job_owner", "kube_job_spec_active_deadline_seconds", "kube_job_spec_completions", "kube_job_spec_parallelism", "kube_job_status_active", "kube_job_status_completion_time", "kube_job_status_failed", "kube_job_status_ready", "kube_job_status_start_time", "kube_job_status_succeeded", "kube_job_status_suspended", "kube_pod_info", "kube_pod_labels", "kube_pod_owner", "kube_pod_status_ready", "kube_pod_status_phase", "kube_pod_init_container_info", "kube_pod_init_container_status_running", "kube_pod_init_container_status_terminated", "kube_pod_init_container_status_waiting", "kube_endpoint_address", "kube_endpoint_annotations", "kube_endpoint_created", "kube_endpoint_info", "kube_endpoint_labels", "kube_endpoint_ports"])

# kubernetes/kubernetes pkg/kubelet/metrics/collectors/volume_stats.go: the kubelet's volume
# statistics, labelled by namespace and persistentvolumeclaim.
KUBELET = frozenset(["kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes", "kubelet_volume_stats_used_bytes", "kubelet_volume_stats_inodes", "kubelet_volume_stats_inodes_free", "kubelet_volume_stats_inodes_used"])

# cert-manager/cert-manager at 2d0d7f7f, internal/collectors/certificate_collector.go.
CERT_MANAGER = frozenset(["certmanager_certificate_ready_status", "certmanager_certificate_not_after_timestamp_seconds", "certmanager_certificate_not_before_timestamp_seconds", "certmanager_certificate_expiration_timestamp_seconds", "certmanager_certificate_renewal_timestamp_seconds"])

# The agent's own metrics (mysql_cluster_agent/metrics.py), served on its metrics port under the
# exporter's job; tests/agent/test_metrics.py holds what it serves.
AGENT = frozenset(AGENT_METRICS)

# Prometheus itself gives every scrape target `up` (prometheus/prometheus scrape/scrape.go).
PROMETHEUS = frozenset({"up"})

BY_PREFIX = {"kube_": KUBE_STATE_METRICS, "kubelet_": KUBELET, "certmanager_": CERT_MANAGER,
             "mysql_cluster_": AGENT}
# The exporter's names start so (but for the agent's, mysql_cluster_); they are checked against a
# real exporter instead.
EXPORTER_PREFIX = "mysql_"


def is_exporter_metric(name: str) -> bool:
    return name.startswith(EXPORTER_PREFIX) and not name.startswith("mysql_cluster_")
