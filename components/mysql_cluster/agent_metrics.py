"""The agent's metrics port in each database pod (mysql_cluster_agent/metrics.py): the server's
own view of its certificate's expiry and the binary log archive's recovery point (which the
agent's archiver keeps in memory, mysql_cluster_agent/binlog_archiver.py).

Open only with `metrics`, beside the exporter's port: the metrics Service, the ServiceMonitor and
the NetworkPolicy add it where they have the exporter's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pulumi_kubernetes.core import v1 as core

from .pod_spec import PodSettings

AGENT_METRICS_PORT = 9105
PORT_NAME = "agent-metrics"


@dataclass(frozen=True)
class AgentMetrics:
    """What metrics add to the agent's container."""

    env: list[core.EnvVarArgs] = field(default_factory=list)
    ports: list[core.ContainerPortArgs] = field(default_factory=list)


def agent_metrics(pod: PodSettings) -> AgentMetrics:
    if not pod.settings.metrics:
        return AgentMetrics()
    env = [core.EnvVarArgs(name="AGENT_METRICS_PORT", value=str(AGENT_METRICS_PORT))]
    return AgentMetrics(env, [core.ContainerPortArgs(name=PORT_NAME, container_port=AGENT_METRICS_PORT)])
