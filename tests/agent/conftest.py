from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mysql_cluster_agent.config import AgentConfig, TlsFiles

from .certificates import HEADLESS, NAMESPACE, POD_WILDCARD, Authority, authority


@pytest.fixture(scope="session")
def cluster_ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return authority(tmp_path_factory.mktemp("cluster-ca"), "cluster")


@pytest.fixture(scope="session")
def pod_certificate(cluster_ca: Authority) -> TlsFiles:
    """The pods' certificate as the stack makes it: every pod by one wildcard."""
    return cluster_ca.issue("pods", [POD_WILDCARD, "localhost"])


def agent_config(tmp_path: Path, pod: str = "mysql-0", port: int = 3308,
                 tls: TlsFiles | None = None, replicas: int = 3,
                 env: Mapping[str, str] | None = None) -> AgentConfig:
    topology = tmp_path / "topology"
    topology.mkdir(exist_ok=True)
    (topology / "replicas").write_text(f"{replicas}\n")
    return AgentConfig(pod_name=pod, statefulset="mysql", headless_service=HEADLESS,
                       namespace=NAMESPACE, cluster_domain="cluster.local", flavor="mysql",
                       agent_port=port, socket=tmp_path / "mysqld.sock",
                       root_password_file=tmp_path / "root-password", topology_dir=topology,
                       tls=tls, version="")
