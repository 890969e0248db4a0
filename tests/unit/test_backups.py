"""Backups: a CronJob that streams a donor's hot backup to the target, a binary log archive in
every pod, and the restore of an empty pod 0; all of it only when a backup target is set."""
from __future__ import annotations

from typing import Any

import pytest

from mysql_cluster import ConfigError

from stack_manifests import pod_template

from .conftest import container, find

S3 = {"backupTarget": "s3", "backupS3Endpoint": "http://s3.storage:8333",
      "backupS3Bucket": "db-backups", "backupS3Secret": "s3-keys"}
SCHEDULED = {**S3, "backupSchedule": "30 2 * * *"}
PVC = {"backupTarget": "pvc", "backupClaim": "backups", "backupSchedule": "@daily"}


@pytest.fixture(params=["mysql", "mariadb"])
def flavor(request) -> str:
    """Every behaviour here holds on both flavors unless a test names one."""
    return request.param


@pytest.fixture
def rendered(rendered, flavor):
    return lambda **config: rendered(**{"flavor": flavor, **config})


@pytest.fixture
def render(render, flavor):
    return lambda **config: render(**{"flavor": flavor, **config})


def names(containers: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in containers]


def job_pod(manifests) -> dict[str, Any]:
    return pod_template(find(manifests, "CronJob", "mysql-backup"))["spec"]


def stream(pod: dict[str, Any]) -> dict[str, Any]:
    """The Job's container that streams the backup (an init container, before backup-record)."""
    return next(c for c in pod["initContainers"] if c["name"] == "backup")


def env(spec: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in spec["env"]}


def clone_step(flavor: str) -> list[str]:
    """MariaDB's clone init container; a MySQL pod's agent clones into its server."""
    return ["clone-mysql"] if flavor == "mariadb" else []


def test_without_a_backup_target_the_cluster_has_no_backup_resources_or_containers(rendered, flavor):
    manifests = rendered()
    assert not [m for m in manifests if m["kind"] == "CronJob"]
    pod = find(manifests, "StatefulSet")["spec"]["template"]["spec"]
    assert names(pod["initContainers"]) == ["init-mysql", "donor", *clone_step(flavor)]
    # MariaDB's backup listener serves clones, whether or not backups are scheduled.
    assert names(pod["containers"]) == ["mysql", *(["backup"] if flavor == "mariadb" else []), "agent"]


def test_a_schedule_makes_one_cron_job_that_never_runs_two_backups_at_once(rendered):
    cron_job = find(rendered(**SCHEDULED), "CronJob", "mysql-backup")
    assert cron_job["metadata"]["name"] == "mysql-backup"
    assert (cron_job["spec"]["schedule"], cron_job["spec"]["timeZone"],
            cron_job["spec"]["concurrencyPolicy"]) == ("30 2 * * *", "Etc/UTC", "Forbid")
    assert job_pod(rendered(**SCHEDULED))["restartPolicy"] == "Never"


