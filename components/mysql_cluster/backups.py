"""Backups to object storage or a claim, binary log archiving, and restoring pod 0 from them.

Every transfer is rclone, copied out of the pinned rclone image by an init container into a
shared emptyDir (it is one static binary), so the scripts that stream backups run in the backup
image with bash, the backup tool and socat next to it, and the agent (in the python image) archives
the binary logs with it. The same rclone remote,
`target:`, stands for an S3-compatible bucket or a mounted claim (rclone's local backend): one
code path for both targets. Layout under the target's prefix:

    backups/<name>/backup.xbstream  MariaDB: the stream as the donor's sidecar served it
    backups/<name>/backup.tar       MySQL: a CLONE of the donor, archived, then its end record
    backups/<name>/manifest.json    written last, only after a whole and verified upload
    binlogs/<history>/mysql-bin.*   closed binary logs of one primary's data directory

Every object is written and read through rclone's crypt remote `sealed:` layered over `target:`
(https://rclone.org/crypt/), keyed by the cluster's backup key (backupKey, key backup-key of the
credentials Secret): the bucket holds only ciphertext, each 64 KiB block authenticated, and a
changed block fails the read. Names stay readable, with ".bin" appended, so that retention and
restores can list them. The default prefix is <stack>/<namespace>/<cluster>: two clusters never
share one unless a user says so, and manifests record the namespace and cluster besides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
from pulumi_kubernetes.batch import v1 as batch
from pulumi_kubernetes.core import v1 as core

from .agent_config_map import agent_volume
from .agent_container import agent_step_container
from .network_policy import backup_job_egress
from .pod_spec import BACKUP_KEY_DIR, CREDENTIAL_KEYS, PodContainer, PodSettings, pod_template
from .pod_template import (
    CLIENT_OPTIONS_DIR,
    CONF_DIR,
    DATA_SUBDIR,
    DATA_VOLUME_MOUNT,
    SERVER_DATADIR,
    PodAdditions,
    _cluster_env,
    _env,
    _mount,
    server_tls_files,
)
from .scheduled_job import scheduled_job
from .scripts_config_map import script_command, scripts_mount, scripts_volume
from .settings import ClusterSettings

TOOLS_DIR = "/opt/mysql-cluster-tools"
TARGET_CREDENTIALS_DIR = "/etc/mysql-cluster/backup-target"
# The crypt remote over `target:` that every script reads and writes through.
SEALED_REMOTE = "sealed"
TARGET_CLAIM_MOUNT = "/backup-target"
# The backup Job's disk for a MySQL clone before its upload (Server.backup_stages_a_copy).
SCRATCH_DIR = "/var/lib/mysql-cluster-scratch"
# The rclone image's binary; the init container copies it for the other containers.
RCLONE_IN_IMAGE = "/usr/local/bin/rclone"
# What replay-plan (mysql_cluster_agent/replay_plan.py) hands to restore-replay.sh, one value a
# file, in memory: it is decided anew at every start of the pod.
REPLAY_PLAN_DIR = "/run/mysql-cluster-replay-plan"
REPLAY_PLAN_VOLUME_NAME = "replay-plan"
REPLAY_PLAN_VOLUME = core.VolumeArgs(name=REPLAY_PLAN_VOLUME_NAME, empty_dir=core.EmptyDirVolumeSourceArgs(
    medium="Memory", size_limit="1Mi"))
# Keys of the user's Secret for the s3 target.
S3_SECRET_KEYS = ("access-key-id", "secret-access-key")
S3_PART_SIZE = "32Mi"
# Memory volumes of one value a file, from a Python step to the bash after it: what the restore
# plan hands the restore step (restore_plan.py), what the backup stream hands backup-record.
PLAN_DIR = "/run/mysql-cluster-restore-plan"
RESULT_DIR = "/run/mysql-cluster-backup-result"


@dataclass(frozen=True)
class BackupTarget:
    """The rclone remote `target:` and where the cluster's files live on it."""

    pod: PodSettings

    @property
    def settings(self) -> ClusterSettings:
        return self.pod.settings

    @property
    def prefix(self) -> str:
        names = self.pod.names
        return self.settings.backup_prefix or f"{pulumi.get_stack()}/{names.namespace}/{names.cluster}"

    def remote(self, prefix: str) -> str:
        if self.settings.backup_target == "s3":
            return f"{SEALED_REMOTE}:{self.settings.backup_s3_bucket}/{prefix}"
        return f"{SEALED_REMOTE}:{TARGET_CLAIM_MOUNT}/{prefix}"

    def env(self) -> list[core.EnvVarArgs]:
        """rclone's configuration of `target:`, without the keys (the scripts read those from
        the mounted Secret into rclone's environment alone)."""
        settings = self.settings
        if settings.backup_target == "s3":
            options = {"TYPE": "s3", "PROVIDER": "Other" if settings.backup_s3_endpoint else "AWS",
                       "ENDPOINT": settings.backup_s3_endpoint, "REGION": settings.backup_s3_region,
                       # Least privilege: the credentials need not be allowed to create buckets.
                       "NO_CHECK_BUCKET": "true", "ENV_AUTH": "false",
                       # A streamed upload has at most 10,000 parts: 32 MiB parts allow 312 GiB
                       # (5 MiB, rclone's default, 48 GiB), at 4 parts in memory at once.
                       "CHUNK_SIZE": S3_PART_SIZE}
        else:
            options = {"TYPE": "local"}
        env = [_env(f"RCLONE_CONFIG_TARGET_{key}", value) for key, value in options.items() if value]
        # Names in clear (".bin" appended), contents encrypted; the scripts add the password.
        sealed = {"TYPE": "crypt", "REMOTE": "target:", "FILENAME_ENCRYPTION": "off",
                  "DIRECTORY_NAME_ENCRYPTION": "false"}
        env += [_env(f"RCLONE_CONFIG_{SEALED_REMOTE.upper()}_{key}", value) for key, value in sealed.items()]
        return env + [
            _env("CRYPT_PASSWORD_FILE", f"{BACKUP_KEY_DIR}/{CREDENTIAL_KEYS['backup_key']}"),
            _env("RCLONE", f"{TOOLS_DIR}/rclone"),
            _env("BACKUP_FORMAT", self.pod.server.backup_format),
            # Fail fast: a streamed upload cannot be retried whole (the Job retries the backup),
            # and rclone's default of 10 attempts per part kept a job with a dead store for minutes.
            _env("RCLONE_RETRIES", 1),
            _env("RCLONE_LOW_LEVEL_RETRIES", 3),
            # No config file: the remote is all in the environment.
            _env("RCLONE_CONFIG", "/dev/null"),
            _env("BACKUP_REMOTE", self.remote(self.prefix)),
            _env("TARGET_CREDENTIALS_DIR",
                 TARGET_CREDENTIALS_DIR if settings.backup_target == "s3" else ""),
        ]

    def volumes(self) -> list[core.VolumeArgs]:
        settings = self.settings
        volumes = [core.VolumeArgs(name="tools", empty_dir=core.EmptyDirVolumeSourceArgs())]
        if settings.backup_target == "s3":
            volumes.append(core.VolumeArgs(name="target-credentials", secret=core.SecretVolumeSourceArgs(
                secret_name=settings.backup_s3_secret, default_mode=0o440,
                items=[core.KeyToPathArgs(key=key, path=key) for key in S3_SECRET_KEYS])))
        else:
            volumes.append(core.VolumeArgs(name="target", persistent_volume_claim=(
                core.PersistentVolumeClaimVolumeSourceArgs(claim_name=settings.backup_claim))))
        return volumes

    def mounts(self) -> list[core.VolumeMountArgs]:
        # The backup key is mounted by pod_spec, as every Secret file a container reads.
        mounts = [_mount("tools", TOOLS_DIR, read_only=True)]
        if self.settings.backup_target == "s3":
            mounts.append(_mount("target-credentials", TARGET_CREDENTIALS_DIR, read_only=True))
        else:
            mounts.append(_mount("target", TARGET_CLAIM_MOUNT))
        return mounts


