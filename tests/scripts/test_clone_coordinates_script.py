"""Where a clone's replication starts, by GTID: clone-mysql reads where the backup stands and
leaves it for the pod's agent (which points the server at the primary: tests/agent/test_role.py).
The backup tools are server_model's: they write the info files of their version."""
from __future__ import annotations

import pytest
import server_model
from scripted_pod import (
    DONOR_GTIDS,
    STREAM_CLONE_SERVERS,
    donor_files,
    is_mariadb,
    primary_state,
)

pytest_plugins = ["pod_fixtures"]

PRIMARY = "mysql-0.mysql.mysql-dev.svc.cluster.local"
# GTIDs the primary committed after the backup was taken.
LATER_GTIDS = {"mysql": "3e11fa47-71ca-11e1-9e33-c80aa9000100:1-90", "mariadb": "0-100-50"}


def cloned(make_pod, server: str, ordinal: int = 2, files=None):
    """Pod <ordinal> after clone-mysql copied `files` (by default a backup of the primary)."""
    pod = make_pod(server, ordinal)
    if files is not None:
        pod.scenario["donor_files"] = files
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    return pod


def replica_donor(server: str):
    """A replica of this cluster that replicates by GTID, as the backup tool sees it."""
    state = primary_state(server)
    state["channel"] = server_model.new_channel(PRIMARY, "replicator", not is_mariadb(server), "slave_pos")
    state["gtid_slave_pos"] = DONOR_GTIDS["mariadb"] if is_mariadb(server) else ""
    return state


def pending_position(make_pod, server: str, files) -> str:
    return (cloned(make_pod, server, files=files).data / "replication-source").read_text()


# Finding 2: a backup of a replica carries its replication metadata but no relay logs; the clone
# starts from the replica's position, which the backup tool records.
@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_a_clone_of_a_replica_starts_at_the_replicas_position(make_pod, server):
    donor = replica_donor(server)
    donor["gtid_slave_pos"] = LATER_GTIDS["mariadb"]
    files = donor_files(server, donor)
    assert pending_position(make_pod, server, files) == LATER_GTIDS[server_model.flavor(server)] + "\n"


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_backup_of_a_replica_gives_its_gtid_position(make_pod, server):
    files = donor_files(server, replica_donor(server))
    assert pending_position(make_pod, server, files) == DONOR_GTIDS[server_model.flavor(server)] + "\n"


# The replica info each tool version writes from a GTID replica, and what the binlog info of a
# primary holds (server_model.slave_info and binlog_info have the rules).
@pytest.mark.parametrize(("server", "kind", "text"), [
    ("mysql 8.4", "slave_info",
     "SET GLOBAL gtid_purged='{mysql}';\nCHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1;\n"),
    ("mysql 8.0", "slave_info", "SET GLOBAL gtid_purged='{mysql}';\nCHANGE MASTER TO MASTER_AUTO_POSITION=1;\n"),
    ("mariadb 11.4", "slave_info",
     "SET GLOBAL gtid_slave_pos = '{mariadb}';\nCHANGE MASTER TO master_use_gtid = slave_pos;\n"),
    ("mysql 8.4", "binlog_info", "mysql-bin.000001\t157\t{mysql}\n"),
    ("mariadb 10.11", "binlog_info", "mysql-bin.000001\t157\t{mariadb}\n"),
])
def test_each_version_of_the_backup_tool_writes_its_form_of_the_info_files(server, kind, text):
    donor = replica_donor(server) if kind == "slave_info" else primary_state(server)
    info_file = f"{server_model.info_prefix(server)}_{kind}"
    assert dict(donor_files(server, donor))[info_file] == text.format(**DONOR_GTIDS)


@pytest.mark.parametrize(("server", "slave_info"), [
    ("mariadb 11.8", ""), ("mariadb 11.4", ""),
    ("mariadb 10.11",
     f"SET GLOBAL gtid_slave_pos = '{DONOR_GTIDS['mariadb']}';\nCHANGE MASTER TO master_use_gtid = slave_pos\n"),
])
def test_replica_info_that_is_empty_or_lacks_a_semicolon_still_gives_the_gtid_position(make_pod, server, slave_info):
    files = donor_files(server, slave_info=slave_info)
    assert pending_position(make_pod, server, files) == DONOR_GTIDS[server_model.flavor(server)] + "\n"


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_a_backup_of_a_replica_without_gtids_fails_the_clone_loudly(make_pod, server):
    donor = replica_donor(server)
    donor["channel"].update(auto_position=False, use_gtid="no", log_file="mysql-bin.000009", log_pos="1234")
    pod = make_pod(server, 2)
    pod.scenario["donor_files"] = donor_files(server, donor)
    run = pod.run("clone-mysql")
    assert run.status == 1
    assert "has no GTID position: the donor replicates without GTIDs, so it is not a pod of this cluster" in run.stderr
    assert "_LOG_POS=1234" in run.stderr
    assert not (pod.data / "mysql").exists()


