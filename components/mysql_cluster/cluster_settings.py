# Generated from components/mysql_cluster/settings.py by `python -m mysql_cluster.tooling.generate`;
# do not edit.
"""ClusterSettings as a type checker sees it.

settings.py makes the class at run time from SETTINGS (one attribute per row), which a type checker
cannot follow; it imports this declaration instead, and
`python -m mysql_cluster.tooling.generate --check` keeps the two equal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi


@dataclass(frozen=True)
class ClusterSettings:
    """Every setting of a cluster, validated, with defaults filled in."""

    name: str
    namespace: str
    replicas: int
    flavor: str
    version: str
    server_image: str
    backup_image: str
    storage_size: str
    storage_class: str
    server_cpu_request: str
    server_memory_request: str
    server_cpu_limit: str
    server_memory_limit: str
    backup_cpu_request: str
    backup_memory_request: str
    backup_cpu_limit: str
    backup_memory_limit: str
    agent_image: str
    agent_cpu_request: str
    agent_memory_request: str
    agent_cpu_limit: str
    agent_memory_limit: str
    max_replication_lag_seconds: int
    backup_parallel: int
    transfer_buffer_bytes: int
    binlog_retention_days: int
    anti_affinity: str
    zone_spread: bool
    allowed_client_namespaces: list[str]
    dns_namespace: str
    dns_pod_labels: list[str]
    app_user: str
    app_database: str
    existing_secret: str
    cluster_domain: str
    server_options: dict[str, str]
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    priority_class_name: str
    pod_labels: dict[str, str]
    pod_annotations: dict[str, str]
    primary_service_type: str
    primary_service_annotations: dict[str, str]
    read_service_type: str
    read_service_annotations: dict[str, str]
    image_pull_secrets: list[str]
    service_account_name: str
    metrics: bool
    metrics_image: str
    metrics_client_namespaces: list[str]
    service_monitor: bool
    prometheus_rule: bool
    prometheus_labels: list[str]
    grafana_dashboard: bool
    grafana_dashboard_labels: list[str]
    backup_schedule: str
    restore_drill_schedule: str
    backup_alert_seconds: int
    backup_target: str
    backup_s3_endpoint: str
    backup_s3_bucket: str
    backup_s3_egress_cidrs: list[str]
    backup_s3_region: str
    backup_s3_secret: str
    backup_claim: str
    backup_prefix: str
    backup_retention_count: int
    backup_retention_days: int
    binlog_archive_interval_seconds: int
    backup_throttle_bytes_per_second: int
    rclone_image: str
    restore_from: str
    restore_to: str
    primary_ordinal: int
    primary_down_read_seconds: int
    automatic_failover: bool
    failover_grace_seconds: int
    tls_source: str
    tls_issuer: str
    tls_issuer_kind: str
    tls_secret: str
    require_client_tls: bool
    root_password: Optional[pulumi.Input[str]]
    replication_password: Optional[pulumi.Input[str]]
    backup_password: Optional[pulumi.Input[str]]
    app_password: Optional[pulumi.Input[str]]
    backup_key: Optional[pulumi.Input[str]]
