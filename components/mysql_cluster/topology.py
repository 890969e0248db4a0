"""Where the primary is: a small ConfigMap, `<name>-topology`, with the designated primary's
ordinal, the number of pods and whether (after how long) the agents fail over by themselves.

The pods mount it as a volume rather than reading env, so that moving the primary or scaling
restarts no pod (a roll would restart the new primary in the middle of a switchover); the kubelet
refreshes mounted ConfigMaps within about a minute, and the scripts re-read it at every decision
and never act on it alone (mysql_cluster_agent/config.py, decide.py).
"""
from __future__ import annotations

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from .settings import ClusterSettings

TOPOLOGY_DIR = "/etc/mysql-cluster/topology"
VOLUME = "topology"


def topology_config_map(resource_name: str, metadata: meta.ObjectMetaArgs,
                        settings: ClusterSettings, opts: pulumi.ResourceOptions) -> core.ConfigMap:
    return core.ConfigMap(resource_name, metadata=metadata, data={
        "primary-ordinal": str(settings.primary_ordinal),
        "replicas": str(settings.replicas),
        # 0: no automatic failover. Here rather than in the pods' environment, so that turning
        # it on or off restarts no pod (mysql_cluster_agent/config.py).
        "failover-grace-seconds": str(settings.failover_grace_seconds if settings.automatic_failover else 0),
    }, opts=opts)


def topology_volume(config_map_name: pulumi.Input[str]) -> core.VolumeArgs:
    return core.VolumeArgs(name=VOLUME, config_map=core.ConfigMapVolumeSourceArgs(
        name=config_map_name))


def topology_mount() -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=VOLUME, mount_path=TOPOLOGY_DIR, read_only=True)
