"""From a clone to replication from the primary, by GTID: clone-mysql reads where the backup
stands, the backup sidecar points the server at the primary. The servers and backup tools are
server_model's: they keep the restored replication metadata, refuse what upstream refuses, and
write the info files of their version."""
from __future__ import annotations

import pytest
import server_model
from scripted_pod import (
    DONOR_GTIDS,
    PASSWORDS,
    SERVERS,
    STREAM_CLONE_SERVERS,
    donor_files,
    is_mariadb,
    primary_state,
)

pytest_plugins = ["pod_fixtures"]

PRIMARY = "mysql-0.mysql.mysql-dev.svc.cluster.local"
MYSQL = ("mysql 9.7", "mysql 8.4", "mysql 8.0")
MARIADB = ("mariadb 11.8", "mariadb 11.4", "mariadb 10.11")
# GTIDs the primary committed after the backup was taken.
LATER_GTIDS = {"mysql": "3e11fa47-71ca-11e1-9e33-c80aa9000100:1-90", "mariadb": "0-100-50"}


def gtid_state(state) -> str:
    """Where a server stands: MySQL's gtid_executed, a MariaDB replica's gtid_slave_pos."""
    return state["gtid_slave_pos" if is_mariadb(state["server"]) else "gtid_executed"]


def replicated(pod, gtids: str) -> None:
    """The replica applies the primary's transactions up to `gtids`."""
    name = "gtid_slave_pos" if is_mariadb(pod.server) else "gtid_executed"
    pod.update_server(lambda state: state.update({name: gtids}))


def statement_kinds(events: list[str]) -> list[str]:
    return [" ".join(event.split()[:3]) for event in events]


def cloned(make_pod, server: str, ordinal: int = 2, files=None, **config):
    """Pod <ordinal> after clone-mysql copied `files` (by default a backup of the primary). On
    MySQL the copy is the server's CLONE plugin, which has no stand-in (tests/e2e runs it): the
    pod is left as clone-plugin.sh leaves it, the donor's data in place and replication to start
    from the copy's own GTID state."""
    pod = make_pod(server, ordinal, **config)
    if files is not None:
        pod.scenario["donor_files"] = files
    if not is_mariadb(server):
        datadir = pod.data / "mysql"
        datadir.mkdir(parents=True, exist_ok=True)
        for name, content in pod.scenario["donor_files"]:
            (datadir / name).parent.mkdir(parents=True, exist_ok=True)
            (datadir / name).write_text(content)
        (pod.data / "replication-source").write_text("own-gtid-executed\n")
        return pod
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    return pod


def started(pod):
    run = pod.run("backup")
    assert run.settled, run.stderr
    return pod


def replica_backup(make_pod, server: str):
    """The backup pod 1, a replica that replicated on after its own clone, serves to pod 2."""
    donor = started(cloned(make_pod, server, 1))
    replicated(donor, LATER_GTIDS[server_model.flavor(server)])
    donor.scenario["serve_once"] = True
    serving = donor.run("backup")
    assert [call["served_status"] for call in serving.of("socat")] == [0], serving.stderr
    return donor, serving


# The statements of a fresh clone's first start: the restored channel goes; a MySQL server
# already holds the clone's GTIDs (CLONE copies mysql.gtid_executed with the data), a MariaDB
# server is moved to them.
MYSQL_FIRST_START = ["STOP REPLICA", "RESET REPLICA ALL", "CHANGE REPLICATION SOURCE", "START REPLICA"]
FIRST_START = {
    "mysql 9.7": MYSQL_FIRST_START,
    "mysql 8.4": MYSQL_FIRST_START,
    "mysql 8.0": MYSQL_FIRST_START,
    "mariadb 11.8": ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL GTID_SLAVE_POS", "CHANGE MASTER TO",
                     "START SLAVE"],
    "mariadb 11.4": ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL GTID_SLAVE_POS", "CHANGE MASTER TO",
                     "START SLAVE"],
    "mariadb 10.11": ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL GTID_SLAVE_POS", "CHANGE MASTER TO",
                      "START SLAVE"],
}


# Every later start sets the channel up again from the server's own GTID state: the first start's
# statements without the clone's position on MySQL (gtid_executed already holds it); on MariaDB
# gtid_slave_pos is set to gtid_current_pos, which carries a former primary's own transactions.
def restart_kinds(server: str) -> list[str]:
    return [kind for kind in FIRST_START[server] if kind not in ("RESET MASTER", "SET GLOBAL GTID_PURGED")]


@pytest.mark.parametrize("server", SERVERS)
def test_a_clone_of_the_primary_replicates_from_the_primary_by_gtid(make_pod, server):
    pod = started(cloned(make_pod, server))
    state = pod.server_state
    assert statement_kinds(state["events"]) == FIRST_START[server]
    channel = state["channel"]
    assert (channel["host"], channel["user"], channel["password"]) == (
        PRIMARY, "replicator", PASSWORDS["replication-password"])
    assert (channel["io"], channel["sql"]) == ("Yes", "Yes")
    assert channel["use_gtid"] == "slave_pos" if is_mariadb(server) else channel["auto_position"]
    assert gtid_state(state) == DONOR_GTIDS[server_model.flavor(server)]
    # A MySQL clone starts from the copy's own GTID state (clone-plugin.sh).
    coordinates = DONOR_GTIDS["mariadb"] if is_mariadb(server) else "own-gtid-executed"
    assert (pod.data / "replication-source.applied").read_text() == coordinates + "\n"
    assert not (pod.data / "replication-source").exists()


