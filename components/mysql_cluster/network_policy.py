"""Who may reach the cluster, and whom its workloads may reach.

Ingress: the backup port only from the cluster's own pods and backup jobs, the agent port only
from the cluster's own pods (the agents ask each other for their servers' state) and the switchover
Job (it asks the agents to change their servers' roles), the server port from
the pods and from the client namespaces the stack allows, and the metrics port (when metrics are
on: the exporter's and the agent's) from the namespaces allowed to scrape them.

Egress: a database pod, the switchover Job and a backup job connect only to the cluster's own
pods on the ports they use, to the cluster's DNS pods, and (pods and backup jobs, with an s3
target) to the target's endpoint port: the addresses of backupS3EgressCidrs, or any address
when none are given, since a NetworkPolicy names no host. A server that an account over the
network has pointed elsewhere (CHANGE MASTER TO another host) cannot reach that host. Replies to
allowed connections pass either way (policies act on connections), and the exporter sidecar
reads its own server over loopback, which no policy governs.
"""
from __future__ import annotations

from typing import Sequence

from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.networking import v1 as networking

from .agent_container import AGENT_PORT, PRIMARY_PORT
from .agent_metrics import AGENT_METRICS_PORT
from .exporter import METRICS_PORT
from .names import ClusterNames
from .pod_template import BACKUP_PORT, MYSQL_PORT
from .settings import ClusterSettings, s3_endpoint_port
from .supported_servers import Server

DNS_PORT = 53
# The label Kubernetes puts on every namespace, with its name (since 1.21).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _client_peers(allowed_namespaces: list[str]) -> list[networking.NetworkPolicyPeerArgs]:
    if "*" in allowed_namespaces:
        return [networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs())]
    # An empty pod selector without a namespace selector means every pod of our own namespace.
    peers = [networking.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs())]
    if allowed_namespaces:
        peers.append(networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs(
            match_expressions=[meta.LabelSelectorRequirementArgs(
                key=NAMESPACE_NAME_LABEL, operator="In", values=allowed_namespaces)])))
    return peers


def _tcp(*ports: int) -> list[networking.NetworkPolicyPortArgs]:
    return [networking.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in ports]


def _cluster_pods(names: ClusterNames) -> networking.NetworkPolicyPeerArgs:
    return networking.NetworkPolicyPeerArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=names.selector_labels))


def _to_cluster_pods(names: ClusterNames, *ports: int) -> networking.NetworkPolicyEgressRuleArgs:
    return networking.NetworkPolicyEgressRuleArgs(to=[_cluster_pods(names)], ports=_tcp(*ports))


def _to_dns(settings: ClusterSettings) -> networking.NetworkPolicyEgressRuleArgs:
    labels = dict(label.split("=", 1) for label in settings.dns_pod_labels)
    return networking.NetworkPolicyEgressRuleArgs(
        to=[networking.NetworkPolicyPeerArgs(
            namespace_selector=meta.LabelSelectorArgs(
                match_labels={NAMESPACE_NAME_LABEL: settings.dns_namespace}),
            pod_selector=meta.LabelSelectorArgs(match_labels=labels))],
        ports=[networking.NetworkPolicyPortArgs(port=DNS_PORT, protocol=protocol)
               for protocol in ("UDP", "TCP")])


def _to_backup_target(settings: ClusterSettings) -> list[networking.NetworkPolicyEgressRuleArgs]:
    """A claim is a volume and needs no network; an s3 endpoint is a host outside the cluster,
    which a policy can only name by address."""
    if settings.backup_target != "s3":
        return []
    # No `to`: every address, IPv4 and IPv6, in the cluster or not, but on this port alone.
    to = [networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr=cidr))
          for cidr in settings.backup_s3_egress_cidrs] or None
    return [networking.NetworkPolicyEgressRuleArgs(
        to=to, ports=_tcp(s3_endpoint_port(settings.backup_s3_endpoint)))]


def database_network_policy_spec(names: ClusterNames, settings: ClusterSettings
                                 ) -> networking.NetworkPolicySpecArgs:
    """The database pods': metrics stay closed while metrics are off."""
    metrics = [networking.NetworkPolicyIngressRuleArgs(
        ports=_tcp(METRICS_PORT, AGENT_METRICS_PORT),
        from_=_client_peers(settings.metrics_client_namespaces),
    )] if settings.metrics else []
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=names.selector_labels),
        policy_types=["Ingress", "Egress"],
        ingress=[
            networking.NetworkPolicyIngressRuleArgs(
                # The agents' primary port forwards clients to the writable server (the primary
                # Service's target with automaticFailover).
                ports=_tcp(MYSQL_PORT, PRIMARY_PORT),
                from_=[_cluster_pods(names), *_client_peers(settings.allowed_client_namespaces)],
            ),
            networking.NetworkPolicyIngressRuleArgs(
                ports=_tcp(BACKUP_PORT),
                # Backup jobs stream from a donor's sidecar too.
                from_=[_cluster_pods(names), networking.NetworkPolicyPeerArgs(
                    pod_selector=meta.LabelSelectorArgs(match_labels=names.backup_job_labels))],
            ),
            networking.NetworkPolicyIngressRuleArgs(ports=_tcp(AGENT_PORT), from_=[
                _cluster_pods(names), networking.NetworkPolicyPeerArgs(
                    pod_selector=meta.LabelSelectorArgs(match_labels=names.switchover_job_labels))]),
            *metrics,
        ],
        # Replication and CLONE on the server port, clones from a peer's sidecar on the backup
        # port, the peers' state from their agents; the binary log archive and a restore reach
        # the backup target.
        egress=[_to_cluster_pods(names, MYSQL_PORT, BACKUP_PORT, AGENT_PORT), _to_dns(settings),
                *_to_backup_target(settings)],
    )


def job_network_policy_spec(pod_labels: dict[str, str], egress: Sequence[
        networking.NetworkPolicyEgressRuleArgs]) -> networking.NetworkPolicySpecArgs:
    """A Job's pod, which nothing connects to: ingress closed, egress as given."""
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels={
            key: pod_labels[key] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}),
        policy_types=["Ingress", "Egress"],
        egress=list(egress))


def switchover_egress(names: ClusterNames, settings: ClusterSettings
                      ) -> list[networking.NetworkPolicyEgressRuleArgs]:
    """The switchover Job asks the pods' agents, nothing else."""
    return [_to_cluster_pods(names, AGENT_PORT), _to_dns(settings)]


def backup_job_egress(names: ClusterNames, settings: ClusterSettings, server: Server
                      ) -> list[networking.NetworkPolicyEgressRuleArgs]:
    """A backup job copies a donor and writes to the target: MariaDB's streams from the donor's
    sidecar, MySQL's clones the donor over the server port (scripts/backup-clone.sh)."""
    donor_port = MYSQL_PORT if server.clones_with_plugin else BACKUP_PORT
    return [_to_cluster_pods(names, donor_port), _to_dns(settings), *_to_backup_target(settings)]


def restore_drill_egress(settings: ClusterSettings) -> list[networking.NetworkPolicyEgressRuleArgs]:
    """The restore drill reads the target and nothing of the cluster's."""
    return [_to_dns(settings), *_to_backup_target(settings)]

