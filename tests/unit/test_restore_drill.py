"""The restore drill: a CronJob `<cluster>-restore-drill` (the alerts' contract) whose pod restores
the newest backup onto a scratch ephemeral volume the size of a data volume, with none of the
cluster's passwords; on by default when backups are scheduled."""
from __future__ import annotations

import pytest

from mysql_cluster import ConfigError
from stack_manifests import mounted_secret_files

from stack_manifests import pod_template

from .conftest import find
from .test_schema_validation import VERSIONS, schema_problems

S3 = {"flavor": "mariadb", "backupTarget": "s3", "backupS3Endpoint": "http://s3.storage:8333",
      "backupS3Bucket": "db-backups", "backupS3Secret": "s3-keys", "backupSchedule": "30 2 * * *"}


def drill(manifests):
    return find(manifests, "CronJob", "mysql-restore-drill")


def drill_pod(manifests):
    return pod_template(drill(manifests))["spec"]


def test_scheduled_backups_bring_a_daily_drill_that_never_overlaps_or_retries(rendered):
    cron_job = drill(rendered(**S3))
    assert (cron_job["spec"]["schedule"], cron_job["spec"]["timeZone"],
            cron_job["spec"]["concurrencyPolicy"]) == ("30 14 * * *", "Etc/UTC", "Forbid")
    assert cron_job["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0


def test_the_drill_follows_its_own_schedule_and_an_empty_one_turns_it_off(rendered):
    assert drill(rendered(**S3, restoreDrillSchedule="0 6 * * 1"))["spec"]["schedule"] == "0 6 * * 1"
    assert [m for m in rendered(**S3, restoreDrillSchedule="") if m["kind"] == "CronJob"
            and m["metadata"]["name"] == "mysql-restore-drill"] == []


def test_without_scheduled_backups_there_is_no_drill(rendered):
    manifests = rendered(**{**S3, "backupSchedule": ""})
    assert not [m for m in manifests if m["kind"] == "CronJob"]


def test_a_schedule_that_never_fires_is_refused_naming_the_key(rendered):
    with pytest.raises(ConfigError, match="restoreDrillSchedule.*no scheduled restore drills"):
        rendered(**S3, restoreDrillSchedule="0 0 31 2 *")


def test_the_pod_restores_then_checks_the_chain_then_replays_then_proves(rendered):
    pod = drill_pod(rendered(**S3))
    assert [c["name"] for c in pod["initContainers"]] == [
        "rclone-tools", "restore-plan", "restore", "restore-drill-plan", "replay-plan", "restore-replay",
        "restore-drill-server"]
    assert [c["name"] for c in pod["containers"]] == ["restore-drill"]
    assert pod["restartPolicy"] == "Never"
    assert all(c["terminationMessagePolicy"] == "FallbackToLogsOnError"
               for c in pod["initContainers"][1:] + pod["containers"])


def test_the_scratch_volume_is_an_ephemeral_claim_as_large_as_a_data_volume(rendered):
    [data] = [v for v in drill_pod(rendered(**S3, storageSize="50Gi", storageClass="fast"))["volumes"]
              if v["name"] == "data"]
    spec = data["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert (spec["resources"]["requests"]["storage"], spec["storageClassName"]) == ("50Gi", "fast")


def test_the_drill_gets_no_password_of_the_cluster_and_names_no_pod_of_it(rendered):
    pod = drill_pod(rendered(**S3))
    assert not [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "mysql-credentials"
                and any(item["key"] != "backup-key" for item in v["secret"].get("items", []))]
    for container in pod["initContainers"] + pod["containers"]:
        values = {var["name"]: var.get("value") for var in container.get("env", [])}
        assert "DONOR_HOSTS" not in values and values.get("POD_NAME", "restore-drill-0") == "restore-drill-0"


def test_the_drill_pod_is_no_endpoint_of_the_clusters_services(rendered):
    manifests = rendered(**S3)
    labels = pod_template(drill(manifests))["metadata"]["labels"]
    services = [m for m in manifests if m["kind"] == "Service"]
    assert services
    for service in services:
        assert not all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


@pytest.mark.parametrize("kubernetes", VERSIONS)
def test_the_drill_cron_job_validates_strictly(rendered, kubernetes):
    assert schema_problems([drill(rendered(**S3, storageClass="fast"))], kubernetes) == []


def secret_files(manifests, container: str) -> set[str]:
    return {f"{path}/{key}" for path, (_, keys) in mounted_secret_files(drill_pod(manifests), container).items()
            for key in keys or ["*"]}


def test_the_drill_plan_and_verdict_run_in_the_agent_and_read_no_certificate_key(rendered):
    # They read files only: the archive and the scratch server's binary logs (restore_drill.py).
    manifests = rendered(**{**S3, "flavor": "mysql", "version": "9.7"})
    pod = drill_pod(manifests)
    for step, command in (("restore-drill-plan", "drill-plan"), ("restore-drill", "drill-verdict")):
        [container] = [c for c in pod["initContainers"] + pod["containers"] if c["name"] == step]
        assert container["command"][-1] == command
        assert "/etc/mysql-cluster/tls/tls.key" not in secret_files(manifests, step)


def test_the_scratch_server_step_reads_the_certificate_its_options_name_as_the_replay_does(rendered):
    manifests = rendered(**{**S3, "flavor": "mysql", "version": "9.7"})
    assert "/etc/mysql-cluster/tls/tls.key" in secret_files(manifests, "restore-drill-server")
    assert secret_files(manifests, "restore-drill-server") == secret_files(manifests, "restore-replay")
