"""A CronJob of the cluster: the backup's and the restore drill's, alike in all but their pod,
schedule, retries, how many finished Jobs they keep and where their pods may connect."""
from __future__ import annotations

from typing import Sequence

import pulumi
from pulumi_kubernetes.batch import v1 as batch
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.networking import v1 as networking

from .names import ClusterNames
from .network_policy import job_network_policy_spec


def scheduled_job(resource_name: str, names: ClusterNames, name: str, labels: dict[str, str],
                  schedule: str, template: core.PodTemplateSpecArgs, backoff_limit: int,
                  jobs_kept: int, egress: Sequence[networking.NetworkPolicyEgressRuleArgs],
                  opts: pulumi.ResourceOptions) -> batch.CronJob:
    """CronJob `name` running `template` on `schedule` (UTC), one run at a time: a slow run is
    not joined by the next; `jobs_kept` finished Jobs of each outcome are kept. Its pods get a
    NetworkPolicy of the same name: nothing connects to them, and they connect only to `egress`."""
    networking.NetworkPolicy(
        f"{resource_name}-network-policy",
        metadata=meta.ObjectMetaArgs(name=name, namespace=names.namespace, labels=labels),
        spec=job_network_policy_spec(labels, egress),
        opts=opts)
    return batch.CronJob(
        resource_name,
        metadata=meta.ObjectMetaArgs(name=name, namespace=names.namespace, labels=labels),
        spec=batch.CronJobSpecArgs(
            schedule=schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",
            starting_deadline_seconds=3600,
            successful_jobs_history_limit=jobs_kept,
            failed_jobs_history_limit=jobs_kept,
            job_template=batch.JobTemplateSpecArgs(
                metadata=meta.ObjectMetaArgs(labels=labels),
                spec=batch.JobSpecArgs(backoff_limit=backoff_limit, template=template),
            ),
        ),
        opts=opts,
    )
