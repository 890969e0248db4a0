"""The switchover Job: moves the primary to the pod that `primaryOrdinal` names.

One Job per target ordinal (`<name>-primary-<n>`): changing the key replaces the Job, and `pulumi
up` waits for the new one to complete before it points the primary Service at the new primary; a
failed Job leaves the Service where it was, and the next `pulumi up` runs it again.
Run while that pod is already the primary (the first deployment, or a run without a change), the
Job finds nothing to do. It runs the agent's `switchover` command (mysql_cluster_agent/switchover.py)
in the agent's image: it asks the pods' agents on their port, each of which changes its own server as
local root, so the Job holds no SQL account. With TLS the pods' certificate names it to the agents;
without, it signs its requests with the credentials Secret's role key.
"""
from __future__ import annotations

import pulumi
from pulumi_kubernetes.batch import v1 as batch
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.networking import v1 as networking

from .agent_config_map import agent_volume
from .agent_container import AGENT_PORT, agent_step_container, role_key_env
from .network_policy import job_network_policy_spec, switchover_egress
from .pod_spec import ROLE_KEY, SECRETS_DIR, PodContainer, PodSettings, pod_template
from .tls import CA_FILE, CERT_FILE, KEY_FILE, TLS_DIR
from .topology import TOPOLOGY_DIR, topology_mount, topology_volume

# How long the Job waits for a writable primary to answer before it fails over: long enough for
# the old primary's pod to restart, short enough that a lost node does not hold writes for long.
FAILOVER_WAIT_SECONDS = 30
# How long the new primary may take to apply what the old one logged; the old one is read-only
# meanwhile, so this bounds the write pause of a switchover to a replica that lags.
CATCH_UP_SECONDS = 60


def switchover_network_policy(resource_name: str, pod: PodSettings,
                              opts: pulumi.ResourceOptions) -> networking.NetworkPolicy:
    """Nothing connects to the Job's pod; it connects to the database pods' agent port alone."""
    return networking.NetworkPolicy(
        resource_name,
        metadata=meta.ObjectMetaArgs(name=pod.names.switchover_network_policy,
                                     namespace=pod.names.namespace, labels=pod.names.labels),
        spec=job_network_policy_spec(pod.names.switchover_job_labels, switchover_egress(pod.names, pod.settings)),
        opts=opts)


def switchover_job(resource_name: str, pod: PodSettings, opts: pulumi.ResourceOptions) -> batch.Job:
    names, ordinal = pod.names, pod.settings.primary_ordinal
    tls = pod.tls_secret_name is not None

    def env(name: str, value: object) -> core.EnvVarArgs:
        return core.EnvVarArgs(name=name, value=str(value))

    # What mysql_cluster_agent.switchover.client_from_env reads.
    job_env = [
        env("DB_FLAVOR", pod.server.flavor),
        env("TOPOLOGY_DIR", TOPOLOGY_DIR),
        env("STATEFULSET_NAME", names.statefulset),
        env("HEADLESS_SERVICE", names.headless_service),
        env("CLUSTER_NAMESPACE", names.namespace),
        env("CLUSTER_DOMAIN", names.cluster_domain),
        env("AGENT_PORT", AGENT_PORT),
        env("TARGET_ORDINAL", ordinal),
        env("FAILOVER_WAIT_SECONDS", FAILOVER_WAIT_SECONDS),
        env("CATCH_UP_SECONDS", CATCH_UP_SECONDS),
        *([env("TLS_DIR", TLS_DIR)] if tls else role_key_env(pod)),
    ]
    # With TLS it presents the pods' certificate to the agents, which accept only it.
    reads = ({(TLS_DIR, CA_FILE), (TLS_DIR, CERT_FILE), (TLS_DIR, KEY_FILE)} if tls
             else {(SECRETS_DIR, ROLE_KEY)})
    return batch.Job(
        resource_name,
        metadata=meta.ObjectMetaArgs(
            name=names.switchover_job(ordinal), namespace=names.namespace, labels=names.labels,
            # pulumi-kubernetes waits for this condition, so `pulumi up` reports the outcome; a
            # Job that failed is replaced by the next `pulumi up` (rather than awaited again), so
            # that it retries the move (pulumi-kubernetes #1575, the replaceUnready annotation).
            annotations={"pulumi.com/waitFor": "condition=Complete",
                         "pulumi.com/replaceUnready": "true"}),
        spec=batch.JobSpecArgs(
            backoff_limit=2,
            active_deadline_seconds=FAILOVER_WAIT_SECONDS + CATCH_UP_SECONDS + 300,
            template=pod_template(
                pod, names.switchover_job_labels,
                containers=[PodContainer(
                    agent_step_container(pod, "switchover", "switchover", job_env, [topology_mount()]),
                    also_reads=frozenset(reads))],
                volumes=[
                    topology_volume(pod.topology_config_map_name),
                    agent_volume(pod.agent_config_map_name),
                ],
                restart_policy="Never",
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"))),
    )
