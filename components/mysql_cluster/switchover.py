"""The switchover Job: moves the primary to the pod that `primaryOrdinal` names.

One Job per target ordinal (`<name>-primary-<n>`): changing the key replaces the Job, and `pulumi
up` waits for the new one to complete before it points the primary Service at the new primary; a
failed Job leaves the Service where it was, and the next `pulumi up` runs it again.
Run while that pod is already the primary (the first deployment, or a run without a change), the
Job finds nothing to do. What it does is scripts/switchover.sh.
"""
from __future__ import annotations

import pulumi
from pulumi_kubernetes.batch import v1 as batch
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.networking import v1 as networking

from .network_policy import job_network_policy_spec, switchover_egress
from .pod_spec import PodContainer, PodSettings, pod_template
from .pod_template import CLIENT_OPTIONS_DIR, _cluster_env, _mount
from .scripts_config_map import script_command, scripts_mount, scripts_volume
from .settings import ADMIN_USER
from .topology import topology_mount, topology_volume

# How long the Job waits for a writable primary to answer before it fails over: long enough for
# the old primary's pod to restart, short enough that a lost node does not hold writes for long.
FAILOVER_WAIT_SECONDS = 30
# How long the new primary may take to apply what the old one logged; the old one is read-only
# meanwhile, so this bounds the write pause of a switchover to a replica that lags.
CATCH_UP_SECONDS = 60


def _pod_labels(pod: PodSettings) -> dict[str, str]:
    # Not the cluster's selector labels: the Services must never select the Job's pod.
    return {**pod.names.labels, "app.kubernetes.io/name": "mysql-cluster-switchover",
            "app.kubernetes.io/component": "switchover"}


def switchover_network_policy(resource_name: str, pod: PodSettings,
                              opts: pulumi.ResourceOptions) -> networking.NetworkPolicy:
    """Nothing connects to the Job's pod; it connects to the database pods' server port alone."""
    return networking.NetworkPolicy(
        resource_name,
        metadata=meta.ObjectMetaArgs(name=pod.names.switchover_network_policy,
                                     namespace=pod.names.namespace, labels=pod.names.labels),
        spec=job_network_policy_spec(_pod_labels(pod), switchover_egress(pod.names, pod.settings)),
        opts=opts)


def switchover_job(resource_name: str, pod: PodSettings, opts: pulumi.ResourceOptions) -> batch.Job:
    names, ordinal = pod.names, pod.settings.primary_ordinal
    env = _cluster_env(pod) + [
        core.EnvVarArgs(name="TARGET_ORDINAL", value=str(ordinal)),
        core.EnvVarArgs(name="ADMIN_USER", value=ADMIN_USER),
        core.EnvVarArgs(name="FAILOVER_WAIT_SECONDS", value=str(FAILOVER_WAIT_SECONDS)),
        core.EnvVarArgs(name="CATCH_UP_SECONDS", value=str(CATCH_UP_SECONDS)),
    ]
    pod_labels = _pod_labels(pod)
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
                pod, pod_labels,
                containers=[PodContainer(core.ContainerArgs(
                    name="switchover",
                    image=pod.backup_image,  # has the SQL client
                    command=script_command("switchover.sh"),
                    env=env,
                    volume_mounts=[_mount("client-options", CLIENT_OPTIONS_DIR),
                                   _mount("tmp", "/tmp"), topology_mount(), scripts_mount()],
                    resources=pod.resources("backup"),
                ))],
                volumes=[
                    core.VolumeArgs(name="client-options", empty_dir=core.EmptyDirVolumeSourceArgs(
                        medium="Memory", size_limit="1Mi")),
                    core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs()),
                    topology_volume(pod.topology_config_map_name),
                    scripts_volume(pod.scripts_config_map_name),
                ],
                restart_policy="Never",
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"))),
    )
