"""The database pods: init containers, the server, the agent, MariaDB's backup listener, probes
and volumes.

Every pod runs the same template; the scripts find out from the ordinal whether they are on the
primary (pod 0) or on a replica.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Optional

from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from . import exporter
from .agent_config_map import agent_volume
from .agent_container import (
    READINESS_PATH,
    READINESS_PORT,
    SOCKET,
    agent_container,
    agent_step_container,
)
from .donor_container import DONOR_DIR, donor_container, donor_mount, donor_volume
from .pod_spec import SECRETS_DIR, PodContainer, PodSettings, pod_template
from .scripts_config_map import script_command, scripts_mount, scripts_volume
from .server_option_files import REPLICATION_HEARTBEAT_SECONDS
from .settings import BACKUP_USER, REPLICATION_USER, ROLE_WATCH_SECONDS, optional_text
from .tls import TLS_DIR, certificate_subject, server_tls_options
from .topology import TOPOLOGY_DIR, topology_mount, topology_volume
from .volume_growth import ACCESS_MODES

MYSQL_PORT = 3306
BACKUP_PORT = 3307
SERVER_ID_OFFSET = 100  # server-id 0 means "replication off"
CLONE_ATTEMPTS = 5

# Mount points.
DATA_VOLUME_MOUNT = "/data"  # the whole data volume: staging area and clone coordinates
DATA_SUBDIR = "mysql"  # the server's data directory inside the data volume
SERVER_DATADIR = "/var/lib/mysql"
# Client option files carry passwords: memory-backed, so none outlives the pod on a node's disk.
CLIENT_OPTIONS_DIR = "/run/mysql-cluster"
CONF_DIR = "/etc/mysql/conf.d"
INIT_CONF_DIR = "/mnt/conf.d"
INIT_CONFIG_MAP_DIR = "/mnt/config-map"


@dataclass(frozen=True)
class PodAdditions:
    """Containers, volumes and what the agent is told and mounts, that an optional feature adds
    to every pod (backups.py)."""

    init_containers: tuple[PodContainer, ...] = ()
    volumes: tuple[core.VolumeArgs, ...] = ()
    agent_env: tuple[core.EnvVarArgs, ...] = ()
    agent_mounts: tuple[core.VolumeMountArgs, ...] = ()


# The backup tools' --throttle counts read-and-write pairs of 64 pages, 1 MiB with 16 KiB pages
# (mariadb-backup and XtraBackup fil_cur XB_FIL_CUR_PAGES); the setting is in bytes per second.
THROTTLE_UNIT_BYTES = 2**20


def config_checksum(*texts: str) -> str:
    """Changes when the configuration changes, so the pods roll (they read it at start only)."""
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def _env(name: str, value: Any) -> core.EnvVarArgs:
    return core.EnvVarArgs(name=name, value=str(value))


def _cluster_env(pod: PodSettings) -> list[core.EnvVarArgs]:
    """What every script needs to know about the cluster; the same in every container."""
    names, settings = pod.names, pod.settings
    return [
        core.EnvVarArgs(name="POD_NAME", value_from=core.EnvVarSourceArgs(
            field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.name"))),
        _env("STATEFULSET_NAME", names.statefulset),
        _env("HEADLESS_SERVICE", names.headless_service),
        _env("CLUSTER_NAMESPACE", names.namespace),
        _env("CLUSTER_DOMAIN", names.cluster_domain),
        _env("DB_FLAVOR", pod.server.flavor),
        _env("DB_VERSION", pod.server.version),
        # What differs between the servers, from the one table (mysql_cluster_agent/dialect.py).
        *(_env(name, value) for name, value in pod.server.dialect.script_environment().items()),
        _env("MYSQL_PORT", MYSQL_PORT),
        _env("BACKUP_PORT", BACKUP_PORT),
        _env("SECRETS_DIR", SECRETS_DIR),
        _env("DATA_VOLUME", DATA_VOLUME_MOUNT),
        _env("DATA_SUBDIR", DATA_SUBDIR),
        _env("REPLICATION_USER", REPLICATION_USER),
        _env("BACKUP_USER", BACKUP_USER),
        _env("TOPOLOGY_DIR", TOPOLOGY_DIR),
        _env("APP_USER", settings.app_user),
        _env("APP_DATABASE", settings.app_database),
        _env("MAX_REPLICATION_LAG_SECONDS", settings.max_replication_lag_seconds),
        _env("BACKUP_PARALLEL", settings.backup_parallel),
        _env("TRANSFER_BUFFER_BYTES", settings.transfer_buffer_bytes),
        _env("BACKUP_THROTTLE_MIB", -(-settings.backup_throttle_bytes_per_second // THROTTLE_UNIT_BYTES)),
        _env("REPLICATION_HEARTBEAT_SECONDS", REPLICATION_HEARTBEAT_SECONDS),
        _env("CLIENT_OPTIONS_DIR", CLIENT_OPTIONS_DIR),
        _env("DONOR_DIR", DONOR_DIR),
        _env("TMPDIR", "/tmp"),
        # The scripts use TLS exactly when this is set.
        *([_env("TLS_DIR", TLS_DIR)] if pod.tls_secret_name is not None else []),
        # Only a holder of this certificate may clone a MySQL pod (the agent's accounts.py), where it is known.
        *([_env("TLS_SUBJECT", subject)] if pod.tls_secret_name is not None
          and (subject := certificate_subject(names, settings)) else []),
    ]


def _mount(volume: str, path: str, sub_path: Optional[str] = None,
           read_only: bool = False) -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=volume, mount_path=path, sub_path=sub_path,
                                read_only=read_only or None)


def server_tls_files(pod: PodSettings) -> frozenset[tuple[str, str]]:
    """The certificate files a container that runs the server reads: its options name them."""
    paths = [PurePosixPath(path) for path in server_tls_options(pod.settings).values()]
    return frozenset((str(path.parent), path.name) for path in paths if str(path.parent) == TLS_DIR)


def _exec_probe(script: str, period: int, failure_threshold: int) -> core.ProbeArgs:
    return core.ProbeArgs(
        exec_=core.ExecActionArgs(command=script_command(script)),
        period_seconds=period,
        timeout_seconds=5,
        failure_threshold=failure_threshold,
    )


def _readiness_probe() -> core.ProbeArgs:
    """The server container's readiness: the agent's verdict (mysql_cluster_agent/readiness.py).
    A pod is Ready, and in the Services' endpoints, only while every container is, so either
    container would do; on this one, `kubectl describe` names the server as what is not ready.
    The port by number: a probe's port name is looked up among its own container's ports."""
    return core.ProbeArgs(
        http_get=core.HTTPGetActionArgs(path=READINESS_PATH, port=READINESS_PORT),
        initial_delay_seconds=5,
        period_seconds=5,
        # The agent answers within 4 s (readiness_probe.VERDICT_SECONDS).
        timeout_seconds=5,
        failure_threshold=2,
    )


# What the init-mysql step reads of the cluster's environment (mysql_cluster_agent/init_config.py):
# the pod's names and whether its data volume holds a database.
_INIT_MYSQL_ENV = frozenset({"POD_NAME", "STATEFULSET_NAME", "HEADLESS_SERVICE", "CLUSTER_NAMESPACE",
                             "CLUSTER_DOMAIN", "DATA_VOLUME", "DATA_SUBDIR"})


def _init_mysql(pod: PodSettings, env: list[core.EnvVarArgs]) -> core.ContainerArgs:
    """The server's identity and role options, written by the agent's code before the server
    starts; it connects to nothing, so it is given no certificate and no password."""
    plain: list[Any] = env  # built from plain values: their names are strings
    return agent_step_container(
        pod, "init-mysql", "init-config",
        [*(var for var in plain if var.name in _INIT_MYSQL_ENV),
         _env("CONF_DIR", INIT_CONF_DIR), _env("CONFIG_MAP_DIR", INIT_CONFIG_MAP_DIR),
         _env("SERVER_ID_OFFSET", SERVER_ID_OFFSET)],
        [_mount("conf", INIT_CONF_DIR),
         _mount("config-map", INIT_CONFIG_MAP_DIR, read_only=True),
         # Whether a database exists decides whether the server starts writable.
         _mount("data", DATA_VOLUME_MOUNT, read_only=True)])


def _clone_mysql(pod: PodSettings, env: list[core.EnvVarArgs]) -> list[PodContainer]:
    """MariaDB's clone of a new replica, a streamed backup (clone.sh). A MySQL pod has none: its
    agent clones into the running server (mysql_cluster_agent/mysql_clone.py)."""
    if pod.server.dialect.clones_with_plugin:
        return []
    return [PodContainer(core.ContainerArgs(
        name="clone-mysql",
        image=pod.backup_image,
        command=script_command("clone.sh"),
        env=env + [_env("CLONE_ATTEMPTS", CLONE_ATTEMPTS)],
        volume_mounts=[_mount("data", DATA_VOLUME_MOUNT), _mount("tmp", "/tmp"),
                       _mount("client-options", CLIENT_OPTIONS_DIR), donor_mount(read_only=True),
                       scripts_mount()],
        resources=pod.resources("backup"),
    ))]


def _mysql(pod: PodSettings, env: list[core.EnvVarArgs]) -> core.ContainerArgs:
    # server.sh runs the image's entrypoint, which initialises an empty data directory (pod 0's,
    # and on MySQL a new replica's, which its agent then clones into) and sets the root password
    # from the file; it leaves a MariaDB replica's cloned data alone.
    mounts = [
        _mount("data", SERVER_DATADIR, sub_path=DATA_SUBDIR),
        _mount("conf", CONF_DIR, read_only=True),
        _mount("tmp", "/tmp"),
        _mount("client-options", CLIENT_OPTIONS_DIR),
        _mount("run", "/var/run/mysqld"),
        # The rebuild (server.sh): the mark, the diverged data set aside, the clone's staging, and
        # the donors the agent chose.
        _mount("data", DATA_VOLUME_MOUNT),
        donor_mount(read_only=True),
        topology_mount(),
        scripts_mount(),  # for the liveness probe
    ]
    if pod.server.flavor == "mysql":
        mounts.append(_mount("mysql-files", "/var/lib/mysql-files"))
    return core.ContainerArgs(
        name="mysql",
        image=pod.server_image,
        command=script_command("server.sh"),
        env=env + [_env("MYSQL_SOCKET", SOCKET),
                   _env("CLONE_ATTEMPTS", CLONE_ATTEMPTS)]
        + [_env(name, value) for name, value in pod.server.entrypoint_env(SECRETS_DIR).items()],
        ports=[core.ContainerPortArgs(name="mysql", container_port=MYSQL_PORT)],
        volume_mounts=mounts,
        resources=pod.resources("server"),
        # Crash recovery or an upgrade may take long; liveness only starts counting after it.
        startup_probe=_exec_probe("liveness.sh", period=10, failure_threshold=90),
        liveness_probe=_exec_probe("liveness.sh", period=10, failure_threshold=3),
        readiness_probe=_readiness_probe(),
    )


def _backup_listener(pod: PodSettings, env: list[core.EnvVarArgs]) -> core.ContainerArgs:
    """MariaDB's: peers clone by a streamed backup of mariadb-backup (sidecar.sh). MySQL's peers
    clone with the server's own CLONE plugin: a MySQL pod has no such container."""
    return core.ContainerArgs(
        name="backup",
        image=pod.backup_image,
        command=script_command("sidecar.sh"),
        env=env + [_env("ROLE_WATCH_SECONDS", ROLE_WATCH_SECONDS),
                   # The name a peer's certificate must hold (tls.sh): the kubelet expands
                   # $(POD_NAME), set before it (https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/).
                   _env("POD_HOST", f"$(POD_NAME).{pod.names.service_host(pod.names.headless_service)}")],
        ports=[core.ContainerPortArgs(name="backup", container_port=BACKUP_PORT)],
        volume_mounts=[
            # The same path as in the server container: the backup tool asks the server for it.
            _mount("data", SERVER_DATADIR, sub_path=DATA_SUBDIR),
            _mount("data", DATA_VOLUME_MOUNT),
            _mount("conf", CONF_DIR, read_only=True),
            _mount("tmp", "/tmp"),
            _mount("client-options", CLIENT_OPTIONS_DIR),
            topology_mount(),
            scripts_mount(),
        ],
        resources=pod.resources("backup"),
    )


