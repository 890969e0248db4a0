"""Names and labels of everything a cluster creates, all derived from the cluster name."""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# The labels the cluster puts on its objects: users may add others, never replace these.
OWN_LABELS = (NAME_LABEL, INSTANCE_LABEL, COMPONENT_LABEL, MANAGED_BY_LABEL)
# The prefix of the annotations the cluster sets (the pods' config checksum).
OWN_ANNOTATION_PREFIX = "mysql-cluster/"


@dataclass(frozen=True)
class ClusterNames:
    cluster: str
    namespace: str
    cluster_domain: str

    @property
    def statefulset(self) -> str:
        return self.cluster

    @property
    def headless_service(self) -> str:
        return self.cluster

    @property
    def read_service(self) -> str:
        return f"{self.cluster}-read"

    @property
    def primary_service(self) -> str:
        return f"{self.cluster}-primary"

    @property
    def config_map(self) -> str:
        return self.cluster

    def scripts_config_map(self, digest: str) -> str:
        """A name for each content of the scripts: see scripts_config_map.py."""
        return f"{self.cluster}-scripts-{digest}"

    def agent_config_map(self, digest: str) -> str:
        """A name for each content of the agent's code: see agent_config_map.py."""
        return f"{self.cluster}-agent-{digest}"

    @property
    def topology_config_map(self) -> str:
        return f"{self.cluster}-topology"

    def switchover_job(self, ordinal: int) -> str:
        # A new name for each target: moving the primary back makes a new Job, not an unchanged one.
        return f"{self.cluster}-primary-{ordinal}"

    @property
    def switchover_network_policy(self) -> str:
        return f"{self.cluster}-switchover"

    @property
    def credentials_secret(self) -> str:
        return f"{self.cluster}-credentials"

    @property
    def backup_cron_job(self) -> str:
        return f"{self.cluster}-backup"

    @property
    def restore_drill_cron_job(self) -> str:
        # The restore drill's CronJob, which the alerts and the dashboard watch (signals.py).
        return f"{self.cluster}-restore-drill"

    @property
    def metrics_service(self) -> str:
        return f"{self.cluster}-metrics"

    @property
    def metrics_secret(self) -> str:
        return f"{self.cluster}-metrics"

    @property
    def dashboard_config_map(self) -> str:
        return f"{self.cluster}-dashboard"

    @property
    def tls_secret(self) -> str:
        return f"{self.cluster}-tls"

    @property
    def certificate(self) -> str:
        return self.cluster

    def pod(self, ordinal: int) -> str:
        return f"{self.statefulset}-{ordinal}"

    def data_claim(self, ordinal: int) -> str:
        # The StatefulSet controller names each pod's claim "<template name>-<pod name>".
        return f"data-{self.pod(ordinal)}"

    def service_host(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"

    def pod_host(self, ordinal: int) -> str:
        return f"{self.pod(ordinal)}.{self.service_host(self.headless_service)}"

    @property
    def selector_labels(self) -> dict[str, str]:
        # The instance label keeps two clusters in one namespace from selecting each other's pods.
        return {NAME_LABEL: "mysql-cluster", INSTANCE_LABEL: self.cluster}

    @property
    def labels(self) -> dict[str, str]:
        return {**self.selector_labels, COMPONENT_LABEL: "database", MANAGED_BY_LABEL: "pulumi"}

    @property
    def backup_job_labels(self) -> dict[str, str]:
        # Not the pods' selector labels: a backup job's pod must not become a Service endpoint.
        return {NAME_LABEL: "mysql-cluster-backup", INSTANCE_LABEL: self.cluster,
                COMPONENT_LABEL: "backup", MANAGED_BY_LABEL: "pulumi"}

    @property
    def switchover_job_labels(self) -> dict[str, str]:
        # Not the pods' selector labels: the Services must never select the Job's pod.
        return {NAME_LABEL: "mysql-cluster-switchover", INSTANCE_LABEL: self.cluster,
                COMPONENT_LABEL: "switchover", MANAGED_BY_LABEL: "pulumi"}

    @property
    def restore_drill_labels(self) -> dict[str, str]:
        # Like the backup job's: not the database pods' selector labels.
        return {NAME_LABEL: "mysql-cluster-restore-drill", INSTANCE_LABEL: self.cluster,
                COMPONENT_LABEL: "restore-drill", MANAGED_BY_LABEL: "pulumi"}


# Members of ClusterNames that name no object of the cluster's kinds that another cluster could
# also create: pods are <statefulset>-<n> of one cluster only (another cluster's StatefulSet of
# that name has pods <name>-<n>-<m>), claims start with "data-", and hosts are DNS names.
_NOT_OBJECT_NAMES = ("pod", "data_claim", "service_host", "pod_host")


def reserved_name_suffixes() -> tuple[str, ...]:
    """What every name a cluster derives for its objects appends to the cluster name, with <n>
    for an ordinal or a digest: a cluster named <x><suffix> would take the name of an object of
    cluster <x>."""
    probe = ClusterNames("x", "namespace", "cluster.local")
    suffixes = set()
    for member, _ in inspect.getmembers(ClusterNames):
        if member.startswith("_") or member in _NOT_OBJECT_NAMES:
            continue
        value = getattr(probe, member)
        if callable(value):
            value = value("<n>") if inspect.signature(value).parameters else value()
        if isinstance(value, str) and value.startswith("x-"):
            suffixes.add(value[1:])
    return tuple(sorted(suffixes))


def has_reserved_suffix(name: str) -> bool:
    return any(re.fullmatch(".+" + re.escape(suffix).replace(re.escape("<n>"), "[a-z0-9]+"), name)
               for suffix in reserved_name_suffixes())
