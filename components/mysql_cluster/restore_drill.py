"""The restore drill: a CronJob whose pod proves that the newest backup and the archived binary
logs restore, without touching the cluster.

Its pod reuses the restore of pod 0 (backups.py: restore.sh fetches, checks and prepares the
newest backup and fetches its history's archived binary logs; restore-replay.sh replays them into
a server without networking) on a scratch volume of its own, an ephemeral claim the size of a data
volume, deleted with the pod. Between the two, restore-drill-plan.sh proves that the archived logs
form one chain from the backup on and records where the replay must end; after them,
restore-drill.sh starts the scratch server once more and checks that it started clean, reached
that position and reads every table whole. The Job succeeds only then: its outcome is what the
alerts read (alerts.py, through kube-state-metrics).

The pod holds the backup key and the target's keys, no password of the cluster: its scratch
server gets a root password of its own, and it connects to no pod of the cluster.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import pulumi
from pulumi_kubernetes.batch import v1 as batch
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from .backups import BackupTarget, _restore, _rclone_tools
from .pod_spec import PodContainer, PodSettings, pod_template
from .pod_template import (
    CLIENT_OPTIONS_DIR, CONF_DIR, DATA_VOLUME_MOUNT, SERVER_DATADIR, DATA_SUBDIR, _cluster_env,
    _container_security, _env, _mount, server_tls_files,
)
from .scripts_config_map import script_command, scripts_mount, scripts_volume

# restore.sh restores into pod 0 of a StatefulSet only; the scratch server is the one pod of its
# own, so the drill names it so.
SCRATCH_STATEFULSET = "restore-drill"
# Where the scratch server's own root password is written (memory-backed, with the option files).
SCRATCH_SECRETS_DIR = f"{CLIENT_OPTIONS_DIR}/scratch-secrets"
# The ConfigMap's server options every replica starts with (server_config.py): the scratch server
# reads the backup with the cluster's own InnoDB settings.
SERVER_OPTIONS_FILE = "replica.cnf"


def _drill_env(pod: PodSettings) -> list[core.EnvVarArgs]:
    """The cluster's environment for the scripts, but naming the scratch server and its own
    secrets (the drill talks to no server of the cluster, and holds none of its passwords)."""
    replaced = ("POD_NAME", "STATEFULSET_NAME", "SECRETS_DIR")
    return [var for var in _cluster_env(pod) if var.name not in replaced] + [
        _env("POD_NAME", f"{SCRATCH_STATEFULSET}-0"),
        _env("STATEFULSET_NAME", SCRATCH_STATEFULSET),
        _env("SECRETS_DIR", SCRATCH_SECRETS_DIR),
    ]


def _server_container(pod: PodSettings, name: str, script: str, env: list[core.EnvVarArgs],
                      runs_server: bool) -> PodContainer:
    """A step in the server image on the scratch data; one that runs the server reads the
    certificate its options name (it serves nothing: the server runs without networking)."""
    return PodContainer(core.ContainerArgs(
        name=name,
        image=pod.server_image,
        command=script_command(script),
        env=env,
        volume_mounts=[_mount("data", SERVER_DATADIR, sub_path=DATA_SUBDIR),
                       _mount("data", DATA_VOLUME_MOUNT), _mount("conf", CONF_DIR, read_only=True),
                       _mount("tmp", "/tmp"), _mount("run", "/var/run/mysqld"),
                       _mount("client-options", CLIENT_OPTIONS_DIR), scripts_mount()],
        resources=pod.resources("server"),
        security_context=_container_security(),
        termination_message_policy="FallbackToLogsOnError",
    ), also_reads=server_tls_files(pod) if runs_server else frozenset())


def _volumes(pod: PodSettings, target: BackupTarget) -> list[core.VolumeArgs]:
    settings = pod.settings
    scratch = core.EphemeralVolumeSourceArgs(volume_claim_template=core.PersistentVolumeClaimTemplateArgs(
        metadata=meta.ObjectMetaArgs(labels=pod.names.restore_drill_labels),
        spec=core.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            storage_class_name=settings.storage_class or None,
            # The backup is at most the data it was taken of, and the archived binary logs at
            # most what the data volume keeps of them: a data volume holds both.
            resources=core.VolumeResourceRequirementsArgs(requests={"storage": settings.storage_size}))))
    memory = core.EmptyDirVolumeSourceArgs(medium="Memory")
    return [
        core.VolumeArgs(name="data", ephemeral=scratch),
        core.VolumeArgs(name="conf", config_map=core.ConfigMapVolumeSourceArgs(
            name=pod.config_map_name,
            items=[core.KeyToPathArgs(key=SERVER_OPTIONS_FILE, path=SERVER_OPTIONS_FILE)])),
        core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs()),
        core.VolumeArgs(name="run", empty_dir=core.EmptyDirVolumeSourceArgs()),
        core.VolumeArgs(name="client-options", empty_dir=memory),
        scripts_volume(pod.scripts_config_map_name),
        *target.volumes(),
    ]


def restore_drill_cron_job(resource_name: str, pod: PodSettings,
                           opts: pulumi.ResourceOptions) -> Optional[batch.CronJob]:
    settings, names = pod.settings, pod.names
    if not (settings.backup_schedule and settings.restore_drill_schedule):
        return None
    target = BackupTarget(pod)
    env = _drill_env(pod)
    # The newest of this cluster's backups, replayed to the end of the archive.
    restore, replay = _restore(replace(pod, settings=replace(
        settings, restore_from="latest", restore_to="latest")), target, env)
    plan = _server_container(pod, "restore-drill-plan", "restore-drill-plan.sh", env,
                             runs_server=False)
    verify = _server_container(pod, "restore-drill", "restore-drill.sh", env, runs_server=True)
    template = pod_template(
        pod, names.restore_drill_labels,
        init_containers=[PodContainer(_rclone_tools(pod)), restore, plan, replay],
        containers=[verify],
        volumes=_volumes(pod, target),
        restart_policy="Never",
        passwords=False,
    )
    return batch.CronJob(
        resource_name,
        metadata=meta.ObjectMetaArgs(name=names.restore_drill_cron_job, namespace=names.namespace,
                                     labels=names.restore_drill_labels),
        spec=batch.CronJobSpecArgs(
            schedule=settings.restore_drill_schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",
            starting_deadline_seconds=3600,
            # A finished Job keeps its pod, and the pod its scratch claim: one of each outcome
            # is kept (the newest failure is what MySQLClusterRestoreDrillFailed reads).
            successful_jobs_history_limit=1,
            failed_jobs_history_limit=1,
            job_template=batch.JobTemplateSpecArgs(
                metadata=meta.ObjectMetaArgs(labels=names.restore_drill_labels),
                spec=batch.JobSpecArgs(
                    # A failed drill is a verdict, not a hiccup to retry: the alert must see it.
                    backoff_limit=0,
                    template=template,
                ),
            ),
        ),
        opts=opts,
    )