def _rclone_tools(pod: PodSettings) -> core.ContainerArgs:
    return core.ContainerArgs(
        name="rclone-tools",
        image=pod.settings.rclone_image,
        command=["cp", RCLONE_IN_IMAGE, f"{TOOLS_DIR}/rclone"],
        volume_mounts=[_mount("tools", TOOLS_DIR)],
        resources=pod.resources("backup"),
    )


def _memory_volume(name: str) -> core.VolumeArgs:
    return core.VolumeArgs(name=name, empty_dir=core.EmptyDirVolumeSourceArgs(medium="Memory"))


def restore_volumes() -> list[core.VolumeArgs]:
    """What the restore's containers need besides the target's and the agent's volumes: where
    each plan hands its values to the next step."""
    return [_memory_volume("restore-plan"), REPLAY_PLAN_VOLUME]


def _restore(pod: PodSettings, target: BackupTarget, env: list[core.EnvVarArgs]
             ) -> list[PodContainer]:
    """Pod 0 with an empty data directory: choose and check the backup (the agent's
    restore-plan), fetch it (MariaDB: restore.sh in the backup image, which prepares it; MySQL:
    the agent's restore-tar), check restoreTo and cut the archive
    (agent), then replay archived binary logs into a server without networking (server image)."""
    prefix, _, name = pod.settings.restore_from.rpartition("/")
    restore_env = [_env("RESTORE_REMOTE", target.remote(prefix or target.prefix)),
                   _env("RESTORE_NAME", name), _env("RESTORE_TO", pod.settings.restore_to),
                   _env("CLUSTER_NAME", pod.names.cluster),
                   # A prefix named in restoreFrom may hold another cluster's backups.
                   _env("RESTORE_ANY_CLUSTER", "true" if prefix else "false"),
                   _env("PLAN_DIR", PLAN_DIR),
                   # mysqlbinlog reads --stop-datetime in local time.
                   _env("TZ", "UTC")]
    plan_mount = _mount("restore-plan", PLAN_DIR)
    restore_plan = agent_step_container(
        pod, "restore-plan", "restore-plan", env + target.env() + restore_env,
        [_mount("data", DATA_VOLUME_MOUNT), plan_mount, *target.mounts()])
    restore_plan.termination_message_policy = "FallbackToLogsOnError"
    fetch_mounts = [_mount("data", DATA_VOLUME_MOUNT), _mount("restore-plan", PLAN_DIR, read_only=True),
                    *target.mounts()]
    if pod.server.backup_format == "tar":
        # A clone's tar needs no preparing: Python streams, checks and extracts it (restore_tar.py).
        fetch = agent_step_container(pod, "restore", "restore-tar", env + target.env() + restore_env,
                                     fetch_mounts)
        fetch.termination_message_policy = "FallbackToLogsOnError"
    else:
        fetch = core.ContainerArgs(
            name="restore",
            image=pod.backup_image,
            command=script_command("restore.sh"),
            env=env + target.env() + restore_env,
            volume_mounts=[*fetch_mounts, _mount("tmp", "/tmp"), scripts_mount()],
            resources=pod.resources("backup"),
            termination_message_policy="FallbackToLogsOnError",
        )
    plan_env = [_env("REPLAY_PLAN_DIR", REPLAY_PLAN_DIR)]
    replay_plan = agent_step_container(pod, "replay-plan", "replay-plan", env + plan_env, [
        _mount("data", DATA_VOLUME_MOUNT), _mount(REPLAY_PLAN_VOLUME_NAME, REPLAY_PLAN_DIR)])
    replay_plan.termination_message_policy = "FallbackToLogsOnError"
    replay = core.ContainerArgs(
        name="restore-replay",
        image=pod.server_image,
        command=script_command("restore-replay.sh"),
        env=env + restore_env + plan_env,
        volume_mounts=[_mount("data", SERVER_DATADIR, sub_path=DATA_SUBDIR),
                       _mount("data", DATA_VOLUME_MOUNT), _mount("conf", CONF_DIR, read_only=True),
                       _mount("tmp", "/tmp"), _mount("run", "/var/run/mysqld"),
                       _mount("client-options", CLIENT_OPTIONS_DIR),
                       _mount(REPLAY_PLAN_VOLUME_NAME, REPLAY_PLAN_DIR, read_only=True), scripts_mount()],
        resources=pod.resources("server"),
        termination_message_policy="FallbackToLogsOnError",
    )
    return [PodContainer(restore_plan), PodContainer(fetch), PodContainer(replay_plan),
            PodContainer(replay, also_reads=server_tls_files(pod))]