# Finding 2: a backup of a replica carries its replication metadata but no relay logs.
@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_a_clone_of_a_replica_replicates_from_the_primary_at_the_replicas_position(make_pod, server):
    donor, _ = replica_backup(make_pod, server)
    pod = started(cloned(make_pod, server, files=donor.served_stream))
    state = pod.server_state
    assert (state["channel"]["host"], state["channel"]["io"], state["channel"]["sql"]) == (PRIMARY, "Yes", "Yes")
    assert gtid_state(state) == LATER_GTIDS[server_model.flavor(server)]


# Finding 4: MySQL's parser refuses replication passwords over 32 bytes.
@pytest.mark.parametrize("server", MYSQL)
def test_a_replication_password_over_32_characters_stops_the_replica_naming_the_secret_key(make_pod, server):
    pod = cloned(make_pod, server, existingSecret="db-credentials")
    password = "replQx7Vd" + "x" * 24
    pod.path_in("backup", "/etc/mysql-cluster/secrets/replication-password").write_text(password)
    run = pod.run("backup")
    assert run.status == 1
    assert "replication password (Secret key replication-password) has 33 characters" in run.stderr
    assert "MySQL refuses more than 32" in run.stderr
    assert pod.password_leaks() == []
    assert (pod.data / "replication-source").exists()


@pytest.mark.parametrize("server", MARIADB)
def test_mariadb_replicates_with_a_replication_password_over_32_characters(make_pod, server):
    pod = cloned(make_pod, server, existingSecret="db-credentials")
    pod.path_in("backup", "/etc/mysql-cluster/secrets/replication-password").write_text("r" * 40)
    started(pod)
    assert pod.server_state["channel"]["password"] == "r" * 40


def test_a_failed_replication_start_is_retried_at_the_next_start(make_pod):
    pod = cloned(make_pod, "mysql 9.7", existingSecret="db-credentials")
    secret = pod.path_in("backup", "/etc/mysql-cluster/secrets/replication-password")
    secret.write_text("r" * 33)
    assert pod.run("backup").status == 1
    secret.write_text("r" * 32)
    started(pod)
    assert pod.server_state["channel"]["io"] == "Yes"
    assert (pod.data / "replication-source.applied").exists()


@pytest.mark.parametrize("server", SERVERS)
def test_a_restarted_replica_is_pointed_at_the_primary_again_without_rewinding(make_pod, server):
    pod = started(cloned(make_pod, server))
    later = LATER_GTIDS[server_model.flavor(server)]
    replicated(pod, later)
    pod.update_server(lambda state: state.update(events=[]))
    started(pod)
    state = pod.server_state
    assert statement_kinds(state["events"]) == restart_kinds(server)
    assert gtid_state(state) == later


@pytest.mark.parametrize("server", SERVERS)
def test_a_crash_between_applying_the_clones_position_and_marking_it_does_not_rewind(make_pod, server):
    pod = started(cloned(make_pod, server))
    (pod.data / "replication-source.applied").rename(pod.data / "replication-source")
    later = LATER_GTIDS[server_model.flavor(server)]
    replicated(pod, later)
    started(pod)
    assert gtid_state(pod.server_state) == later
    restart = statement_kinds(pod.server_state["events"][len(FIRST_START[server]):])
    assert not {"RESET MASTER", "RESET BINARY LOGS", "SET GLOBAL GTID_PURGED", "SET GLOBAL GTID_SLAVE_POS"} & set(restart)


def test_a_pod_with_data_but_no_record_of_a_clone_follows_the_primary_from_its_own_position(make_pod):
    pod = make_pod("mariadb 11.4", 1)  # a former primary: its transactions are its own
    pod.update_server(lambda state: state.update(gtid_binlog_pos="0-101-57", gtid_slave_pos="0-100-40"))
    run = pod.run("backup")
    assert run.settled, run.stderr
    assert statement_kinds(pod.server_state["events"]) == restart_kinds("mariadb 11.4")
    assert pod.server_state["gtid_slave_pos"] == "0-101-57"


# ---------------------------------------------------------------------------------------------
# The info files: where a backup says replication starts.

def replica_donor(server: str):
    """A replica of this cluster that replicates by GTID, as the backup tool sees it."""
    state = primary_state(server)
    state["channel"] = server_model.new_channel(PRIMARY, "replicator", not is_mariadb(server), "slave_pos")
    state["gtid_slave_pos"] = DONOR_GTIDS["mariadb"] if is_mariadb(server) else ""
    return state


def pending_position(make_pod, server: str, files) -> str:
    return (cloned(make_pod, server, files=files).data / "replication-source").read_text()


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


