"""The pod of every workload of a cluster, built by one function: the database pods of the
StatefulSet, the pods of the backup and restore drill CronJobs and the switchover Job's.

What every pod shares is decided here once, so the workloads cannot drift apart (the CronJob's pod
once lacked the image pull secrets): the user it runs as and its seccomp profile, the image pull
secrets, the service account without its API token, the node selector and tolerations, the
user's extra labels and annotations, each container's security context (no privileges, no
capabilities, a read-only root file system), and the files of the cluster's Secrets, each
container mounting exactly those it reads (secret_files.py). What differs (containers, other volumes,
placement among the database pods) the workload passes in.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from . import exporter
from .names import ClusterNames
from .scheduling import toleration_args
from .secret_files import files_read
from .settings import ClusterSettings, optional_text
from .supported_servers import Server
from .tls import SECRET_KEYS as TLS_KEYS
from .tls import TLS_DIR

# The official mysql and mariadb images run mysqld as uid/gid 999; every container of every pod
# runs as that uid so the server and the backup tool can both read and write the data volume.
DATABASE_UID = 999
SECRETS_DIR = "/etc/mysql-cluster/secrets"
# The credentials Secret's keys by setting, read by the scripts from files named like them.
CREDENTIAL_KEYS = {
    "root_password": "root-password",
    "replication_password": "replication-password",
    "backup_password": "backup-password",
    "app_password": "app-password",
    "backup_key": "backup-key",  # only with a backupTarget; mounted apart (BACKUP_KEY_DIR)
}
# The backup key has a mount of its own: the backup containers read it, and no password.
BACKUP_KEY_DIR = "/etc/mysql-cluster/backup-key"
PASSWORD_KEYS = tuple(key for arg, key in CREDENTIAL_KEYS.items() if arg != "backup_key")
# Signs the switchover Job's requests to the agents when the cluster has no TLS (with TLS the
# pods' certificate does): generated with the Secret, no setting of its own.
ROLE_KEY = "role-key"
ROLE_KEY_LENGTH = 64


@dataclass(frozen=True)
class PodSettings:
    """What the pods need, already validated."""

    names: ClusterNames
    server: Server
    server_image: str
    backup_image: str
    secret_name: pulumi.Input[str]
    config_map_name: pulumi.Input[str]
    topology_config_map_name: pulumi.Input[str]
    server_cnf: dict[str, str]  # the ConfigMap's .cnf files, by name
    scripts_config_map_name: pulumi.Input[str]
    agent_config_map_name: pulumi.Input[str]
    settings: ClusterSettings
    metrics_secret_name: Optional[pulumi.Input[str]] = None  # set when metrics are on
    tls_secret_name: Optional[pulumi.Input[str]] = None  # the certificate's Secret; None: no TLS

    def resources(self, prefix: str) -> core.ResourceRequirementsArgs:
        def quantities(kind: str) -> dict[str, str]:
            values = {"cpu": optional_text(getattr(self.settings, f"{prefix}_cpu_{kind}")),
                      "memory": optional_text(getattr(self.settings, f"{prefix}_memory_{kind}"))}
            return {resource: value for resource, value in values.items() if value}
        return core.ResourceRequirementsArgs(requests=quantities("request"), limits=quantities("limit"))


@dataclass(frozen=True)
class SecretSource:
    """A Secret of the cluster, where containers find its files, and the keys it holds."""

    volume: str  # the name of its volume when a container reads every key
    secret_name: pulumi.Input[str]
    mount_path: str
    keys: tuple[str, ...]


def secret_sources(pod: PodSettings, passwords: bool = True) -> list[SecretSource]:
    """The Secrets a pod's containers may read; `passwords` False leaves out the cluster's
    passwords (a pod that never connects to the cluster, the restore drill's)."""
    sources = ([SecretSource("credentials", pod.secret_name, SECRETS_DIR, (*PASSWORD_KEYS, ROLE_KEY))]
               if passwords else [])
    if pod.settings.backup_target:
        sources.append(SecretSource("backup-key", pod.secret_name, BACKUP_KEY_DIR,
                                    (CREDENTIAL_KEYS["backup_key"],)))
    if pod.tls_secret_name is not None:
        sources.append(SecretSource("tls", pod.tls_secret_name, TLS_DIR, TLS_KEYS))
    if pod.metrics_secret_name is not None:
        sources.append(SecretSource("metrics-credentials", pod.metrics_secret_name,
                                    exporter.METRICS_SECRETS_DIR, exporter.SECRET_KEYS))
    return sources


@dataclass(frozen=True)
class PodContainer:
    """A container of a workload's pod, and the Secret files it reads that neither its scripts
    nor its arguments and environment show (a server's certificate, named by its options)."""

    args: core.ContainerArgs
    also_reads: frozenset[tuple[str, str]] = frozenset()  # (mount path, key)


def _commands(args: core.ContainerArgs) -> list[list[str]]:
    # Built here from plain values, which the Args classes type as Inputs: read them as they are.
    container: Any = args
    probes = (container.startup_probe, container.liveness_probe, container.readiness_probe)
    return [list(container.command or []) + list(container.args or []),
            *(list(probe.exec_.command) for probe in probes if probe and probe.exec_)]


def _with_secret_files(container: PodContainer, sources: Sequence[SecretSource],
                       volumes: dict[str, core.VolumeArgs]) -> core.ContainerArgs:
    """The container with a read-only mount of each Secret it reads, of a volume of exactly
    the keys it reads (added to `volumes`, shared by the containers that read the same keys)."""
    args = container.args
    plain: Any = args  # as in _commands
    env = {var.name: var.value for var in plain.env or [] if var.value is not None}
    by_path = {source.mount_path: source.keys for source in sources}
    files = files_read(_commands(args), env, TLS_DIR, by_path) | container.also_reads
    mounts = list(plain.volume_mounts or [])
    for source in sources:
        keys = [key for key in source.keys if (source.mount_path, key) in files]
        if not keys:
            continue
        name = source.volume if len(keys) == len(source.keys) else f"{source.volume}-{plain.name}"
        # Group-readable: fsGroup makes the pod's group own the files.
        volumes.setdefault(name, core.VolumeArgs(name=name, secret=core.SecretVolumeSourceArgs(
            secret_name=source.secret_name, default_mode=0o440,
            items=[core.KeyToPathArgs(key=key, path=key) for key in keys])))
        mounts.append(core.VolumeMountArgs(name=name, mount_path=source.mount_path,
                                           read_only=True))
    args.volume_mounts = mounts
    return args


def _hardened(container: core.ContainerArgs) -> core.ContainerArgs:
    """The container as every container of the cluster runs: not root, without privileges or
    capabilities, on a read-only root file system (what it writes goes to its volumes)."""
    container.security_context = core.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=core.CapabilitiesArgs(drop=["ALL"]),
    )
    return container


