"""backup sidecar: the cluster's users on the primary, and serving backups to the next pod
(replication start: test_replication_start_script.py)."""
from __future__ import annotations

import re

import pytest
import server_model
from scripted_pod import (
    STREAM_CLONE_SERVERS,
    ONE_PER_FLAVOR,
    PASSWORDS,
    SERVERS,
    backup_tool,
    donor_files,
    is_mariadb,
    sql_client,
    sql_literal,
)

pytest_plugins = ["pod_fixtures"]

# The backup user: mariadb-backup's, local; MySQL's, the donor of a peer's CLONE.
BACKUP_USER = {"mariadb": "'backup'@'127.0.0.1'", "mysql": "'backup'@'%'"}


def users(server: str) -> tuple[tuple[str, str], ...]:
    return (("'replicator'@'%'", PASSWORDS["replication-password"]),
            (BACKUP_USER[server_model.flavor(server)], PASSWORDS["backup-password"]),
            ("'app'@'%'", PASSWORDS["app-password"]))


def ensure_user_sql(server: str, user: str, password: str) -> str:
    """Creates the user or sets its password. MariaDB writes these statements to the binary log
    as they are, so there they carry a hash computed in the session instead of the password."""
    if not is_mariadb(server):
        return (f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {sql_literal(password)};\n"
                f"ALTER USER {user} IDENTIFIED BY {sql_literal(password)};\n")
    create = sql_literal(f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY PASSWORD ")
    alter = sql_literal(f"ALTER USER {user} IDENTIFIED BY PASSWORD ")
    return (f"SET @password_hash = PASSWORD({sql_literal(password)});\n"
            f"EXECUTE IMMEDIATE CONCAT({create}, QUOTE(@password_hash));\n"
            f"EXECUTE IMMEDIATE CONCAT({alter}, QUOTE(@password_hash));\n")


def users_sql(server: str) -> str:
    """The users and grants the primary makes sure of."""
    return (
        "".join(ensure_user_sql(server, user, password) for user, password in users(server))
        + "GRANT REPLICATION SLAVE ON *.* TO 'replicator'@'%';\n"
        + "ALTER USER 'replicator'@'%' REQUIRE SSL;\n"  # TLS is on by default
        + BACKUP_GRANTS[server]
        + ("" if is_mariadb(server) else archiver_login_sql(server))
        + "CREATE DATABASE IF NOT EXISTS `app`;\n"
        "GRANT ALL PRIVILEGES ON `app`.* TO 'app'@'%';\n"
        + ensure_user_sql(server, "'switchover'@'%'", PASSWORDS["admin-password"])
        + SWITCHOVER_GRANTS[server_model.flavor(server)]
        + "GRANT SELECT ON mysql_cluster.heartbeat TO 'replicator'@'%';\n"
        "GRANT SELECT ON mysql_cluster.heartbeat TO 'switchover'@'%';\n"
    )


def archiver_login_sql(server: str) -> str:
    """MySQL's binary log archive logs in from inside the pod, apart from the network account
    (which requires the pods' certificate): RELOAD for FLUSH BINARY LOGS, nothing else."""
    return (ensure_user_sql(server, "'backup'@'127.0.0.1'", PASSWORDS["backup-password"])
            + "GRANT RELOAD ON *.* TO 'backup'@'127.0.0.1';\n")


# What moving the primary needs on every server (the switchover Job), and reading the heartbeat.
SWITCHOVER_GRANTS = {
    "mariadb": "GRANT READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, SLAVE MONITOR, BINLOG MONITOR, RELOAD "
               "ON *.* TO 'switchover'@'%';\n",
    "mysql": "GRANT SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN, REPLICATION CLIENT, RELOAD "
             "ON *.* TO 'switchover'@'%';\n",
}


# What mariadb-backup needs with --slave-info, and a CLONE donor (over mutual TLS, with the
# certificate of the dev stack's self-signed CA for its cluster `mysql`), and nothing more.
CLONE_DONOR_GRANTS = ("ALTER USER 'backup'@'%' REQUIRE SUBJECT '/O=mysql-cluster/CN=mysql';\n"
                      "GRANT BACKUP_ADMIN ON *.* TO 'backup'@'%';\n")
MARIADB_BACKUP_GRANTS = (
    "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'backup'@'127.0.0.1';\n")
BACKUP_GRANTS = {
    "mysql 9.7": CLONE_DONOR_GRANTS,
    "mysql 8.4": CLONE_DONOR_GRANTS,
    "mysql 8.0": CLONE_DONOR_GRANTS,
    "mariadb 11.8": MARIADB_BACKUP_GRANTS,
    "mariadb 11.4": MARIADB_BACKUP_GRANTS,
    "mariadb 10.11": MARIADB_BACKUP_GRANTS,
}
# One connection at a time, each served by the exported stream_backup function. Which way the
# data flows is checked by the tests where a peer receives a backup.
def socat_listen(pod) -> list[str]:
    """socat's addresses: mutual TLS with the pod's certificate (TLS is on by default), served
    only to a peer whose certificate names this pod."""
    tls, env = pod.volume("tls"), pod.env("backup")
    own_name = (f"{pod.name}.{env['HEADLESS_SERVICE']}.{env['CLUSTER_NAMESPACE']}.svc."
                f"{env['CLUSTER_DOMAIN']}")
    return [f"OPENSSL-LISTEN:3307,reuseaddr,fork,max-children=1,cert={tls}/tls.crt,"
            f"key={tls}/tls.key,cafile={tls}/ca.crt,verify=1,commonname={own_name}",
            "EXEC:bash -c stream_backup"]


def cloned_replica(make_pod, server: str, **config):
    """Pod 1 after a successful clone-mysql."""
    pod = make_pod(server, 1, **config)
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    return pod


def client_options_files(pod) -> list[str]:
    return sorted(p.name for p in pod.volume("client-options").iterdir())


@pytest.mark.parametrize("server", SERVERS)
def test_the_primary_gets_its_heartbeat_becomes_writable_and_creates_the_users_with_least_privileges(
        make_pod, server):
    pod = make_pod(server, 0)
    run = pod.run("backup")
    assert run.settled, run.stderr
    heartbeat, promotion, users = run.statements
    assert "CREATE EVENT IF NOT EXISTS mysql_cluster.heartbeat" in heartbeat
    # MySQL's event scheduler runs on the writable server only.
    assert promotion.endswith("SET GLOBAL read_only = 0;\n" if is_mariadb(server)
                              else "SET GLOBAL read_only = 0;\nSET GLOBAL event_scheduler = ON;\n")
    assert users == users_sql(server)
    assert pod.server_state["variables"]["read_only"] == "OFF"


def test_the_primary_waits_until_its_server_accepts_connections(make_pod):
    pod = make_pod("mysql 8.4", 0)
    pod.scenario["refused_connections"] = 2
    run = pod.run("backup")
    assert run.settled, run.stderr
    assert run.queries[:3] == ["SELECT 1"] * 3
    assert run.sleeps[:2] == ["2", "2"]
    assert len(run.statements) == 3


def test_a_server_that_refuses_the_root_password_stops_the_sidecar_without_waiting(make_pod):
    pod = make_pod("mysql 8.4", 0)
    pod.scenario["accounts"]["root"] = "not the password in the Secret"
    run = pod.run("backup")
    assert run.status == 1
    assert "the local server refused the credentials" in run.stderr
    assert run.sleeps == []


def test_a_primary_that_cannot_create_the_users_stops_the_sidecar(make_pod):
    pod = make_pod("mysql 8.4", 0)
    pod.scenario["refused_statement"] = ("CREATE USER", server_model.SUPER_READ_ONLY_ERROR)
    run = pod.run("backup")
    assert run.status == 1
    assert "--super-read-only option so it cannot execute this statement" in run.stderr
    assert "could not create the cluster's users on the primary" in run.stderr
    assert run.of("socat") == []


# In a database-level grant '_' and '%' are wildcards: `m_sql`.* would also cover `mysql`.
@pytest.mark.parametrize("server", ONE_PER_FLAVOR)
def test_the_application_user_gets_its_database_only_even_with_wildcard_characters_in_its_name(make_pod, server):
    pod = make_pod(server, 0, appDatabase="m_sql")
    assert pod.run("backup").settled
    state = pod.server_state
    assert "m_sql" in state["databases"]
    assert [server_model.database_granted(state, "'app'@'%'", database)
            for database in ("m_sql", "mysql", "m%sql")] == [True, False, False]


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_sidecar_serves_backups_on_port_3307_with_socat(make_pod, server):
    pod = make_pod(server, 0)
    run = pod.run("backup")
    assert run.settled, run.stderr
    assert [call["addresses"] for call in run.of("socat")] == [socat_listen(pod)]


def test_without_tls_the_sidecar_serves_backups_with_ncat_where_the_image_has_no_socat(make_pod):
    pod = make_pod("mariadb 11.8", 0, tlsSource="none")
    pod.tools = pod.tools - {"socat"} | {"ncat"}
    run = pod.run("backup")
    assert run.settled, run.stderr
    assert run.argvs("ncat") == [["--listen", "--keep-open", "--send-only", "--max-conns=1", "3307",
                                  "--exec", f"{pod.bin}/bash -c stream_backup"]]


@pytest.mark.parametrize(("server", "transfer"), [(server, "socat") for server in STREAM_CLONE_SERVERS]
                         + [("mariadb 10.11", "ncat")])
def test_a_peer_receives_a_hot_backup_taken_as_the_backup_user(make_pod, server, transfer):
    # ncat serves only without TLS: it cannot ask a peer for its certificate.
    pod = cloned_replica(make_pod, server, **({"tlsSource": "none"} if transfer == "ncat" else {}))
    assert pod.run("backup").settled
    pod.tools = pod.tools - {"socat"} | {transfer}
    pod.scenario["serve_once"] = True
    run = pod.run("backup")
    assert run.settled, run.stderr
    assert [call["served_status"] for call in run.of(transfer)] == [0], run.stderr
    [backup] = run.of(backup_tool(server))
    options, *rest = backup["argv"]
    assert re.fullmatch(f"--defaults-extra-file={pod.volume('client-options')}/backup\\.[0-9]+\\.backup\\.cnf", options)
    lsn_dir = rest.pop(4)
    assert re.fullmatch(f"--extra-lsndir={pod.volume('tmp')}/tmp\\.\\w+", lsn_dir)
    assert rest == ["--backup", "--slave-info", "--stream=xbstream", "--parallel=2", "--host=127.0.0.1",
                    "--port=3306", f"--target-dir={pod.volume('tmp')}"]
    assert backup["login"] == {"user": "backup", "password": PASSWORDS["backup-password"],
                               "mode": "0o600"}
    assert pod.served_stream == donor_files(server, pod.server_state) + [end_record(server, pod)]


def end_record(server: str, pod) -> tuple[str, str]:
    """What the sidecar appends to a whole backup: its own line, then the tool's info file."""
    info = dict(donor_files(server, pod.server_state))[f"{server_model.info_prefix(server)}_info"]
    return "mysql-cluster-backup-end", "\nmysql-cluster: the backup tool finished\n" + info


def test_a_failed_backup_ends_the_peers_stream_with_an_error(make_pod):
    pod = make_pod("mariadb 11.8", 0)
    pod.scenario["serve_once"] = True
    pod.scenario["backup_fails"] = True
    run = pod.run("backup")
    assert [call["served_status"] for call in run.of("socat")] == [1]


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_sidecar_fails_at_once_naming_socat_and_ncat_where_the_image_has_neither(make_pod, server):
    pod = make_pod(server, 0, tlsSource="none")
    pod.tools = pod.tools - {"socat"}
    run = pod.run("backup")
    assert run.status == 1
    assert "none of: socat ncat" in run.stderr
    assert run.calls == []


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_with_tls_the_sidecar_refuses_an_image_with_only_ncat_naming_socat(make_pod, server):
    pod = make_pod(server, 0)
    pod.tools = pod.tools - {"socat"} | {"ncat"}
    run = pod.run("backup")
    assert run.status == 1
    assert "mutual TLS on the backup port needs socat" in run.stderr
    assert run.of("ncat") == []


def test_once_the_sidecar_has_ended_no_option_file_is_left(make_pod):
    pod = make_pod("mariadb 11.8", 0)
    assert pod.run("backup").settled
    assert client_options_files(pod) == []
