"""The agent's configuration, read once from its container's environment and files.

Every value is checked here, so that a missing or malformed one stops the agent with one line
naming the variable and what it should hold, before anything else runs.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from .dialect import Dialect, Flavor, dialect_for

# What Kubernetes allows in a DNS-1123 label: pod, Service and namespace names.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
FLAVORS = ("mysql", "mariadb")
# The topology ConfigMap's key of automatic failover (mysql_cluster/topology.py).
FAILOVER_GRACE_KEY = "failover-grace-seconds"


class ConfigProblem(Exception):
    """The environment or a file the agent needs is not what it must be; the message says what."""


@dataclass(frozen=True)
class TlsFiles:
    """The pod's certificate, its key and the cluster's CA, as the TLS Secret is mounted."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class PodIdentity:
    """The pod's place in the cluster: its ordinal and the DNS names of the pods, all that a step
    writing the server's identity needs (the init-mysql init container, init_config.py)."""

    pod_name: str
    statefulset: str
    headless_service: str
    namespace: str
    cluster_domain: str

    @property
    def ordinal(self) -> int:
        return int(self.pod_name.rpartition("-")[2])

    def pod_host(self, ordinal: int) -> str:
        """A pod's stable DNS name, which the cluster's certificate names by a wildcard."""
        return (f"{self.statefulset}-{ordinal}.{self.headless_service}.{self.namespace}"
                f".svc.{self.cluster_domain}")

    @property
    def own_host(self) -> str:
        return self.pod_host(self.ordinal)


@dataclass(frozen=True)
class PeerConfig(PodIdentity):
    """PodIdentity and how to reach the other pods' agents: all that a step talking to no local
    server needs (the donor init container), so that it holds no password."""

    flavor: str  # "mysql" or "mariadb"
    agent_port: int
    topology_dir: Path
    tls: TlsFiles | None  # None: the cluster has no TLS
    version: str  # the server's major.minor ("" unknown); only MySQL 8.0's dialect differs by it

    @property
    def dialect(self) -> Dialect:
        return dialect_for(Flavor(self.flavor), self.version)

    def replicas(self) -> int:
        """The number of pods the topology ConfigMap declares (re-read at every call: moving
        the primary or scaling changes it without restarting the pod)."""
        return topology_number(self.topology_dir, "replicas")

    def designated_primary(self) -> int:
        """The topology's primary-ordinal: the last requested move of the primary (re-read at
        every call, so that moving the primary restarts no pod)."""
        return topology_number(self.topology_dir, "primary-ordinal")

    def failover_grace_seconds(self) -> int:
        """How long the primary's heartbeat may be silent before the agents fail over by
        themselves; 0: no automatic failover (also when the topology ConfigMap, written by an
        earlier release, has no such key). Re-read at every call, like the primary."""
        if not (self.topology_dir / FAILOVER_GRACE_KEY).exists():
            return 0
        return topology_number(self.topology_dir, FAILOVER_GRACE_KEY)


@dataclass(frozen=True)
class AgentConfig(PeerConfig):
    """PeerConfig and the local server: its unix socket and the root password's file."""

    socket: Path
    root_password_file: Path

    def root_password(self) -> str:
        """Read at every connection: never kept in the environment or in argv."""
        try:
            return self.root_password_file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigProblem(f"cannot read the root password from {self.root_password_file}: "
                                f"{error.strerror}; is the credentials Secret mounted?") from None


def topology_number(topology_dir: Path, key: str) -> int:
    """A number of the mounted topology ConfigMap (replicas, primary-ordinal)."""
    path = topology_dir / key
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigProblem(f"cannot read {path}: {error.strerror}; the topology ConfigMap is "
                            "not mounted there") from None
    if not text.isdigit():
        raise ConfigProblem(f"{path} holds {text[:40]!r} instead of a number; check the "
                            "topology ConfigMap's keys")
    return int(text)


def _required(env: Mapping[str, str], name: str, rule: re.Pattern[str], what: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigProblem(f"environment variable {name} is not set; it names {what}")
    if not rule.fullmatch(value):
        raise ConfigProblem(f"environment variable {name} is {value[:80]!r}, not {what}")
    return value


def _path(env: Mapping[str, str], name: str, what: str) -> Path:
    value = env.get(name, "")
    if not value.startswith("/"):
        raise ConfigProblem(f"environment variable {name} is {value[:80]!r}; set it to the "
                            f"absolute path of {what}")
    return Path(value)


def read_pod_identity(env: Mapping[str, str] = os.environ) -> PodIdentity:
    """The pod's identity in `env`; raises ConfigProblem naming the first thing wrong."""
    pod_name = _required(env, "POD_NAME", _LABEL, "this pod's name (<statefulset>-<ordinal>)")
    statefulset = _required(env, "STATEFULSET_NAME", _LABEL, "the StatefulSet's name")
    if not re.fullmatch(re.escape(statefulset) + r"-[0-9]+", pod_name):
        raise ConfigProblem(f"POD_NAME {pod_name!r} is not a pod of StatefulSet {statefulset!r} "
                            f"(<statefulset>-<ordinal>); POD_NAME must be the pod's own name "
                            f"(fieldRef metadata.name) in a pod of that StatefulSet")
    return PodIdentity(
        pod_name=pod_name,
        statefulset=statefulset,
        headless_service=_required(env, "HEADLESS_SERVICE", _LABEL, "the headless Service's name"),
        namespace=_required(env, "CLUSTER_NAMESPACE", _LABEL, "the cluster's namespace"),
        cluster_domain=_required(env, "CLUSTER_DOMAIN", _DOMAIN, "the cluster's DNS domain"),
    )


def read_peer_config(env: Mapping[str, str] = os.environ) -> PeerConfig:
    """The peers' part of the configuration in `env` (no socket, no password); raises
    ConfigProblem naming the first thing wrong."""
    identity = read_pod_identity(env)
    flavor = env.get("DB_FLAVOR", "")
    if flavor not in FLAVORS:
        raise ConfigProblem(f"environment variable DB_FLAVOR is {flavor!r}; use one of "
                            + ", ".join(FLAVORS))
    port_text = env.get("AGENT_PORT", "")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigProblem(f"environment variable AGENT_PORT is {port_text!r}; use a TCP port "
                            "number from 1 to 65535")
    tls = None
    if env.get("TLS_DIR"):
        tls_dir = _path(env, "TLS_DIR", "the directory of the TLS Secret's files")
        tls = TlsFiles(tls_dir / "ca.crt", tls_dir / "tls.crt", tls_dir / "tls.key")
    return PeerConfig(
        **{field.name: getattr(identity, field.name) for field in fields(identity)},
        flavor=flavor,
        agent_port=int(port_text),
        topology_dir=_path(env, "TOPOLOGY_DIR", "the mounted topology ConfigMap"),
        tls=tls,
        version=env.get("DB_VERSION", ""),
    )


def read_config(env: Mapping[str, str] = os.environ) -> AgentConfig:
    """The whole configuration in `env`, the local server's included; raises ConfigProblem
    naming the first thing wrong."""
    peer = read_peer_config(env)
    return AgentConfig(**{field.name: getattr(peer, field.name) for field in fields(peer)},
                       socket=_path(env, "MYSQL_SOCKET", "the local server's unix socket"),
                       root_password_file=_path(env, "ROOT_PASSWORD_FILE", "the file of the root password"))