def _affinity(pod: PodSettings) -> core.AffinityArgs:
    term = core.PodAffinityTermArgs(
        label_selector=meta.LabelSelectorArgs(match_labels=pod.names.selector_labels),
        topology_key="kubernetes.io/hostname",
    )
    if pod.settings.anti_affinity == "required":
        anti_affinity = core.PodAntiAffinityArgs(
            required_during_scheduling_ignored_during_execution=[term])
    else:
        anti_affinity = core.PodAntiAffinityArgs(
            preferred_during_scheduling_ignored_during_execution=[
                core.WeightedPodAffinityTermArgs(weight=100, pod_affinity_term=term)])
    return core.AffinityArgs(pod_anti_affinity=anti_affinity)


def _zone_spread(pod: PodSettings) -> Optional[list[core.TopologySpreadConstraintArgs]]:
    if not pod.settings.zone_spread:
        return None
    return [core.TopologySpreadConstraintArgs(
        max_skew=1,
        topology_key="topology.kubernetes.io/zone",
        when_unsatisfiable="ScheduleAnyway",
        label_selector=meta.LabelSelectorArgs(match_labels=pod.names.selector_labels),
    )]


def _volumes(pod: PodSettings) -> list[core.VolumeArgs]:
    volumes = [
        core.VolumeArgs(name="conf", empty_dir=core.EmptyDirVolumeSourceArgs()),
        core.VolumeArgs(name="config-map", config_map=core.ConfigMapVolumeSourceArgs(
            name=pod.config_map_name)),
        core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs()),
        core.VolumeArgs(name="run", empty_dir=core.EmptyDirVolumeSourceArgs(medium="Memory")),
        core.VolumeArgs(name="client-options", empty_dir=core.EmptyDirVolumeSourceArgs(
            medium="Memory", size_limit="1Mi")),
        topology_volume(pod.topology_config_map_name),
        scripts_volume(pod.scripts_config_map_name),
        agent_volume(pod.agent_config_map_name),
        donor_volume(),
    ]
    if pod.server.flavor == "mysql":
        volumes.append(core.VolumeArgs(name="mysql-files", empty_dir=core.EmptyDirVolumeSourceArgs()))
    return volumes


