"""The restore plan's choice of a backup and its checks of the manifest: the refusals the
restore's users read, table-tested; and what it hands restore.sh and the replay, against a real
rclone on a local target."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mysql_cluster_agent.backup_manifest import Manifest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.rclone_target import RcloneTarget
from mysql_cluster_agent.restore_handover import read_handover
from mysql_cluster_agent.restore_plan import Refused, RestoreSettings, check_manifest, choose_backup, plan

from .test_rclone_target import target_env

OURS = ("shop", "mysql")
SETTINGS = RestoreSettings(remote="sealed:b/shop/mysql", requested="latest", any_cluster=False, restore_to="",
                           cluster="mysql", namespace="shop", flavor=Flavor.MARIADB, version="11.8",
                           format="xbstream")
MANIFEST = Manifest(name="20260102T000000Z", cluster="mysql", namespace="shop", flavor=Flavor.MARIADB,
                    server_version="11.8.9-MariaDB", start_time="2026-01-02T00:00:00Z",
                    end_time="2026-01-02T00:01:00Z", gtid="0-100-42", size_bytes=10, sha256="a" * 64,
                    donor="mysql-1", binlog_history="20260101T000000Z", format="xbstream")
OWNERS = {"20260101T000000Z": OURS, "20260102T000000Z": OURS, "20260103T000000Z": ("prod", "mysql"),
          "20260104T000000Z": None}


@pytest.mark.parametrize(("settings", "chosen"), [
    (SETTINGS, "20260102T000000Z"),  # the newest of this cluster's
    (replace(SETTINGS, any_cluster=True), "20260104T000000Z"),  # the newest under a prefix restoreFrom names
    (replace(SETTINGS, requested="20260101T000000Z"), "20260101T000000Z"),
])
def test_the_backup_chosen(settings, chosen):
    assert choose_backup(settings, sorted(OWNERS), OWNERS.get) == chosen


@pytest.mark.parametrize(("settings", "complete", "refusal"), [
    (SETTINGS, ["20260103T000000Z"], "restoreFrom: there is no complete backup of this cluster under "
                                     "sealed:b/shop/mysql/backups; take one, or point restoreFrom at another prefix"),
    (SETTINGS, [], "there is no complete backup of this cluster"),
    (replace(SETTINGS, requested="../x"), [], "restoreFrom's backup name is not well-formed ('../x')"),
])
def test_no_backup_to_choose_is_refused(settings, complete, refusal):
    with pytest.raises(Refused, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        choose_backup(settings, complete, OWNERS.get)


@pytest.mark.parametrize(("settings", "manifest", "refusal"), [
    (SETTINGS, replace(MANIFEST, namespace="prod"),
     "backup 20260102T000000Z belongs to cluster prod/mysql, not to this one (shop/mysql); to restore another "
     "cluster's backup, name its prefix in restoreFrom (e.g. <prefix>/20260102T000000Z)"),
    (SETTINGS, replace(MANIFEST, namespace=None), "belongs to cluster <no namespace>/mysql"),
    (SETTINGS, replace(MANIFEST, flavor=Flavor.MYSQL, gtid="3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"),
     "backup 20260102T000000Z is of a mysql server and this cluster runs mariadb, which cannot read its data; "
     "restore it into a mysql cluster, or choose a mariadb backup"),
    (SETTINGS, replace(MANIFEST, server_version="12.1.2-MariaDB"),
     "backup 20260102T000000Z was taken by mariadb 12.1.2-MariaDB, newer than this cluster's 11.8, which cannot "
     "read it; set version to 12.1 or newer"),
    (SETTINGS, replace(MANIFEST, server_version="11.9.0"), "set version to 11.9 or newer"),
    (replace(SETTINGS, restore_to="latest"), replace(MANIFEST, binlog_history=""),
     "backup 20260102T000000Z was taken while no binary logs were archived, so it cannot be rolled forward; "
     "set restoreTo to \"\" or choose a later backup"),
    (SETTINGS, replace(MANIFEST, gtid="3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"),
     "the manifest of backup 20260102T000000Z: its gtid is not a mariadb GTID state"),
    (SETTINGS, replace(MANIFEST, gtid=""), "backup 20260102T000000Z does not say which GTID position it holds"),
    (SETTINGS, replace(MANIFEST, format="tar"), "holds a tar stream, and this cluster restores xbstream"),
])
def test_a_backup_this_cluster_must_not_restore_is_refused(settings, manifest, refusal):
    with pytest.raises(Refused) as refused:
        check_manifest(settings, manifest)
    assert refusal in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("manifest", [MANIFEST, replace(MANIFEST, server_version="10.11.9"),
                                      replace(MANIFEST, server_version="11.8.1")])
def test_an_own_backup_of_this_or_an_older_version_may_be_restored(manifest):
    assert check_manifest(SETTINGS, manifest) == []


def test_another_clusters_backup_under_a_named_prefix_is_restored_saying_whose():
    notes = check_manifest(replace(SETTINGS, any_cluster=True), replace(MANIFEST, namespace="prod"))
    assert notes == ["restoring backup 20260102T000000Z of cluster prod/mysql, whose prefix restoreFrom names"]


def plan_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    for directory in ("data", "plan", "bucket"):
        (tmp_path / directory).mkdir(exist_ok=True)
    return {**target_env(tmp_path), "RESTORE_REMOTE": f"sealed:{tmp_path}/bucket/shop/mysql",
            "RESTORE_NAME": "latest", "RESTORE_ANY_CLUSTER": "false", "RESTORE_TO": "latest",
            "CLUSTER_NAME": "mysql", "CLUSTER_NAMESPACE": "shop", "DB_FLAVOR": "mariadb", "DB_VERSION": "11.8",
            "BACKUP_FORMAT": "xbstream", "POD_NAME": "mysql-0", "STATEFULSET_NAME": "mysql",
            "DATA_VOLUME": str(tmp_path / "data"), "DATA_SUBDIR": "mysql", "PLAN_DIR": str(tmp_path / "plan"),
            **changes}


def test_the_plan_hands_restore_sh_the_object_and_the_replay_its_hand_over_and_binary_logs(tmp_path):
    env = plan_env(tmp_path)
    target = RcloneTarget.from_env(env)
    remote = env["RESTORE_REMOTE"]
    target.rcat(f"{remote}/backups/{MANIFEST.name}/manifest.json", MANIFEST.to_json().encode())
    target.rcat(f"{remote}/binlogs/{MANIFEST.binlog_history}/mysql-bin.000001", b"log")
    target.rcat(f"{remote}/binlogs/{MANIFEST.binlog_history}/started", b"")
    plan(env)
    values = {path.name: path.read_text().strip() for path in (tmp_path / "plan").iterdir()}
    assert values == {"object": f"{remote}/backups/{MANIFEST.name}/backup.xbstream", "sha256": "a" * 64,
                      "format": "xbstream", "name": MANIFEST.name, "gtid": "0-100-42", "end": MANIFEST.end_time}
    handover = read_handover(tmp_path / "data", Flavor.MARIADB)
    assert handover is not None and (handover.backup, handover.gtid, handover.restore_to) == (
        MANIFEST.name, "0-100-42", "latest")
    assert [p.name for p in (tmp_path / "data" / "restore-binlogs").iterdir()] == ["mysql-bin.000001"]


@pytest.mark.parametrize("changes", [{"POD_NAME": "mysql-1"}, {}])
def test_nothing_is_planned_on_another_pod_or_over_a_database(tmp_path, changes):
    env = plan_env(tmp_path, **changes)
    (tmp_path / "data" / "mysql" / "mysql").mkdir(parents=True)
    plan(env)
    assert list((tmp_path / "plan").iterdir()) == []


def test_a_data_directory_with_files_but_no_database_is_refused(tmp_path):
    env = plan_env(tmp_path)
    (tmp_path / "data" / "mysql").mkdir()
    (tmp_path / "data" / "mysql" / "stray").write_text("")
    with pytest.raises(Refused, match="holds files but no database; move it away"):
        plan(env)
