# Generated from components/mysql_cluster/settings.py by `python -m mysql_cluster.tooling.generate`;
# do not edit.
"""MySQLClusterArgs: the inputs of a MySQLCluster.

No `from __future__ import annotations` here: Pulumi's component analyzer evaluates these
annotations, and reads the docstrings from this source, to infer the multi-language schema.
"""
from typing import Any, Mapping, Sequence, TypedDict

import pulumi


class MySQLClusterArgs(TypedDict, total=False):
    """Inputs of a MySQLCluster. Every field is optional. Fields that shape resources must be plain
    values; passwords may be Outputs (secrets)."""

    namespace: pulumi.Input[str]
    """Kubernetes namespace for every resource of the cluster. Default: `"default"`."""
    replicas: pulumi.Input[int]
    """Number of database pods: the primary (pod primaryOrdinal) and read replicas. Default: `3`."""
    flavor: pulumi.Input[str]
    """Database server: mysql or mariadb. Default: `"mysql"`."""
    version: pulumi.Input[str]
    """Server version line: 9.7, 8.4 or 8.0 (end of life) for mysql; 11.8, 11.4 or 10.11 for mariadb; "" for the newest long-term line of the flavor that this package supports (9.7 or 11.8). Default: `""`."""
    server_image: pulumi.Input[str]
    """Image of the database server (mysql container); "" for the default of the chosen flavor and version. Default: `""`."""
    backup_image: pulumi.Input[str]
    """Image with the backup tool and socat (clone-mysql and backup containers); "" for the default of the chosen flavor and version. Default: `""`."""
    storage_size: pulumi.Input[str]
    """Size of each pod's data volume; a larger size grows the volumes in place where the StorageClass allows expansion, a smaller one is refused by Kubernetes. Default: `"10Gi"`."""
    storage_class: pulumi.Input[str]
    """StorageClass of the data volumes; "" for the cluster's default class. Fixed once the volumes exist. Default: `""`."""
    server_cpu_request: pulumi.Input[str]
    """CPU request of the mysql container. Default: `"500m"`."""
    server_memory_request: pulumi.Input[str]
    """Memory request of the mysql container. Default: `"1Gi"`."""
    server_cpu_limit: pulumi.Input[str]
    """CPU limit of the mysql container; "" for none. Default: `""`."""
    server_memory_limit: pulumi.Input[str]
    """Memory limit of the mysql container. Default: `"2Gi"`."""
    backup_cpu_request: pulumi.Input[str]
    """CPU request of the backup sidecar and the init containers. Default: `"100m"`."""
    backup_memory_request: pulumi.Input[str]
    """Memory request of the backup sidecar and the init containers. Default: `"256Mi"`."""
    backup_cpu_limit: pulumi.Input[str]
    """CPU limit of the backup sidecar and the init containers; "" for none. Default: `""`."""
    backup_memory_limit: pulumi.Input[str]
    """Memory limit of the backup sidecar and the init containers. Default: `"1Gi"`."""
    agent_image: pulumi.Input[str]
    """Image that runs the agent (a Python 3 interpreter at python3; the agent's code comes in a ConfigMap): the official python image, or your mirror of it. Default: `"python:3.13.9-slim-trixie"`."""
    agent_cpu_request: pulumi.Input[str]
    """CPU request of the agent container. Default: `"20m"`."""
    agent_memory_request: pulumi.Input[str]
    """Memory request of the agent container. Default: `"48Mi"`."""
    agent_cpu_limit: pulumi.Input[str]
    """CPU limit of the agent container; "" for none. Default: `""`."""
    agent_memory_limit: pulumi.Input[str]
    """Memory limit of the agent container; with a backupTarget it also runs rclone, which uploads the primary's binary logs (one 32 MiB part at a time to s3). Default: `"256Mi"`."""
    max_replication_lag_seconds: pulumi.Input[int]
    """A replica is ready (and receives reads) only while it is at most this many seconds behind the primary. Default: `30`."""
    backup_parallel: pulumi.Input[int]
    """Data files the backup tool copies at once while a new replica clones. Default: `2`."""
    transfer_buffer_bytes: pulumi.Input[int]
    """Bytes socat moves per read and write of a clone's stream (its default is 8192). Default: `1048576`."""
    binlog_retention_days: pulumi.Input[int]
    """Days each server keeps its binary logs; a replica down for longer is rebuilt by cloning (delete its PersistentVolumeClaim and pod). Default: `7`."""
    anti_affinity: pulumi.Input[str]
    """Spread pods over nodes: preferred (best effort) or required (one pod per node). Default: `"preferred"`."""
    zone_spread: pulumi.Input[bool]
    """Also spread pods evenly over topology.kubernetes.io/zone (best effort). Default: `false`."""
    allowed_client_namespaces: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Namespaces whose pods may connect to port 3306, besides the cluster's own; "*" allows every namespace. Default: `[]`."""
    dns_namespace: pulumi.Input[str]
    """Namespace of the cluster's DNS pods, the only pods outside the cluster's own that the database pods and jobs may query (port 53). Default: `"kube-system"`."""
    dns_pod_labels: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Labels ("key=value") of the cluster's DNS pods in dnsNamespace; CoreDNS and kube-dns both carry k8s-app=kube-dns. Default: `["k8s-app=kube-dns"]`."""
    app_user: pulumi.Input[str]
    """Application user, with all privileges on the application database only. Default: `"app"`."""
    app_database: pulumi.Input[str]
    """Database created for the application user. Default: `"app"`."""
    existing_secret: pulumi.Input[str]
    """Name of an existing Secret with the keys root-password, replication-password, backup-password and app-password (backup-key with a backupTarget; role-key, at least 16 characters that sign the switchover Job's requests to the agents, with tlsSource none); "" to have the stack create one. Default: `""`."""
    cluster_domain: pulumi.Input[str]
    """DNS domain of the Kubernetes cluster, used in the pods' fully qualified names. Default: `"cluster.local"`."""
    server_options: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Extra [mysqld] options, a map of option to value ("" for a bare flag), written after the cluster's own in the primary's and the replicas' .cnf. Names and values are checked against the server's own options; options the cluster manages (server-id, log-bin, GTID, read-only, durability, ...) and those that would defeat it (replication filters, error skipping, paths, log destinations, init files, plugins, unsafe durability, SQL modes that change parsing) are refused; see Server options in the README. Replaces the defaults innodb-buffer-pool-size (half of serverMemoryLimit, rounded down to a multiple of 128 MiB, at least 128 MiB), character-set-server (utf8mb4) and collation-server (utf8mb4_0900_ai_ci on MySQL, utf8mb4_uca1400_ai_ci on MariaDB) when it names them. Default: `{}`."""
    node_selector: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Node labels and values a node must have to run the pods, e.g. {"node-pool": "databases"}. Default: `{}`."""
    tolerations: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]]
    """Node taints the pods tolerate: a list of maps with key, operator (Equal or Exists), value, effect (NoSchedule, PreferNoSchedule or NoExecute; none for all) and tolerationSeconds (NoExecute only). Default: `[]`."""
    priority_class_name: pulumi.Input[str]
    """PriorityClass of the pods; "" for the cluster's default priority. Default: `""`."""
    pod_labels: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Extra labels of the pods; the cluster's own app.kubernetes.io/ labels cannot be replaced. Default: `{}`."""
    pod_annotations: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Extra annotations of the pods; keys under mysql-cluster/ are the cluster's own. Default: `{}`."""
    primary_service_type: pulumi.Input[str]
    """Type of the Service for writes (<name>-primary): ClusterIP, LoadBalancer or NodePort. Default: `"ClusterIP"`."""
    primary_service_annotations: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Annotations of the Service for writes, e.g. for an internal load balancer. Default: `{}`."""
    read_service_type: pulumi.Input[str]
    """Type of the Service for reads (<name>-read): ClusterIP, LoadBalancer or NodePort. Default: `"ClusterIP"`."""
    read_service_annotations: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Annotations of the Service for reads, e.g. for an internal load balancer. Default: `{}`."""
    image_pull_secrets: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Secrets (in the cluster's namespace) with credentials for the registries of the images. Default: `[]`."""
    service_account_name: pulumi.Input[str]
    """ServiceAccount the pods run as; "" for the namespace's default. Its API token is never mounted: the pods do not use the Kubernetes API. Default: `""`."""
    metrics: pulumi.Input[bool]
    """Run a Prometheus exporter (mysqld-exporter) beside each server, serving metrics on port 9104, and serve the agent's own metrics (recovery point, certificate expiry) on port 9105. Default: `false`."""
    metrics_image: pulumi.Input[str]
    """Image of the metrics exporter; "" for prom/mysqld-exporter:v0.18.0. Default: `""`."""
    metrics_client_namespaces: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Namespaces whose pods (Prometheus) may scrape ports 9104 and 9105, besides the cluster's own; "*" allows every namespace. Default: `[]`."""
    service_monitor: pulumi.Input[bool]
    """Create a Prometheus Operator ServiceMonitor for the exporters (needs metrics, and the operator's CRDs in the cluster). Default: `false`."""
    prometheus_rule: pulumi.Input[bool]
    """Create a Prometheus Operator PrometheusRule with the cluster's alerts (needs serviceMonitor, whose job the alerts read). Default: `false`."""
    prometheus_labels: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Labels ("key=value") of the ServiceMonitor and PrometheusRule, for the operator's selectors, e.g. ["release=kube-prometheus-stack"]. Default: `[]`."""
    grafana_dashboard: pulumi.Input[bool]
    """Create a ConfigMap holding the cluster's Grafana dashboard, which Grafana's dashboard sidecar loads (needs metrics; its panels also read kube-state-metrics and the kubelet). Default: `false`."""
    grafana_dashboard_labels: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Labels ("key=value") of the dashboard's ConfigMap: the Grafana sidecar loads ConfigMaps with its configured label (kube-prometheus-stack: grafana_dashboard=1). Default: `["grafana_dashboard=1"]`."""
    backup_schedule: pulumi.Input[str]
    """Cron schedule (UTC) of physical backups to backupTarget, e.g. "30 2 * * *"; "" for none. Default: `""`."""
    restore_drill_schedule: pulumi.Input[str]
    """With a backupSchedule: cron schedule (UTC) of the restore drill, which restores the newest backup and the archived binary logs into a scratch server and proves them (docs/operations.md, "The restore drill"); by default daily at 14:30, apart from nightly backups; "" for none. Default: `"30 14 * * *"`."""
    backup_alert_seconds: pulumi.Input[int]
    """With prometheusRule and a backupSchedule: how long after its scheduled time a backup (or a restore drill) may take to succeed before its alert fires; more than the longest backup. Default: `21600`."""
    backup_target: pulumi.Input[str]
    """Where backups and archived binary logs go: s3 (any S3-compatible store), pvc (a PersistentVolumeClaim), or "" for nowhere (no backups, no binary log archive). Default: `""`."""
    backup_s3_endpoint: pulumi.Input[str]
    """URL of the S3-compatible endpoint, e.g. https://minio.storage:9000; "" for AWS S3. Default: `""`."""
    backup_s3_bucket: pulumi.Input[str]
    """Bucket of the s3 target. Default: `""`."""
    backup_s3_egress_cidrs: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Address ranges (CIDRs) of the s3 target's endpoint: the only addresses the database pods and backup jobs may connect to outside the cluster, on the endpoint's port; [] for any address on that port (see Network access in the README). Default: `[]`."""
    backup_s3_region: pulumi.Input[str]
    """Region of the s3 target's bucket; "" for the store's default. Default: `""`."""
    backup_s3_secret: pulumi.Input[str]
    """Name of a Secret in the cluster's namespace with the keys access-key-id and secret-access-key of the s3 target. Default: `""`."""
    backup_claim: pulumi.Input[str]
    """Name of an existing PersistentVolumeClaim (ReadWriteMany, or on the pods' node) of the pvc target. Default: `""`."""
    backup_prefix: pulumi.Input[str]
    """Path under the bucket or claim where this cluster keeps backups and binary logs; "" for <stack>/<namespace>/<cluster name>. Give each cluster its own. Default: `""`."""
    backup_retention_count: pulumi.Input[int]
    """Complete backups kept; older ones are deleted after each successful backup (0: no limit by count). Default: `7`."""
    backup_retention_days: pulumi.Input[int]
    """Days a complete backup is kept, the newest always (0: no limit by age). Default: `0`."""
    binlog_archive_interval_seconds: pulumi.Input[int]
    """With a backupTarget, the primary rotates its binary log at least this often while it is written to, and copies every closed one to the target: the most a point-in-time restore can miss. Default: `300`."""
    backup_throttle_bytes_per_second: pulumi.Input[int]
    """Limit of the data files a donor reads per second for backups and clones, rounded up to whole MiB (MariaDB: the backup tool's --throttle; MySQL: the CLONE plugin's clone_max_data_bandwidth on the receiving side); 0 for no limit. Default: `0`."""
    rclone_image: pulumi.Input[str]
    """Image whose rclone (a static binary) uploads and downloads backups. Default: `"rclone/rclone:1.75.2"`."""
    restore_from: pulumi.Input[str]
    """Backup that pod 0 starts from when its data volume is empty: latest, or a backup's name, optionally after another prefix of the target (orders/latest); "" to start empty. Default: `""`."""
    restore_to: pulumi.Input[str]
    """With restoreFrom, replay archived binary logs up to: latest, a UTC time (2026-01-01T12:00:00Z), or a GTID: on MariaDB a position (0-100-4711), on MySQL one transaction's uuid:number, replayed up to and including it; "" for the backup alone. Default: `""`."""
    primary_ordinal: pulumi.Input[int]
    """Ordinal of the pod that is the primary (takes writes). Changing it moves the primary: a switchover, or a failover when the old primary is unreachable (its unreplicated writes are then lost); see docs/operations.md. Default: `0`."""
    primary_down_read_seconds: pulumi.Input[int]
    """While the primary is down (not merely unreachable from one replica), replicas that were caught up keep receiving reads until its last heartbeat is this many seconds old; 0 takes them out at maxReplicationLagSeconds. Default: `300`."""
    automatic_failover: pulumi.Input[bool]
    """Let the pods' agents promote a replica by themselves when the primary has not answered for failoverGraceSeconds and a majority of the pods agree (the most advanced replica, lowest ordinal on a tie); what the old primary sent to no replica is lost (docs/operations.md#automatic-failover). Needs replicas 3 or more. Default: `false`."""
    failover_grace_seconds: pulumi.Input[int]
    """With automaticFailover, how long the primary's heartbeat may be silent on every answering pod before it is declared lost; at least twice the 10 s a primary cut off from the others takes to make itself read-only. Default: `30`."""
    tls_source: pulumi.Input[str]
    """Where the servers' TLS certificate comes from: self-signed (a CA the stack creates and keeps in its state), cert-manager (a Certificate signed by tlsIssuer), secret (the Secret tlsSecret) or none (no TLS: clients, replication and clones in plain text). Default: `"self-signed"`."""
    tls_issuer: pulumi.Input[str]
    """Name of the cert-manager Issuer or ClusterIssuer (tlsIssuerKind) that signs the cluster's Certificate; required with tlsSource cert-manager. Default: `""`."""
    tls_issuer_kind: pulumi.Input[str]
    """Kind of tlsIssuer: Issuer (in the cluster's namespace) or ClusterIssuer. Default: `"Issuer"`."""
    tls_secret: pulumi.Input[str]
    """Name of an existing Secret with tls.crt, tls.key and ca.crt: a certificate for server and client authentication naming *.<clusterName>.<namespace>.svc.<clusterDomain>, the Services and 127.0.0.1 (see TLS in the README); required with tlsSource secret. Default: `""`."""
    require_client_tls: pulumi.Input[bool]
    """Refuse client connections without TLS (require_secure_transport); needs a tlsSource other than none. Default: `false`."""
    root_password: pulumi.Input[str]
    """Root password (secret); generated when unset."""
    replication_password: pulumi.Input[str]
    """Password of the replication user (secret); generated when unset."""
    backup_password: pulumi.Input[str]
    """Password of the backup user (secret); generated when unset."""
    app_password: pulumi.Input[str]
    """Password of the application user (secret); generated when unset."""
    backup_key: pulumi.Input[str]
    """Key that encrypts and authenticates every backup and archived binary log before it leaves the pod (rclone crypt; secret, key backup-key of the credentials Secret); generated when unset and backupTarget is set. Without it the backups cannot be read: keep a copy outside the cluster (docs/operations.md). A restore uses this key, so a cluster restoring another's backups sets it to that cluster's key."""