def _containers(pod: PodSettings, env: list[core.EnvVarArgs], additions: PodAdditions) -> list[PodContainer]:
    containers = [PodContainer(_mysql(pod, env), also_reads=server_tls_files(pod))]
    if pod.server.is_mariadb:
        containers.append(PodContainer(_backup_listener(pod, env)))
    containers.append(agent_container(
        # The agent reads the dialect table itself.
        pod, [var for var in env if var.name not in pod.server.dialect.script_environment()]
        + [_env("ROLE_WATCH_SECONDS", ROLE_WATCH_SECONDS)]
        + (exporter.sidecar_env() if pod.metrics_secret_name is not None else [])
        + list(additions.agent_env),
        [_mount("data", DATA_VOLUME_MOUNT), _mount("client-options", CLIENT_OPTIONS_DIR),
         donor_mount(read_only=False), *additions.agent_mounts]))
    if pod.metrics_secret_name is not None:
        containers.append(PodContainer(
            exporter.exporter_container(pod.settings.metrics_image or exporter.DEFAULT_EXPORTER_IMAGE),
            also_reads=exporter.option_file_reads(pod.tls_secret_name is not None)))
    return containers


def database_pod_template(pod: PodSettings, additions: PodAdditions = PodAdditions()
                          ) -> core.PodTemplateSpecArgs:
    env = _cluster_env(pod)
    return pod_template(
        pod, pod.names.labels,
        init_containers=[PodContainer(_init_mysql(pod, env)),
                         # Writable where it leaves the clone mark for the agent (mysql_clone.py).
                         donor_container(pod, env, CLONE_ATTEMPTS, _mount(
                             "data", DATA_VOLUME_MOUNT, read_only=not pod.server.dialect.clones_with_plugin)),
                         *_clone_mysql(pod, env),
                         *additions.init_containers],
        containers=_containers(pod, env, additions),
        volumes=_volumes(pod) + list(additions.volumes),
        annotations={"mysql-cluster/config-checksum": config_checksum(
            *(pod.server_cnf[name] for name in sorted(pod.server_cnf)))},
        affinity=_affinity(pod),
        topology_spread_constraints=_zone_spread(pod),
        priority_class_name=optional_text(pod.settings.priority_class_name),
        # mysqld flushes to disk on shutdown; give it time before SIGKILL.
        termination_grace_period_seconds=60,
    )


def data_volume_claim(pod: PodSettings) -> core.PersistentVolumeClaimArgs:
    return core.PersistentVolumeClaimArgs(
        metadata=meta.ObjectMetaArgs(name="data", labels=pod.names.labels),
        spec=core.PersistentVolumeClaimSpecArgs(
            access_modes=ACCESS_MODES,
            storage_class_name=optional_text(pod.settings.storage_class),
            resources=core.VolumeResourceRequirementsArgs(
                requests={"storage": pod.settings.storage_size}),
        ),
    )
