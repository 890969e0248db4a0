"""A manifest comes back from a bucket: every refusal names the backup and says what to do; what
the Job writes reads back as written; manifests printf wrote before still read."""
from __future__ import annotations

import json

import pytest

from mysql_cluster_agent.backup_manifest import Manifest, ManifestRefused, backup_time, is_backup_name, read_manifest
from mysql_cluster_agent.dialect import Flavor

NAME = "20260101T023000Z"
SHA = "ab" * 32
MYSQL_GTID = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"
MANIFEST = Manifest(name=NAME, cluster="mysql", namespace="mysql-dev", flavor=Flavor.MARIADB,
                    server_version="11.8.9-MariaDB-0+deb13u1 from Debian-log", start_time="2026-01-01T02:30:00Z",
                    end_time="2026-01-01T02:31:07Z", gtid="0-100-42", size_bytes=123456, sha256=SHA,
                    donor="mysql-1.mysql-headless.mysql-dev.svc.cluster.local", binlog_history="20251231T000000Z",
                    format="xbstream")
# As backup-job.sh's printf wrote manifests before.
PRINTF_MANIFEST = (f'{{\n  "name": "{NAME}",\n  "cluster": "mysql",\n  "namespace": "mysql-dev",\n'
                   '  "flavor": "mysql",\n  "serverVersion": "9.7.0",\n  "startTime": "2026-01-01T02:30:00Z",\n'
                   f'  "endTime": "2026-01-01T02:31:07Z",\n  "gtid": "{MYSQL_GTID}",\n  "sizeBytes": 99,\n'
                   f'  "sha256": "{SHA}",\n  "donor": "mysql-0.mysql-headless",\n  "binlogHistory": "",\n'
                   '  "format": "tar"\n}\n')


def fields(**changes: object) -> str:
    data = json.loads(MANIFEST.to_json())
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


def test_what_the_job_writes_reads_back_as_written():
    assert read_manifest(MANIFEST.to_json(), NAME) == MANIFEST


def test_a_manifest_written_by_the_former_printf_still_reads():
    manifest = read_manifest(PRINTF_MANIFEST, NAME)
    assert (manifest.flavor, manifest.gtid, manifest.size_bytes, manifest.binlog_history) == (
        Flavor.MYSQL, MYSQL_GTID, 99, "")


def test_a_manifest_without_namespace_is_no_clusters():
    manifest = read_manifest(fields(namespace=None), NAME)
    assert manifest.namespace is None and not manifest.belongs_to("mysql-dev", "mysql")
    assert manifest.owner == "<no namespace>/mysql"


def test_the_server_version_gives_major_and_minor():
    assert MANIFEST.server_major_minor == (11, 8)


@pytest.mark.parametrize(("text", "refusal"), [
    ("not json", f"the manifest of backup {NAME} is not a manifest of this product (not JSON"),
    ("[1, 2]", f"the manifest of backup {NAME} is not a manifest of this product (not a JSON object)"),
    (fields(extra="x"), f"the manifest of backup {NAME} has an unknown field 'extra'; refusing this backup"),
    ('{"name": "%s", "name": "%s"}' % (NAME, NAME), f"the manifest of backup {NAME} has the field 'name' twice"),
    (fields(sha256=None), f"the manifest of backup {NAME} lacks the field sha256; refusing this backup"),
    (fields(cluster=None), f"the manifest of backup {NAME} lacks the field cluster"),
    (fields(binlogHistory=None), f"the manifest of backup {NAME} lacks the field binlogHistory"),
    (fields(sizeBytes="12"), f"the manifest of backup {NAME}: field sizeBytes is not well-formed ('\"12\"')"),
    (fields(sizeBytes=True), f"the manifest of backup {NAME}: field sizeBytes is not well-formed ('true')"),
    (fields(sizeBytes=-1), "field sizeBytes is not well-formed"),
    (fields(sizeBytes=10**19), "field sizeBytes is not well-formed"),
    (fields(gtid="0-100-seq[$(id>/tmp/x)]"), "field gtid is not well-formed"),
    (fields(gtid=42), "field gtid is not well-formed ('42')"),
    (fields(binlogHistory="../../etc"), "field binlogHistory is not well-formed"),
    (fields(binlogHistory="20261399T000000Z"), "field binlogHistory is not well-formed"),
    (fields(cluster="My Cluster"), "field cluster is not well-formed"),
    (fields(namespace="-x"), "field namespace is not well-formed"),
    (fields(flavor="postgres"), "field flavor is not well-formed"),
    (fields(serverVersion="latest"), "field serverVersion is not well-formed"),
    (fields(startTime="2026-01-01 02:30:00"), "field startTime is not well-formed"),
    (fields(endTime="2026-02-30T00:00:00Z"), "field endTime is not well-formed"),
    (fields(sha256="AB" * 32), "field sha256 is not well-formed"),
    (fields(donor="mysql-0;reboot"), "field donor is not well-formed"),
    (fields(format="../tar"), "field format is not well-formed"),
    (fields(name="20250101T000000Z"), f"the manifest under backups/{NAME} names backup 20250101T000000Z: "
                                      "it was moved or altered; refusing this backup"),
])
def test_a_manifest_that_is_not_ours_is_refused_in_one_line_naming_the_backup(text, refusal):
    with pytest.raises(ManifestRefused) as refused:
        read_manifest(text, NAME)
    assert refusal in str(refused.value)
    assert "\n" not in str(refused.value) and "choose another" in str(refused.value)


def test_a_gtid_of_either_flavor_reads_so_that_a_restore_refuses_the_flavor_by_name():
    assert read_manifest(fields(flavor="mariadb", gtid=MYSQL_GTID), NAME).gtid == MYSQL_GTID


def test_the_job_cannot_write_a_manifest_it_could_not_read():
    with pytest.raises(ManifestRefused, match="field donor is not well-formed"):
        Manifest(**{**MANIFEST.__dict__, "donor": "not a host"}).to_json()


@pytest.mark.parametrize(("name", "valid"), [
    (NAME, True), ("20261301T000000Z", False), ("20260101T023000", False), ("x20260101T023000Z", False)])
def test_backup_names_are_utc_start_times(name, valid):
    assert is_backup_name(name) is valid


def test_a_backup_name_gives_its_start_time():
    assert backup_time(NAME).isoformat() == "2026-01-01T02:30:00+00:00"