def _binlog_archive_env(pod: PodSettings, target: BackupTarget) -> list[core.EnvVarArgs]:
    """What the agent's binary log archive needs besides the pod's environment
    (mysql_cluster_agent/binlog_archiver.py)."""
    env = target.env() + [_env("ARCHIVE_INTERVAL_SECONDS", pod.settings.binlog_archive_interval_seconds)]
    if pod.settings.backup_target == "s3":
        # One part in memory at a time: a binary log of max_binlog_size is uploaded in parts,
        # and the agent's container is small (agentMemoryLimit).
        env.append(_env("RCLONE_CONFIG_TARGET_UPLOAD_CONCURRENCY", 1))
    return env


def pod_additions(pod: PodSettings) -> PodAdditions:
    """What backups add to every database pod: the binary log archive in the agent (which acts
    on the primary only: rclone, the target's configuration and its Secret) and, when a restore
    is configured, the restore of an empty pod 0."""
    if not pod.settings.backup_target:
        return PodAdditions()
    target = BackupTarget(pod)
    env = _cluster_env(pod)
    restore = _restore(pod, target, env) if pod.settings.restore_from else []
    return PodAdditions(init_containers=(PodContainer(_rclone_tools(pod)), *restore),
                        agent_env=tuple(_binlog_archive_env(pod, target)),
                        agent_mounts=tuple(target.mounts()),
                        volumes=(*target.volumes(), *(restore_volumes() if restore else ())))


