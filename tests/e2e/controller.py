"""The StatefulSet controller's part: which pods exist, under which ordinals and names.

OrderedReady: pod N is created only once pods 0..N-1 are Ready; scaling down removes the
highest ordinal first, one pod at a time. Each pod start gets a fresh directory and network
namespace, so a new pod has a new address. The headless Service's DNS records are written as
each pod's hosts file. Everything runs under the harness's lock.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from .kubelet import FAILED, INITIALIZING, RUNNING, TERMINATING, Kubelet, Pod
from .manifests import ManifestError, PodFacts, RenderedManifests
from .network import PodNetwork

CLUSTER_DOMAIN = "cluster.local"
NODE_NAME = "e2e-node"


class StatefulSetController:
    def __init__(self, manifests: RenderedManifests, workdir: Path, network: PodNetwork,
                 kubelet: Kubelet):
        self.statefulset = manifests.only("StatefulSet")
        self.name = self.statefulset["metadata"]["name"]
        self.namespace = self.statefulset["metadata"].get("namespace") or "default"
        self.service_name = self.statefulset["spec"]["serviceName"]
        headless = manifests.get("Service", self.service_name)
        if headless["spec"].get("clusterIP") != "None":
            raise ManifestError(f"Service {self.service_name!r} (spec.serviceName) is not headless")
        self._publish_not_ready = bool(headless["spec"].get("publishNotReadyAddresses"))
        self.workdir = workdir
        self.network = network
        self.kubelet = kubelet
        self.pods: dict[str, Pod] = {}
        self.replicas = 0
        self.held: set[str] = set()  # pods kept down (stop_pod) until resumed
        self._pod_starts: dict[str, int] = defaultdict(int)

    def pod_name(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    def dns_name(self, pod: str) -> str:
        return f"{pod}.{self.service_name}.{self.namespace}.svc.{CLUSTER_DOMAIN}"

    def sync(self, now: float) -> None:
        for pod in list(self.pods.values()):
            if self.kubelet.sync_pod(pod, now):
                self._remove_pod(pod)
        self._sync_replicas()
        self._publish_dns()

    def delete_pod(self, pod: Pod, grace_seconds: float | None) -> None:
        """Like deleting the pod object: a failed pod goes at once, others terminate."""
        if pod.phase == FAILED:
            self._remove_pod(pod)
        elif pod.phase != TERMINATING:
            self.kubelet.terminate(pod, grace_seconds)

    def remove_all(self) -> list[str]:
        """Kills and removes every pod; what went wrong, per pod."""
        errors = []
        for pod in list(self.pods.values()):
            try:
                self.kubelet.kill_pod_processes(pod)
                self.network.detach(pod.attachment)
            except Exception as error:
                errors.append(f"tearing down pod {pod.name}: {error}")
        self.pods.clear()
        return errors

    def _sync_replicas(self) -> None:
        # OrderedReady: a pod is created only when all lower ordinals are Ready.
        for ordinal in range(self.replicas):
            name = self.pod_name(ordinal)
            pod = self.pods.get(name)
            if pod is None:
                if name not in self.held:
                    self._create_pod(ordinal)
                return
            if not pod.ready:
                return
        # Scale down from the highest ordinal, one pod at a time.
        surplus = [p for p in self.pods.values() if p.ordinal >= self.replicas]
        if surplus and not any(p.phase == TERMINATING for p in self.pods.values()):
            self.delete_pod(max(surplus, key=lambda p: p.ordinal), None)

    def _create_pod(self, ordinal: int) -> None:
        name = self.pod_name(ordinal)
        self._pod_starts[name] += 1
        directory = self.workdir / "pods" / name / f"start-{self._pod_starts[name]}"
        (directory / "logs").mkdir(parents=True)
        (directory / "probes").mkdir()
        kubelet_files = directory / "kubelet"
        kubelet_files.mkdir(mode=0o755)
        attachment = self.network.attach(name)
        pod = Pod(name=name, ordinal=ordinal, directory=directory, attachment=attachment)
        self.pods[name] = pod
        (kubelet_files / "resolv.conf").write_text(
            f"search {self.namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\n"
            "options ndots:5\n"
        )
        self._write_hosts(pod, {})
        self.kubelet.start_pod(pod, PodFacts(name=name, namespace=self.namespace, ip=attachment.ip,
                                             node_name=NODE_NAME))

    def _remove_pod(self, pod: Pod) -> None:
        self.network.detach(pod.attachment)
        del self.pods[pod.name]

    # Cluster DNS, as hosts files

    def _publish_dns(self) -> None:
        live = [p for p in self.pods.values() if p.phase in (INITIALIZING, RUNNING)]
        # The headless Service publishes Ready pods (all of them with publishNotReadyAddresses).
        published = {p.name: p.attachment.ip for p in live if p.ready or self._publish_not_ready}
        for pod in live:
            self._write_hosts(pod, published)

    def _write_hosts(self, pod: Pod, published: dict[str, str]) -> None:
        service = self.service_name
        lines = [
            "# Kubernetes-managed hosts file (e2e harness)",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            # The kubelet's own entry: the pod's FQDN and hostname only.
            f"{pod.attachment.ip}\t{self.dns_name(pod.name)}\t{pod.name}",
            "# cluster DNS records: pod names with the search-domain forms, then the service name",
        ]
        for name, address in sorted(published.items()):
            lines.append(f"{address}\t{self.dns_name(name)} {name}.{service}.{self.namespace} "
                         f"{name}.{service}")
        for address in sorted(published.values()):
            lines.append(f"{address}\t{service}.{self.namespace}.svc.{CLUSTER_DOMAIN} "
                         f"{service}.{self.namespace} {service}")
        content = "\n".join(lines) + "\n"
        if content == pod.hosts_content:
            return
        # Replaced by rename: a container never reads a half-written file.
        staging = pod.directory / "kubelet" / "hosts.new"
        staging.write_text(content)
        staging.chmod(0o644)
        os.replace(staging, pod.directory / "kubelet" / "hosts")
        pod.hosts_content = content
