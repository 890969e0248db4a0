"""The `donor` init container: before a pod clones, the agent's code asks the other pods'
agents for their states and chooses the pods to copy (mysql_cluster_agent/donor.py). The choice
reaches clone-mysql, and the server container's rebuild, as one file per value in a memory
emptyDir; for a rebuild the pod's agent writes it anew (role_loop.py)."""
from __future__ import annotations

from typing import Any

from pulumi_kubernetes.core import v1 as core

from .agent_container import AGENT_PORT, agent_step_container
from .pod_spec import PodContainer, PodSettings
from .tls import CERT_FILE, KEY_FILE, TLS_DIR
from .topology import topology_mount

DONOR_VOLUME = "donor"
DONOR_DIR = "/run/donor"


def donor_volume() -> core.VolumeArgs:
    return core.VolumeArgs(name=DONOR_VOLUME, empty_dir=core.EmptyDirVolumeSourceArgs(
        medium="Memory", size_limit="1Mi"))


def donor_mount(read_only: bool) -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=DONOR_VOLUME, mount_path=DONOR_DIR, read_only=read_only or None)


# What the step reads of the cluster's environment (mysql_cluster_agent/config.py's
# read_peer_config, donor.main): it talks to the peers' agents only, so it is given no socket and
# no password.
_CLUSTER_ENV = frozenset({"POD_NAME", "STATEFULSET_NAME", "HEADLESS_SERVICE", "CLUSTER_NAMESPACE",
                          "CLUSTER_DOMAIN", "DB_FLAVOR", "TOPOLOGY_DIR", "TLS_DIR", "DATA_VOLUME",
                          "DATA_SUBDIR", "DONOR_DIR", "MAX_REPLICATION_LAG_SECONDS"})


def donor_container(pod: PodSettings, cluster_env: list[core.EnvVarArgs], attempts: int,
                    data_mount: core.VolumeMountArgs) -> PodContainer:
    """`cluster_env`: what every container is told about the cluster, of which it takes what it
    reads; `data_mount`: the data volume (a pod whose data exists needs no donor), writable where
    the step leaves the clone mark (mysql_cluster_agent/mysql_clone.py)."""
    plain: list[Any] = cluster_env  # built from plain values: their names are strings
    env = [*(var for var in plain if var.name in _CLUSTER_ENV),
           core.EnvVarArgs(name="AGENT_PORT", value=str(AGENT_PORT)),
           core.EnvVarArgs(name="CLONE_ATTEMPTS", value=str(attempts))]
    return PodContainer(
        agent_step_container(pod, "donor", "donor", env, [donor_mount(read_only=False), data_mount, topology_mount()]),
        # With TLS it presents the pod's certificate to the peers' agents, as the agent does.
        also_reads=frozenset({(TLS_DIR, CERT_FILE), (TLS_DIR, KEY_FILE)} if pod.tls_secret_name is not None else set()))