def test_the_job_copies_rclone_from_the_pinned_image_and_streams_in_the_backup_image(rendered):
    pod = job_pod(rendered(**SCHEDULED, backupImage="registry.example.com/backup:1.2.3"))
    [tools, backup] = pod["initContainers"]
    assert tools["image"] == "rclone/rclone:1.75.2"
    assert tools["command"] == ["cp", "/usr/local/bin/rclone", "/opt/mysql-cluster-tools/rclone"]
    assert backup["image"] == "registry.example.com/backup:1.2.3"
    assert backup["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_the_job_tries_the_replicas_from_the_last_one_and_the_primary_last(rendered):
    donors = env(stream(job_pod(rendered(**SCHEDULED, replicas=3))))["DONOR_HOSTS"]
    assert donors.split() == [f"mysql-{n}.mysql.mysql-dev.svc.cluster.local" for n in (2, 1, 0)]


def test_with_the_primary_moved_the_job_still_tries_it_last(rendered):
    manifests = rendered(**SCHEDULED, replicas=3, primaryOrdinal="1")
    donors = env(stream(job_pod(manifests)))["DONOR_HOSTS"]
    assert donors.split() == [f"mysql-{n}.mysql.mysql-dev.svc.cluster.local" for n in (2, 0, 1)]


def test_the_job_pod_is_no_endpoint_of_the_clusters_services(rendered):
    manifests = rendered(**SCHEDULED)
    labels = pod_template(find(manifests, "CronJob", "mysql-backup"))["metadata"]["labels"]
    services = [m for m in manifests if m["kind"] == "Service"]
    assert services
    for service in services:
        assert not all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def test_s3_keys_reach_the_pods_only_as_files_of_the_users_secret(rendered):
    manifests = rendered(**SCHEDULED, restoreFrom="latest")
    statefulset = find(manifests, "StatefulSet")
    specs = [stream(job_pod(manifests)), job_pod(manifests)["containers"][0],
             container(statefulset, "agent"), container(statefulset, "restore"),
             container(statefulset, "restore-plan")]
    for spec in specs:
        assert not [name for name in env(spec) if "KEY" in name], spec["name"]
        assert {"name": "target-credentials", "mountPath": "/etc/mysql-cluster/backup-target",
                "readOnly": True} in spec["volumeMounts"]
    volume = next(v for v in job_pod(manifests)["volumes"] if v["name"] == "target-credentials")
    assert volume["secret"]["secretName"] == "s3-keys"


def test_the_s3_remote_is_the_bucket_and_the_stack_namespace_and_cluster_by_default(rendered):
    values = env(stream(job_pod(rendered(**SCHEDULED))))
    assert (values["RCLONE_CONFIG_TARGET_TYPE"], values["RCLONE_CONFIG_TARGET_ENDPOINT"],
            values["BACKUP_REMOTE"]) == ("s3", "http://s3.storage:8333",
                                         "sealed:db-backups/dev/mysql-dev/mysql")


def test_two_clusters_of_one_stack_in_two_namespaces_get_two_prefixes(rendered):
    remotes = {env(stream(job_pod(rendered(**SCHEDULED, namespace=namespace))))["BACKUP_REMOTE"]
               for namespace in ("dev", "staging")}
    assert remotes == {"sealed:db-backups/dev/dev/mysql", "sealed:db-backups/dev/staging/mysql"}


def test_every_object_goes_through_rclone_crypt_over_the_target_with_names_in_clear(rendered):
    values = env(stream(job_pod(rendered(**SCHEDULED))))
    assert {key: value for key, value in values.items() if key.startswith("RCLONE_CONFIG_SEALED_")} == {
        "RCLONE_CONFIG_SEALED_TYPE": "crypt", "RCLONE_CONFIG_SEALED_REMOTE": "target:",
        "RCLONE_CONFIG_SEALED_FILENAME_ENCRYPTION": "off",
        "RCLONE_CONFIG_SEALED_DIRECTORY_NAME_ENCRYPTION": "false"}


def test_the_backup_key_is_generated_into_the_credentials_secret_and_mounted_alone(rendered):
    manifests = rendered(**SCHEDULED, restoreFrom="latest")
    secret = next(m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == "mysql-credentials")
    assert "backup-key" in secret.get("stringData", secret.get("data", {}))
    statefulset = find(manifests, "StatefulSet")
    for pod, spec in ((job_pod(manifests), stream(job_pod(manifests))),
                      (job_pod(manifests), job_pod(manifests)["containers"][0]),
                      (statefulset["spec"]["template"]["spec"], container(statefulset, "agent")),
                      (statefulset["spec"]["template"]["spec"], container(statefulset, "restore")),
                      (statefulset["spec"]["template"]["spec"], container(statefulset, "restore-plan"))):
        volume = next(v for v in pod["volumes"] if v["name"] == "backup-key")
        assert volume["secret"]["items"] == [{"key": "backup-key", "path": "backup-key"}]
        assert {"name": "backup-key", "mountPath": "/etc/mysql-cluster/backup-key",
                "readOnly": True} in spec["volumeMounts"]
        assert env(spec)["CRYPT_PASSWORD_FILE"] == "/etc/mysql-cluster/backup-key/backup-key"


def test_without_a_backup_target_no_backup_key_is_generated(rendered):
    secret = next(m for m in rendered() if m["kind"] == "Secret" and m["metadata"]["name"] == "mysql-credentials")
    assert "backup-key" not in secret.get("stringData", secret.get("data", {}))


def test_the_pvc_target_is_the_mounted_claim_through_rclones_local_backend(rendered):
    pod = job_pod(rendered(**PVC, backupPrefix="shop/orders"))
    values = env(stream(pod))
    assert (values["RCLONE_CONFIG_TARGET_TYPE"], values["BACKUP_REMOTE"]) == (
        "local", "sealed:/backup-target/shop/orders")
    assert {"name": "target", "persistentVolumeClaim": {"claimName": "backups"}} in pod["volumes"]


def test_every_pods_agent_runs_the_binary_log_archive_which_rotates_at_the_configured_interval(rendered, flavor):
    statefulset = find(rendered(**S3, binlogArchiveIntervalSeconds="60"), "StatefulSet")
    assert names(statefulset["spec"]["template"]["spec"]["containers"]) == [
        "mysql", *(["backup"] if flavor == "mariadb" else []), "agent"]
    agent = container(statefulset, "agent")
    assert env(agent)["ARCHIVE_INTERVAL_SECONDS"] == "60"
    # rclone from the rclone-tools init container; the data volume, where the index and the logs are.
    assert env(agent)["RCLONE"] == "/opt/mysql-cluster-tools/rclone"
    assert {"name": "tools", "mountPath": "/opt/mysql-cluster-tools", "readOnly": True} in agent["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in agent["volumeMounts"]


def test_the_agent_uploads_one_part_of_a_binary_log_at_a_time_to_s3(rendered):
    agent = container(find(rendered(**S3), "StatefulSet"), "agent")
    assert env(agent)["RCLONE_CONFIG_TARGET_UPLOAD_CONCURRENCY"] == "1"


def test_without_a_backup_target_the_agent_archives_nothing_and_reaches_no_target(rendered):
    agent = container(find(rendered(), "StatefulSet"), "agent")
    assert not {"BACKUP_REMOTE", "ARCHIVE_INTERVAL_SECONDS", "RCLONE", "CRYPT_PASSWORD_FILE"} & set(env(agent))
    assert not {"tools", "backup-key", "target-credentials"} & {m["name"] for m in agent["volumeMounts"]}


def test_a_restore_runs_after_the_clone_step_and_before_the_server(rendered, flavor):
    pod = find(rendered(**S3, restoreFrom="latest"), "StatefulSet")["spec"]["template"]["spec"]
    assert names(pod["initContainers"]) == [
        "init-mysql", "donor", *clone_step(flavor), "rclone-tools", "restore-plan", "restore", "replay-plan", "restore-replay"]


def test_a_restore_from_another_prefix_reads_that_prefix_of_the_same_target(rendered):
    statefulset = find(rendered(**S3, restoreFrom="orders/20260101T023000Z",
                                restoreTo="2026-01-01T12:00:00Z"), "StatefulSet")
    values = env(container(statefulset, "restore"))
    assert (values["RESTORE_REMOTE"], values["RESTORE_NAME"], values["RESTORE_TO"]) == (
        "sealed:db-backups/orders", "20260101T023000Z", "2026-01-01T12:00:00Z")
    assert values["RESTORE_ANY_CLUSTER"] == "true"  # the user named the prefix
    assert container(statefulset, "restore-replay")["image"] == container(statefulset, "mysql")["image"]


def test_a_restore_without_a_prefix_reads_this_clusters_own_backups_only(rendered):
    values = env(container(find(rendered(**S3, restoreFrom="latest"), "StatefulSet"), "restore"))
    assert (values["RESTORE_REMOTE"], values["RESTORE_ANY_CLUSTER"], values["CLUSTER_NAME"]) == (
        "sealed:db-backups/dev/mysql-dev/mysql", "false", "mysql")


@pytest.mark.parametrize("throttle, mib", [("0", "0"), ("1048576", "1"), ("1048577", "2")])
def test_the_throttle_reaches_the_backup_sidecar_in_whole_mib_rounded_up(rendered, throttle, mib):
    sidecar = container(find(rendered(flavor="mariadb", backupThrottleBytesPerSecond=throttle), "StatefulSet"),
                        "backup")
    assert env(sidecar)["BACKUP_THROTTLE_MIB"] == mib


@pytest.mark.parametrize("config, key", [
    ({"backupSchedule": "@daily"}, "backupSchedule"),
    ({"restoreFrom": "latest"}, "restoreFrom"),
    ({"backupTarget": "s3", "backupS3Secret": "keys"}, "backupS3Bucket"),
    ({"backupTarget": "s3", "backupS3Bucket": "db-backups"}, "backupS3Secret"),
    ({"backupTarget": "pvc"}, "backupClaim"),
    ({**S3, "restoreTo": "latest"}, "restoreTo"),
])
def test_backup_keys_that_need_others_are_refused_naming_the_key(render, config, key):
    with pytest.raises(ConfigError) as caught:
        render(**config)
    assert caught.value.setting.key == key
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("flavor, target, own_form", [
    ("mysql", "0-1-5", "a MySQL GTID such as 3e11fa47-71ca-11e1-9e33-c80aa9000100:23"),
    ("mariadb", "3e11fa47-71ca-11e1-9e33-c80aa9000100:23", "a MariaDB GTID position such as 0-100-4711"),
])
def test_a_restore_target_in_the_other_flavors_gtid_form_is_refused_naming_this_flavors_forms(
        render, flavor, target, own_form):
    with pytest.raises(ConfigError) as caught:
        render(**{**S3, "flavor": flavor, "restoreFrom": "latest", "restoreTo": target})
    message = str(caught.value)
    assert caught.value.setting.key == "restoreTo" and "\n" not in message
    assert "a UTC time such as 2026-01-01T12:00:00Z" in message and own_form in message, message
    other = {"mysql": "MariaDB", "mariadb": "MySQL"}[flavor]
    assert f"that GTID form is {other}'s" in message and f"a {other} GTID" not in message, message


@pytest.mark.parametrize("flavor, target", [("mysql", "3e11fa47-71ca-11e1-9e33-c80aa9000100:23"),
                                            ("mariadb", "0-100-4711")])
def test_a_restore_target_in_the_flavors_own_gtid_form_reaches_the_replay(rendered, flavor, target):
    statefulset = find(rendered(**{**S3, "flavor": flavor, "restoreFrom": "latest", "restoreTo": target}),
                       "StatefulSet")
    env = {entry["name"]: entry.get("value") for entry in container(statefulset, "restore-replay")["env"]}
    assert env["RESTORE_TO"] == target


@pytest.mark.parametrize("flavor, backup_format", [("mysql", "tar"), ("mariadb", "xbstream")])
def test_every_backup_container_knows_what_a_backup_object_holds(rendered, backup_format):
    manifests = rendered(**SCHEDULED, restoreFrom="latest")
    statefulset = find(manifests, "StatefulSet")
    for spec in (stream(job_pod(manifests)), container(statefulset, "agent"),
                 container(statefulset, "restore")):
        assert env(spec)["BACKUP_FORMAT"] == backup_format


@pytest.mark.parametrize("flavor", ["mysql"])
def test_a_mysql_backup_clones_into_a_scratch_volume_as_large_as_the_data_volume(rendered):
    pod = job_pod(rendered(**SCHEDULED, storageSize="50Gi"))
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "50Gi"}} in pod["volumes"]
    backup = stream(pod)
    assert env(backup)["SCRATCH_DIR"] == "/var/lib/mysql-cluster-scratch"
    assert {"name": "scratch", "mountPath": "/var/lib/mysql-cluster-scratch"} in backup["volumeMounts"]
    assert backup["image"] == "mysql:9.7.1"  # the server's own CLONE plugin, no XtraBackup image
    assert backup["command"] == ["bash", "/opt/mysql-cluster/scripts/backup-clone.sh"]


