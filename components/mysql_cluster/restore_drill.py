"""The restore drill: a CronJob whose pod proves that the newest backup and the archived binary
logs restore, without touching the cluster.

Its pod reuses the restore of pod 0 (backups.py: the agent's restore-plan chooses and checks the
newest backup and fetches its history's archived binary logs, restore.sh (MariaDB) or the agent's
restore-tar (MySQL) fetches, checks and prepares it; replay-plan and restore-replay.sh
replay them into a server without networking) on a scratch volume of its own, an ephemeral claim
the size of a data volume, deleted with the pod. Between the two, the agent's drill-plan
(mysql_cluster_agent/restore_drill.py) proves that the archived logs form one chain from the backup
on and records which transactions the replay must apply and where it must end; after them,
restore-drill.sh starts the scratch server once more, checks that it starts clean, and writes what
it printed for CHECKSUM TABLE on every table, for its GTID state and for pt-table-checksum's table;
the agent's drill-verdict then checks that every table read whole, that the server reached that
position, logged exactly those transactions, and that pt-table-checksum's rounds on the primary,
which the replay recomputed, found the data equal to the source's. The Job succeeds only then: its outcome is what the alerts read (alerts.py,
through kube-state-metrics).

The pod holds the backup key and the target's keys, no password of the cluster: its scratch
server gets a root password of its own, and it connects to no pod of the cluster.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Optional

import pulumi
from pulumi_kubernetes.batch import v1 as batch
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from mysql_cluster_agent import restore_drill as drill

from .agent_config_map import agent_volume
from .agent_container import agent_step_container
from .backups import BackupTarget, _rclone_tools, _restore, restore_volumes
from .network_policy import restore_drill_egress
from .pod_spec import PodContainer, PodSettings, pod_template
from .pod_template import CLIENT_OPTIONS_DIR, DATA_VOLUME_MOUNT, _cluster_env, _env, _mount
from .scheduled_job import scheduled_job
from .scripts_config_map import script_command, scripts_volume

# The restore plan restores into pod 0 of a StatefulSet only; the scratch server is the one pod of its
# own, so the drill names it so.
SCRATCH_STATEFULSET = "restore-drill"
# Where the scratch server's own root password is written (memory-backed, with the option files).
SCRATCH_SECRETS_DIR = f"{CLIENT_OPTIONS_DIR}/scratch-secrets"
# Where drill-plan leaves the statement that reads the GTID state and restore-drill.sh what the
# verdict compares (mysql_cluster_agent/restore_drill.py's RESULTS_DIR).
RESULTS_DIR = f"{DATA_VOLUME_MOUNT}/{drill.RESULTS_DIR}"
# The ConfigMap's server options every replica starts with (server_option_files.py): the scratch server
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


def _scratch_server_step(replay: PodContainer, env: list[core.EnvVarArgs]) -> PodContainer:
    """restore-drill.sh in the server image on the scratch data, as restore-replay runs: it
    reads the certificate its options name (it serves nothing: the server runs without
    networking)."""
    args = copy.copy(replay.args)
    args.name, args.command = "restore-drill-server", script_command("restore-drill.sh")
    args.env = [*env, _env("DRILL_RESULTS_DIR", RESULTS_DIR)]
    return PodContainer(args, also_reads=replay.also_reads)


def _agent_step(pod: PodSettings, env: list[core.EnvVarArgs], name: str, command: str) -> PodContainer:
    """A step of the drill in Python: it reads the scratch volume (the archive, the scratch
    server's binary logs) and writes the scratch server's password."""
    step = agent_step_container(pod, name, command, env, [
        _mount("data", DATA_VOLUME_MOUNT), _mount("client-options", CLIENT_OPTIONS_DIR)])
    step.termination_message_policy = "FallbackToLogsOnError"
    return PodContainer(step)


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
        agent_volume(pod.agent_config_map_name),
        *restore_volumes(),
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
    restore_plan, restore, replay_plan, replay = _restore(replace(pod, settings=replace(
        settings, restore_from="latest", restore_to="latest")), target, env)
    template = pod_template(
        pod, names.restore_drill_labels,
        init_containers=[PodContainer(_rclone_tools(pod)), restore_plan, restore,
                         _agent_step(pod, env, "restore-drill-plan", "drill-plan"), replay_plan, replay,
                         _scratch_server_step(replay, env)],
        containers=[_agent_step(pod, env, "restore-drill", "drill-verdict")],
        volumes=_volumes(pod, target),
        restart_policy="Never",
        passwords=False,
    )
    # A failed drill is a verdict, not a hiccup to retry: the alert must see it. A finished Job
    # keeps its pod, and the pod its scratch claim: one of each outcome is kept (the newest
    # failure is what MySQLClusterRestoreDrillFailed reads).
    return scheduled_job(resource_name, names, names.restore_drill_cron_job,
                         names.restore_drill_labels, settings.restore_drill_schedule, template,
                         backoff_limit=0, jobs_kept=1,
                         egress=restore_drill_egress(settings), opts=opts)
