"""Who may reach the cluster: the backup port only from the cluster's own pods, the server port
from them and from the client namespaces the stack allows, and the metrics port (when metrics are
on) from the namespaces allowed to scrape it."""
from __future__ import annotations

from typing import Optional

from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.networking import v1 as networking

from .exporter import METRICS_PORT
from .names import ClusterNames
from .pod_template import BACKUP_PORT, MYSQL_PORT


def _client_peers(allowed_namespaces: list[str]) -> list[networking.NetworkPolicyPeerArgs]:
    if "*" in allowed_namespaces:
        return [networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs())]
    # An empty pod selector without a namespace selector means every pod of our own namespace.
    peers = [networking.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs())]
    if allowed_namespaces:
        peers.append(networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs(
            match_expressions=[meta.LabelSelectorRequirementArgs(
                key="kubernetes.io/metadata.name", operator="In", values=allowed_namespaces)])))
    return peers


def network_policy_spec(names: ClusterNames, allowed_namespaces: list[str],
                        metrics_namespaces: Optional[list[str]] = None,
                        ) -> networking.NetworkPolicySpecArgs:
    """`metrics_namespaces` is None while metrics are off: the metrics port stays closed."""
    cluster_pods = networking.NetworkPolicyPeerArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=names.selector_labels))
    metrics = [] if metrics_namespaces is None else [networking.NetworkPolicyIngressRuleArgs(
        ports=[networking.NetworkPolicyPortArgs(port=METRICS_PORT, protocol="TCP")],
        from_=_client_peers(metrics_namespaces),
    )]
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=names.selector_labels),
        policy_types=["Ingress"],
        ingress=[
            networking.NetworkPolicyIngressRuleArgs(
                ports=[networking.NetworkPolicyPortArgs(port=MYSQL_PORT, protocol="TCP")],
                from_=[cluster_pods, *_client_peers(allowed_namespaces)],
            ),
            networking.NetworkPolicyIngressRuleArgs(
                ports=[networking.NetworkPolicyPortArgs(port=BACKUP_PORT, protocol="TCP")],
                from_=[cluster_pods],
            ),
            *metrics,
        ],
    )