def pod_template(pod: PodSettings, labels: dict[str, str],
                 containers: Sequence[PodContainer], init_containers: Sequence[PodContainer] = (),
                 volumes: Sequence[core.VolumeArgs] = (), annotations: Optional[dict[str, str]] = None,
                 passwords: bool = True, **spec: Any) -> core.PodTemplateSpecArgs:
    """A workload's pod: its containers and other volumes, `spec` for what only it has
    (restart policy, placement among the database pods), and what every pod shares; without
    `passwords` no container gets the cluster's passwords, whatever its scripts read."""
    settings = pod.settings
    sources = secret_sources(pod, passwords)
    secret_volumes: dict[str, core.VolumeArgs] = {}
    init = [_hardened(_with_secret_files(container, sources, secret_volumes))
            for container in init_containers]
    main = [_hardened(_with_secret_files(container, sources, secret_volumes))
            for container in containers]
    return core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(
            labels={**settings.pod_labels, **labels},
            annotations={**settings.pod_annotations, **(annotations or {})} or None),
        spec=core.PodSpecArgs(
            init_containers=init or None,
            containers=main,
            volumes=list(volumes) + list(secret_volumes.values()),
            security_context=core.PodSecurityContextArgs(
                run_as_user=DATABASE_UID,
                run_as_group=DATABASE_UID,
                fs_group=DATABASE_UID,
                fs_group_change_policy="OnRootMismatch",
                run_as_non_root=True,
                seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            node_selector=settings.node_selector or None,
            tolerations=toleration_args(settings),
            image_pull_secrets=[core.LocalObjectReferenceArgs(name=name)
                                for name in settings.image_pull_secrets] or None,
            service_account_name=optional_text(settings.service_account_name),
            # Whatever account the pods run as, they do not call the Kubernetes API.
            automount_service_account_token=False,
            enable_service_links=False,
            **spec,
        ),
    )
