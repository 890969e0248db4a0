"""The agent's metrics port in each database pod (mysql_cluster_agent/metrics.py): the server's
own view of its certificate's expiry and the binary log archive's recovery point.

Open only with `metrics`, beside the exporter's port: the metrics Service, the ServiceMonitor and
the NetworkPolicy add it where they have the exporter's. The recovery point travels from the
binlog-archive container to the agent as a file on the pod's tmp volume (an emptyDir both
mount), which the archiver replaces whole after each round and the agent reads as untrusted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pulumi_kubernetes.core import v1 as core

from .pod_spec import PodSettings

AGENT_METRICS_PORT = 9105
PORT_NAME = "agent-metrics"
# The tmp volume: the archiver's /tmp, read-only in the agent under a directory of its own.
ARCHIVER_TMP = "/tmp"
AGENT_VIEW_OF_TMP = "/var/run/binlog-archive"
RECOVERY_POINT_NAME = "binlog-recovery-point"
ARCHIVER_RECOVERY_POINT_FILE = f"{ARCHIVER_TMP}/{RECOVERY_POINT_NAME}"


@dataclass(frozen=True)
class AgentMetrics:
    """What metrics add to the agent's container."""

    env: list[core.EnvVarArgs] = field(default_factory=list)
    ports: list[core.ContainerPortArgs] = field(default_factory=list)
    mounts: list[core.VolumeMountArgs] = field(default_factory=list)


def agent_metrics(pod: PodSettings) -> AgentMetrics:
    if not pod.settings.metrics:
        return AgentMetrics()
    env = [core.EnvVarArgs(name="AGENT_METRICS_PORT", value=str(AGENT_METRICS_PORT))]
    mounts = []
    if pod.settings.backup_target:
        env.append(core.EnvVarArgs(name="RECOVERY_POINT_FILE",
                                   value=f"{AGENT_VIEW_OF_TMP}/{RECOVERY_POINT_NAME}"))
        mounts.append(core.VolumeMountArgs(name="tmp", mount_path=AGENT_VIEW_OF_TMP,
                                           read_only=True))
    return AgentMetrics(env, [core.ContainerPortArgs(name=PORT_NAME,
                                                     container_port=AGENT_METRICS_PORT)], mounts)
