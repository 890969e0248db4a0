"""Names and labels of everything a cluster creates, all derived from the cluster name."""
from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def credentials_secret(self) -> str:
        return f"{self.cluster}-credentials"

    @property
    def tls_secret(self) -> str:
        return f"{self.cluster}-tls"

    @property
    def certificate(self) -> str:
        return self.cluster

    def pod(self, ordinal: int) -> str:
        return f"{self.statefulset}-{ordinal}"

    def service_host(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"

    def pod_host(self, ordinal: int) -> str:
        return f"{self.pod(ordinal)}.{self.service_host(self.headless_service)}"

    @property
    def selector_labels(self) -> dict[str, str]:
        # The instance label keeps two clusters in one namespace from selecting each other's pods.
        return {"app.kubernetes.io/name": "mysql-cluster", "app.kubernetes.io/instance": self.cluster}

    @property
    def labels(self) -> dict[str, str]:
        return {**self.selector_labels, "app.kubernetes.io/component": "database",
                "app.kubernetes.io/managed-by": "pulumi"}
