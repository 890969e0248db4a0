"""The agent's container in each database pod: the official python image running the agent's
code from its ConfigMap (agent_config_map.py).

It reaches its own server over the server's unix socket, shared through the socket directory's
emptyDir, and logs in as root with the password file: the one password it reads, besides the
pod's certificate and key and the CA with TLS (its port is HTTPS with mutual TLS then), and, with
a backup target, the backup key and the target's keys for the binary log archive. It serves its
server's state to the other pods' agents on AGENT_PORT, and the pod's readiness verdict, which
the server container's readiness probe asks (pod_template.py), on READINESS_PORT, and forwards
connections on PRIMARY_PORT to the writable server.
"""
from __future__ import annotations

from pulumi_kubernetes.core import v1 as core

from . import exporter
from .agent_config_map import AGENT_DIR, agent_mount
from .agent_metrics import agent_metrics
from .pod_spec import PASSWORD_KEYS, ROLE_KEY, SECRETS_DIR, PodContainer, PodSettings
from .settings import DEFAULT_AGENT_IMAGE
from .tls import CERT_FILE, KEY_FILE, TLS_DIR
from .topology import topology_mount

AGENT_PORT = 3308
# The pod's readiness verdict (mysql_cluster_agent/readiness_probe.py), plain HTTP for the
# kubelet, which probes without a client certificate: a port apart from the agent's (mutual TLS
# with TLS on) and the metrics port (optional, and open to Prometheus). The NetworkPolicy need
# not open it: traffic from the pod's node is always allowed
# (https://kubernetes.io/docs/concepts/services-networking/network-policies/).
READINESS_PORT = 3309
READINESS_PATH = "/ready"
# Where the agent forwards connections to the writable server (mysql_cluster_agent/primary_port.py):
# the primary Service's target with automaticFailover. Served whether or not, so that turning
# failover on or off changes the Service only and restarts no pod.
PRIMARY_PORT = 3310
PRIMARY_PORT_NAME = "primary"
# The server's socket directory (the run volume): the official images' socket is mysqld.sock
# there (docker-library/mysql and mariadb; the socket option is reserved, user_server_options.py).
SOCKET_DIR = "/var/run/mysqld"
SOCKET = f"{SOCKET_DIR}/mysqld.sock"
ROOT_PASSWORD_KEY = "root-password"


def agent_command(command: str) -> list[str]:
    """How a container runs one of the agent's commands (mysql_cluster_agent/__main__.py)."""
    return ["python3", "-m", "mysql_cluster_agent", command]


def _env(name: str, value: object) -> core.EnvVarArgs:
    return core.EnvVarArgs(name=name, value=str(value))


def agent_image(pod: PodSettings) -> str:
    return pod.settings.agent_image or DEFAULT_AGENT_IMAGE


def python_env() -> list[core.EnvVarArgs]:
    """How the python image runs the agent's code from its ConfigMap."""
    return [_env("PYTHONPATH", AGENT_DIR),
            # The root file system is read-only: no bytecode cache to write.
            _env("PYTHONDONTWRITEBYTECODE", 1),
            _env("PYTHONUNBUFFERED", 1)]


def role_key_env(pod: PodSettings) -> list[core.EnvVarArgs]:
    """Without TLS the switchover Job signs its role requests with the role key, and the agents
    check them with it (role_auth.py); with TLS the pods' certificate names who asks."""
    return [] if pod.tls_secret_name is not None else [_env("ROLE_KEY_FILE", f"{SECRETS_DIR}/{ROLE_KEY}")]


def agent_step_container(pod: PodSettings, name: str, command: str, env: list[core.EnvVarArgs],
                         volume_mounts: list[core.VolumeMountArgs]) -> core.ContainerArgs:
    """A container (init container, Job container) that runs one agent command to its end in
    the agent's image, with the agent's code mounted: the one way a pod runs a step in Python.
    The pod must have the agent's volume (agent_config_map.agent_volume)."""
    return core.ContainerArgs(
        name=name,
        image=agent_image(pod),
        command=agent_command(command),
        env=[*env, *python_env()],
        volume_mounts=[*volume_mounts, agent_mount()],
        resources=pod.resources("agent"),
    )


def agent_container(pod: PodSettings, cluster_env: list[core.EnvVarArgs],
                    role_mounts: list[core.VolumeMountArgs]) -> PodContainer:
    """`cluster_env` is what every container of the pod is told about the cluster (its name,
    the pod's, the flavor, TLS_DIR with TLS) and what its role loop needs (role_loop.py);
    `role_mounts` give the role loop the data volume (the rebuild mark, a clone's coordinates)
    and the pod's memory volume (the mark that the server has its role), and the binary log
    archive (with a backup target) rclone's tools volume and the target."""
    tls = pod.tls_secret_name is not None
    # The role loop sets the accounts' passwords on the primary and the replication password on
    # replicas' channels (role_loop.py); with metrics on, the exporter's account too.
    passwords = {(SECRETS_DIR, key) for key in PASSWORD_KEYS}
    if pod.metrics_secret_name is not None:
        passwords.add((exporter.METRICS_SECRETS_DIR, exporter.PASSWORD_KEY))
    metrics = agent_metrics(pod)
    return PodContainer(
        core.ContainerArgs(
            name="agent",
            image=agent_image(pod),
            command=agent_command("serve"),
            env=cluster_env + [
                _env("AGENT_PORT", AGENT_PORT),
                _env("READINESS_PORT", READINESS_PORT),
                _env("PRIMARY_PORT", PRIMARY_PORT),
                _env("PRIMARY_DOWN_READ_SECONDS", pod.settings.primary_down_read_seconds),
                _env("MYSQL_SOCKET", SOCKET),
                # Named here, so the pod mounts this one file of the credentials (pod_spec.py).
                _env("ROOT_PASSWORD_FILE", f"{SECRETS_DIR}/{ROOT_PASSWORD_KEY}"),
                *role_key_env(pod),
                *python_env(),
                *metrics.env,
            ],
            ports=[core.ContainerPortArgs(name="agent", container_port=AGENT_PORT),
                   core.ContainerPortArgs(name="readiness", container_port=READINESS_PORT),
                   core.ContainerPortArgs(name=PRIMARY_PORT_NAME, container_port=PRIMARY_PORT), *metrics.ports],
            volume_mounts=[
                core.VolumeMountArgs(name="run", mount_path=SOCKET_DIR),
                topology_mount(),
                agent_mount(),
                *role_mounts,
            ],
            # Ready once its port listens; whether the pod is ready (its server has its role, a
            # replica is caught up) is the mysql container's probe of the readiness port.
            readiness_probe=core.ProbeArgs(
                tcp_socket=core.TCPSocketActionArgs(port="agent"), period_seconds=10,
                timeout_seconds=5, failure_threshold=3),
            resources=pod.resources("agent"),
        ),
        # Its port presents the pod's certificate and checks the peers' against the CA.
        also_reads=frozenset(passwords | ({(TLS_DIR, CERT_FILE), (TLS_DIR, KEY_FILE)} if tls else set())),
    )