def _donor_hosts(pod: PodSettings) -> str:
    """The donors a backup job tries, in order: replicas from the last one down (sparing the
    primary, pod primaryOrdinal), the primary last."""
    primary = pod.settings.primary_ordinal
    ordinals = [n for n in reversed(range(pod.settings.replicas)) if n != primary] + [primary]
    return " ".join(pod.names.pod_host(ordinal) for ordinal in ordinals)


def backup_cron_job(resource_name: str, pod: PodSettings,
                    opts: pulumi.ResourceOptions) -> Optional[batch.CronJob]:
    settings, names = pod.settings, pod.names
    if not settings.backup_schedule:
        return None
    target = BackupTarget(pod)
    job_env = _cluster_env(pod) + target.env() + [
        _env("CLUSTER_NAME", names.cluster), _env("RESULT_DIR", RESULT_DIR)]
    scratch_volumes, scratch_mounts = [], []
    if pod.server.backup_stages_a_copy:
        # One copy of the data at most: the clone lands here before it is archived and uploaded,
        # so the node must offer as much ephemeral storage as the data volume holds
        # (docs/operations.md, "Backups").
        job_env.append(_env("SCRATCH_DIR", SCRATCH_DIR))
        scratch_volumes.append(core.VolumeArgs(name="scratch", empty_dir=core.EmptyDirVolumeSourceArgs(
            size_limit=settings.storage_size)))
        scratch_mounts.append(_mount("scratch", SCRATCH_DIR))
    # The stream (bash, in the backup image) leaves its results for backup-record (Python),
    # which writes the manifest and applies retention: a failed stream fails the pod before it.
    stream = core.ContainerArgs(
        name="backup",
        image=pod.backup_image,
        command=script_command(pod.server.backup_job_script),
        env=job_env + [_env("DONOR_HOSTS", _donor_hosts(pod))],
        # With TLS the donors serve only a peer with the cluster's certificate.
        volume_mounts=[_mount("tmp", "/tmp"), scripts_mount(), _mount("backup-result", RESULT_DIR),
                       *target.mounts(), *scratch_mounts],
        resources=pod.resources("backup"),
        # `kubectl describe` of a failed Job's pod shows the script's last lines.
        termination_message_policy="FallbackToLogsOnError",
    )
    record = agent_step_container(pod, "backup-record", "backup-record", job_env + [
        _env("RETENTION_COUNT", settings.backup_retention_count),
        _env("RETENTION_DAYS", settings.backup_retention_days),
    ], [_mount("backup-result", RESULT_DIR, read_only=True), *target.mounts()])
    record.termination_message_policy = "FallbackToLogsOnError"
    template = pod_template(
        pod, names.backup_job_labels,
        init_containers=[PodContainer(_rclone_tools(pod)), PodContainer(stream)],
        containers=[PodContainer(record)],
        volumes=[core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs()),
                 scripts_volume(pod.scripts_config_map_name), _memory_volume("backup-result"),
                 agent_volume(pod.agent_config_map_name), *target.volumes(), *scratch_volumes],
        restart_policy="Never",
    )
    # Each attempt is a new backup under a new name; a failed one is never kept.
    return scheduled_job(resource_name, names, names.backup_cron_job, names.backup_job_labels,
                         settings.backup_schedule, template, backoff_limit=1, jobs_kept=3,
                         egress=backup_job_egress(names, settings, pod.server),
                         opts=opts)