@pytest.mark.parametrize("flavor", ["mariadb"])
def test_a_mariadb_backup_streams_from_the_donor_with_nothing_staged_on_a_disk(rendered):
    pod = job_pod(rendered(**SCHEDULED))
    assert "scratch" not in names(pod["volumes"])
    assert "SCRATCH_DIR" not in env(pod["containers"][0])
    assert stream(pod)["command"] == ["bash", "/opt/mysql-cluster/scripts/backup-job.sh"]


def test_the_stream_hands_its_results_to_a_python_step_that_writes_the_manifest_and_retains(rendered):
    pod = job_pod(rendered(**SCHEDULED, backupRetentionCount="5", backupRetentionDays="9"))
    [record] = pod["containers"]
    assert record["name"] == "backup-record"
    assert record["command"] == ["python3", "-m", "mysql_cluster_agent", "backup-record"]
    assert (env(record)["RETENTION_COUNT"], env(record)["RETENTION_DAYS"]) == ("5", "9")
    result = {"name": "backup-result", "mountPath": "/run/mysql-cluster-backup-result"}
    assert {**result, "readOnly": True} in record["volumeMounts"]
    assert result in stream(pod)["volumeMounts"]
    assert env(stream(pod))["RESULT_DIR"] == env(record)["RESULT_DIR"] == result["mountPath"]
    assert {"name": "backup-result", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    assert "RETENTION_COUNT" not in env(stream(pod)) and "DONOR_HOSTS" not in env(record)
    # rclone from the tools volume, the target's keys and the backup key as files.
    assert {"name": "tools", "mountPath": "/opt/mysql-cluster-tools", "readOnly": True} in record["volumeMounts"]
    assert env(record)["CRYPT_PASSWORD_FILE"] == "/etc/mysql-cluster/backup-key/backup-key"
    assert "agent" in names(pod["volumes"])


def test_the_restore_plan_runs_in_python_and_hands_restore_sh_its_values_in_memory(rendered):
    statefulset = find(rendered(**S3, restoreFrom="latest", restoreTo="latest"), "StatefulSet")
    plan, restore = container(statefulset, "restore-plan"), container(statefulset, "restore")
    assert plan["command"] == ["python3", "-m", "mysql_cluster_agent", "restore-plan"]
    plan_dir = {"name": "restore-plan", "mountPath": "/run/mysql-cluster-restore-plan"}
    assert plan_dir in plan["volumeMounts"] and {**plan_dir, "readOnly": True} in restore["volumeMounts"]
    assert env(plan)["PLAN_DIR"] == env(restore)["PLAN_DIR"] == plan_dir["mountPath"]
    assert {"name": "data", "mountPath": "/data"} in plan["volumeMounts"]
    volumes = statefulset["spec"]["template"]["spec"]["volumes"]
    assert {"name": "restore-plan", "emptyDir": {"medium": "Memory"}} in volumes
    for key in ("RESTORE_REMOTE", "RESTORE_NAME", "RESTORE_TO", "RESTORE_ANY_CLUSTER", "CLUSTER_NAME"):
        assert env(plan)[key] == env(restore)[key]


@pytest.mark.parametrize("flavor, command, image", [
    ("mysql", ["python3", "-m", "mysql_cluster_agent", "restore-tar"], "python:"),
    ("mariadb", ["bash", "/opt/mysql-cluster/scripts/restore.sh"], "mariadb:")])
def test_a_mysql_backup_is_restored_in_python_and_a_mariadb_one_by_restore_sh_in_the_backup_image(
        rendered, command, image):
    # A clone's tar needs no preparing: the agent streams, checks and extracts it (restore_tar.py).
    restore = container(find(rendered(**S3, restoreFrom="latest"), "StatefulSet"), "restore")
    assert restore["command"] == command
    assert restore["image"].startswith(image)
    assert {"name": "restore-plan", "mountPath": "/run/mysql-cluster-restore-plan", "readOnly": True} in \
        restore["volumeMounts"]
