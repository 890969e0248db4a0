"""The agent's accounts and heartbeat on real servers (MySQL 9.7, MariaDB 11.8; MariaDB 10.11
where its grants could differ): the statements are sent through the agent's own seam
(local_server.LocalServer, as root over the socket), then each account logs in over TCP and is
judged by what it can and cannot do.

Clients come from 127.0.0.1 (the pod itself) or from 127.0.0.2 (another pod: every 127.x address
is this machine's loopback, and the server matches the account by the client's address)."""
from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pymysql
import pytest
from e2e.test_network_accounts import FINDING_1
from mysql_cluster_agent import heartbeat
from mysql_cluster_agent.accounts import (
    ClusterAccounts,
    Passwords,
    Statement,
    accounts_sql,
)
from mysql_cluster_agent.dialect import Dialect, Flavor, dialect_for
from mysql_cluster_agent.local_server import LocalServer

# tests/scripts is not a package: its modules import each other by name, as here.
sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from real_servers import RealServer, start_server

THIS_POD = "127.0.0.1"
OTHER_POD = "127.0.0.2"
# Every character the quoting must carry: quotes, backslash, the format's %, non-ASCII.
METRICS_PASSWORD = "m\"'-metrics-pass"
PASSWORDS = Passwords(replication="r'\"\\%s-pass-1", backup="b'\\-backup-pass-€",
                      app="p\\'ä-app-pass", metrics=METRICS_PASSWORD)
CHANGED = Passwords(replication="R-changed-pass", backup="B-changed-pass",
                    app="P-changed-pass", metrics="M-changed-pass")
POD_SUBJECT = "/CN=mysql-cluster-pods"
# The switchover account of earlier versions, and what role.sh granted it (issue 22, finding 1).
EARLIER_SWITCHOVER_PASSWORD = "a%'-admin-pass"
EARLIER_SWITCHOVER_GRANTS = {
    Flavor.MARIADB: "READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, SLAVE MONITOR, BINLOG MONITOR, RELOAD",
    Flavor.MYSQL: "SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN, REPLICATION CLIENT, RELOAD",
}

pytestmark = pytest.mark.timeout(600)


@dataclass
class Server:
    real: RealServer
    port: int
    dialect: Dialect
    accounts: ClusterAccounts
    root: LocalServer
    certificates: Path

    @property
    def flavor(self) -> Flavor:
        return self.dialect.flavor

    def connect(self, user: str, password: str, source: str = THIS_POD,
                certificate: str | None = None) -> pymysql.connections.Connection:
        """A TCP login over TLS (no server verification: the test trusts its own server), with
        the client certificate `certificate` (a name under `certificates`) if given."""
        if not self.accounts.tls:
            return pymysql.connect(host=THIS_POD, port=self.port, user=user,
                                   password=password.encode(), bind_address=source,
                                   ssl_disabled=True, connect_timeout=10, autocommit=True)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if certificate:
            context.load_cert_chain(self.certificates / f"{certificate}.crt",
                                    self.certificates / f"{certificate}.key")
        return pymysql.connect(host=THIS_POD, port=self.port, user=user,
                               password=password.encode(), bind_address=source, ssl=context,
                               connect_timeout=10, autocommit=True)

    def refusal(self, user: str, password: str, sql: str, source: str = THIS_POD,
                certificate: str | None = None) -> str:
        """"ran", or the server's refusal of the login or of `sql`."""
        try:
            connection = self.connect(user, password, source, certificate)
        except pymysql.MySQLError as error:
            return f"login: {error.args[1] if len(error.args) > 1 else error}"
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()
        except pymysql.MySQLError as error:
            return str(error.args[1] if len(error.args) > 1 else error)
        finally:
            connection.close()
        return "ran"

    def run(self, statements: Sequence[Statement | str]) -> None:
        for statement in statements:
            sql, args = (statement, ()) if isinstance(statement, str) else statement
            self.root.execute(sql, args)

    def value(self, sql: str) -> object:
        rows = self.root.query(sql)
        return rows[0][0] if rows else None

    def binary_logs(self) -> list[Path]:
        """The binary log files (MariaDB 11.8 keeps a GTID index beside each: binlog.000001.idx)."""
        return sorted(path for path in (self.real.directory / "data").glob("binlog.*")
                      if path.suffix[1:].isdigit())

    def binary_log_text(self) -> str:
        """Every binary log of the server as its own binlog tool prints it."""
        tool = "mariadb-binlog" if self.flavor is Flavor.MARIADB else "mysqlbinlog"
        files = self.binary_logs()
        assert files, "the server wrote no binary log"
        inside = ["/" + str(file.relative_to(self.real.tree)) for file in files]
        result = subprocess.run(["chroot", str(self.real.tree), tool, "--verbose", *inside],
                                capture_output=True, text=True, errors="replace", timeout=60,
                                check=True)
        return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((THIS_POD, 0))
        port: int = probe.getsockname()[1]
        return port


def make_certificates(server: RealServer, directory: Path) -> None:
    """Client certificates signed by the CA the server generated at initialisation (and trusts):
    the pods' and another service's."""
    data = server.directory / "data"
    directory.mkdir()
    for name, subject in (("pods", POD_SUBJECT), ("other", "/CN=web-frontend")):
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                        "-keyout", directory / f"{name}.key", "-out", directory / f"{name}.csr"],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", directory / f"{name}.csr", "-days", "2",
                        "-CA", data / "ca.pem", "-CAkey", data / "ca-key.pem", "-set_serial",
                        str(time.time_ns()), "-out", directory / f"{name}.crt"],
                       check=True, capture_output=True)


@contextlib.contextmanager
def start(name: str, flavor: Flavor, tmp: Path, tls: bool = True) -> Iterator[Server]:
    """A fresh server `name` with the cluster's heartbeat and accounts, as an upgraded cluster's
    primary has them (over TLS with `tls`: MySQL's and MariaDB 11.8's generated certificates)."""
    port = free_port()
    options = (f"skip-networking=0\nbind-address={THIS_POD}\nport={port}\nskip-name-resolve\n"
               "log-bin=binlog\nserver-id=1\n")
    options += ("event-scheduler=ON\n" if flavor is Flavor.MARIADB
                else "gtid-mode=ON\nenforce-gtid-consistency=ON\n")
    real = start_server(name, options)  # a tree that cannot run here fails the test
    certificates = tmp / "certificates"
    dialect = dialect_for(flavor)
    accounts = ClusterAccounts(
        flavor=flavor, replication_user="replicator", backup_user="backup",
        app_user="app", app_database="my_app", tls=tls,
        tls_subject=POD_SUBJECT if flavor is Flavor.MYSQL else None, metrics_user="metrics")
    root = LocalServer(real.directory / "mysqld.sock", lambda: "")
    server = Server(real, port, dialect, accounts, root, certificates)
    try:
        if flavor is Flavor.MYSQL:
            make_certificates(real, certificates)
        # A cluster upgraded from the release whose switchover account could change roles.
        server.run([("CREATE USER %s@'%%' IDENTIFIED BY %s", ("switchover", EARLIER_SWITCHOVER_PASSWORD)),
                    (f"GRANT {EARLIER_SWITCHOVER_GRANTS[flavor]} ON *.* TO %s@'%%'",
                     ("switchover",))])
        heartbeat.set_up_heartbeat(root, dialect)
        server.run(accounts_sql(accounts, PASSWORDS))
        yield server
    finally:
        root.close()
        real.stop()


@pytest.fixture(scope="module")
def mysql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start("mysql 9.7", Flavor.MYSQL, tmp_path_factory.mktemp("mysql")) as started:
        yield started


@pytest.fixture(scope="module")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start("mariadb 11.8", Flavor.MARIADB, tmp_path_factory.mktemp("mariadb")) as started:
        yield started


@pytest.fixture(scope="module", params=["mysql_server", "mariadb_server"],
                ids=["mysql-9.7", "mariadb-11.8"])
def server(request: pytest.FixtureRequest) -> Server:
    started: Server = request.getfixturevalue(request.param)
    return started


def network_logins(server: Server) -> dict[str, tuple[str, str | None]]:
    """Each account another pod can log in as (and the switchover account of earlier versions,
    which is dropped): its password and the certificate it presents."""
    logins: dict[str, tuple[str, str | None]] = {
        "replicator": (PASSWORDS.replication, None), "switchover": (EARLIER_SWITCHOVER_PASSWORD, None),
        "app": (PASSWORDS.app, None)}
    if server.flavor is Flavor.MYSQL:
        logins["backup"] = (PASSWORDS.backup, "pods")
    return logins


def finding_1_outcomes(server: Server) -> dict[tuple[str, str], str]:
    """What each network account, from another pod, gets for each statement of finding 1."""
    return {(user, sql): server.refusal(user, password, sql, OTHER_POD, certificate)
            for user, (password, certificate) in network_logins(server).items()
            for sql in FINDING_1[server.flavor.value]}


def test_no_network_account_runs_a_statement_of_finding_1(server: Server) -> None:
    outcomes = finding_1_outcomes(server)
    assert all("denied" in outcome for outcome in outcomes.values()), outcomes


def test_the_switchover_account_of_earlier_versions_is_dropped_on_upgrade(server: Server) -> None:
    assert "Access denied for user 'switchover'" in server.refusal(
        "switchover", EARLIER_SWITCHOVER_PASSWORD, "SELECT 1", OTHER_POD)


def test_the_replication_account_reads_the_heartbeat_and_nothing_else_of_its_schema(
        server: Server) -> None:
    assert server.refusal("replicator", PASSWORDS.replication, heartbeat.heartbeat_micros_sql(),
                          OTHER_POD) == "ran"
    for sql in (f"SELECT * FROM {heartbeat.SCHEMA}.{heartbeat.EXPORTER_VIEW}",
                "SELECT * FROM my_app.orders", "SELECT * FROM mysql.user"):
        assert "denied" in server.refusal("replicator", PASSWORDS.replication, sql, OTHER_POD)


def test_the_replication_account_streams_the_binary_log_over_tls_only(server: Server) -> None:
    tool = "mariadb-binlog" if server.flavor is Flavor.MARIADB else "mysqlbinlog"
    tls = ["--ssl", "--skip-ssl-verify-server-cert"] if server.flavor is Flavor.MARIADB \
        else ["--ssl-mode=REQUIRED"]
    plain = ["--skip-ssl"] if server.flavor is Flavor.MARIADB else ["--ssl-mode=DISABLED"]
    options = server.real.directory / "replicator.cnf"
    escaped = PASSWORDS.replication.replace("\\", "\\\\").replace('"', '\\"')
    options.write_text(f'[client]\nuser=replicator\npassword="{escaped}"\n')
    options.chmod(0o600)

    first = str(server.root.query("SHOW BINARY LOGS")[0][0])

    def stream(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["chroot", str(server.real.tree), tool,
             f"--defaults-extra-file=/{options.relative_to(server.real.tree)}", *extra,
             "--read-from-remote-server", f"--host={THIS_POD}", f"--port={server.port}",
             "--to-last-log", first], check=False, capture_output=True, text=True, errors="replace",
            timeout=60)

    streamed = stream(*tls)
    assert streamed.returncode == 0 and "CREATE USER" in streamed.stdout, streamed.stderr
    refused = stream(*plain)
    assert refused.returncode != 0 and "denied" in refused.stderr, refused.stderr


def test_the_app_account_works_in_its_database_and_touches_no_other(server: Server) -> None:
    connection = server.connect("app", PASSWORDS.app, OTHER_POD)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS my_app.orders (id INT PRIMARY KEY)")
        cursor.execute("REPLACE INTO my_app.orders VALUES (1)")
        cursor.execute("SELECT id FROM my_app.orders")
        assert cursor.fetchall() == ((1,),)
    connection.close()
    # `my_app`.* would cover myXapp without the wildcard's escape.
    server.run(["CREATE DATABASE IF NOT EXISTS myXapp"])
    for sql in ("CREATE TABLE myXapp.t (id INT)", "CREATE DATABASE other",
                "SELECT * FROM mysql.user", f"SELECT * FROM {heartbeat.SCHEMA}.{heartbeat.TABLE}"):
        assert "denied" in server.refusal("app", PASSWORDS.app, sql, OTHER_POD), sql


def test_an_app_account_and_database_named_with_quotes_and_wildcards_work(server: Server) -> None:
    odd = replace(server.accounts, app_user="o'b\\r%", app_database="it's_%db")
    server.run(accounts_sql(odd, PASSWORDS))
    connection = server.connect("o'b\\r%", PASSWORDS.app, OTHER_POD)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS `it's_%db`.t (id INT)")
        cursor.execute("SELECT COUNT(*) FROM `it's_%db`.t")
        assert cursor.fetchall() == ((0,),)
    connection.close()
    server.run(["CREATE DATABASE IF NOT EXISTS `itXs_Adb`"])
    assert "denied" in server.refusal("o'b\\r%", PASSWORDS.app,
                                      "CREATE TABLE itXs_Adb.t (id INT)", OTHER_POD)


def test_mysql_backup_account_takes_only_the_pods_certificate_from_another_pod(
        mysql_server: Server) -> None:
    server = mysql_server
    login = "SELECT CURRENT_USER()"
    assert server.refusal("backup", PASSWORDS.backup, login, OTHER_POD, "pods") == "ran"
    assert "denied" in server.refusal("backup", PASSWORDS.backup, login, OTHER_POD)
    assert "denied" in server.refusal("backup", PASSWORDS.backup, login, OTHER_POD, "other")
    # Inside the pod, the archiver's login rotates the binary log without a certificate.
    assert server.refusal("backup", PASSWORDS.backup, "FLUSH BINARY LOGS") == "ran"


def test_mariadb_backup_account_takes_a_backup_from_its_pod_only(mariadb_server: Server) -> None:
    server = mariadb_server
    # As the backup listener runs it (scripts/sidecar.sh, stream_backup); argv is fine for a
    # test server's password.
    result, info = server.real.backup(
        "--slave-info", "--user=backup", f"--password={PASSWORDS.backup}", f"--host={THIS_POD}",
        f"--port={server.port}")
    assert result.returncode == 0, result.stderr[-1500:]
    assert "mariadb_backup_binlog_info" in info
    assert "denied" in server.refusal("backup", PASSWORDS.backup, "SELECT * FROM my_app.orders")
    assert "denied" in server.refusal("backup", PASSWORDS.backup, "SELECT 1", OTHER_POD)


def test_the_metrics_account_reads_status_and_the_heartbeat_view_from_its_pod_only(
        server: Server) -> None:
    for sql in ("SHOW GLOBAL STATUS", server.dialect.replica_status,
                "SELECT * FROM performance_schema.global_status",
                f"SELECT ts, server_id FROM {heartbeat.SCHEMA}.{heartbeat.EXPORTER_VIEW}"):
        assert server.refusal("metrics", METRICS_PASSWORD, sql) == "ran", sql
    assert "denied" in server.refusal("metrics", METRICS_PASSWORD, "SELECT * FROM my_app.orders")
    assert "denied" in server.refusal("metrics", METRICS_PASSWORD, "SELECT 1", OTHER_POD)


def test_a_rerun_with_changed_passwords_takes_effect(server: Server) -> None:
    logins: dict[str, tuple[str, str, str, str | None]] = {
        "replicator": (PASSWORDS.replication, CHANGED.replication, OTHER_POD, None),
        "app": (PASSWORDS.app, CHANGED.app, OTHER_POD, None),
        "metrics": (METRICS_PASSWORD, "M-changed-pass", THIS_POD, None),
        "backup": (PASSWORDS.backup, CHANGED.backup, THIS_POD, None)}
    if server.flavor is Flavor.MYSQL:
        logins["backup@%"] = (PASSWORDS.backup, CHANGED.backup, OTHER_POD, "pods")
    server.run(accounts_sql(server.accounts, CHANGED))
    try:
        outcomes = {user: (server.refusal(user.split("@")[0], old, "SELECT 1", source, cert),
                           server.refusal(user.split("@")[0], new, "SELECT 1", source, cert))
                    for user, (old, new, source, cert) in logins.items()}
    finally:
        server.run(accounts_sql(server.accounts, PASSWORDS))
    assert all("denied" in old and new == "ran" for old, new in outcomes.values()), outcomes


def test_the_binary_log_holds_no_clear_password(server: Server) -> None:
    text = server.binary_log_text()
    assert "CREATE USER" in text and "ALTER USER" in text
    raw = b"".join(path.read_bytes() for path in server.binary_logs())
    for password in (*vars(PASSWORDS).values(), *vars(CHANGED).values()):
        assert isinstance(password, str)
        assert password not in text
        assert password.encode() not in raw


def test_the_heartbeat_is_written_on_a_writable_server_and_names_it(server: Server) -> None:
    deadline = time.monotonic() + 30
    while server.value(heartbeat.heartbeat_micros_sql()) is None:
        assert time.monotonic() < deadline, "no heartbeat within 30 s on a writable server"
        time.sleep(0.5)
    assert server.value(heartbeat.heartbeat_writer_offset_sql()) == 0
    micros = server.value(heartbeat.heartbeat_micros_sql())
    assert isinstance(micros, int) and abs(micros / 1e6 - time.time()) < 60


@contextlib.contextmanager
def read_only(server: Server) -> Iterator[None]:
    """The server demoted, as a replica's is, and promoted again afterwards."""
    server.run(server.dialect.demote())
    try:
        yield
    finally:
        server.run(server.dialect.promote())


def gtid_position(server: Server) -> object:
    return server.value(f"SELECT {server.dialect.gtid_position_expression}")


def wait_for_a_heartbeat_after(server: Server, written: object) -> None:
    deadline = time.monotonic() + 30
    while server.value(heartbeat.heartbeat_micros_sql()) in (None, written):
        assert time.monotonic() < deadline, "no new heartbeat within 30 s on a writable server"
        time.sleep(0.5)


def test_a_read_only_server_writes_no_heartbeat(server: Server) -> None:
    wait_for_a_heartbeat_after(server, None)
    with read_only(server):
        written = server.value(heartbeat.heartbeat_micros_sql())
        time.sleep(3)  # three of the event's seconds
        assert server.value(heartbeat.heartbeat_micros_sql()) == written
    wait_for_a_heartbeat_after(server, written)


def test_the_heartbeat_setup_on_a_read_only_server_logs_nothing_and_leaves_it_read_only(
        server: Server) -> None:
    with read_only(server):
        # Made anew, as a replica's agent does at its first start.
        server.run(["SET SESSION sql_log_bin = 0", f"DROP DATABASE {heartbeat.SCHEMA}",
                    "SET SESSION sql_log_bin = 1"] if server.flavor is Flavor.MARIADB else
                   ["SET GLOBAL super_read_only = 0", "SET SESSION sql_log_bin = 0",
                    f"DROP DATABASE {heartbeat.SCHEMA}", "SET SESSION sql_log_bin = 1",
                    "SET GLOBAL super_read_only = 1"])
        position = gtid_position(server)
        heartbeat.set_up_heartbeat(server.root, server.dialect)
        assert gtid_position(server) == position
        assert server.value(f"SELECT @@GLOBAL.{server.dialect.read_only_variable}") == 1
    # Writable again, the event made on the read-only server writes.
    wait_for_a_heartbeat_after(server, None)


def test_mariadb_10_11_accepts_the_accounts_and_refuses_finding_1_to_them(
        tmp_path: Path) -> None:
    # Debian 12's server has no certificate of its own, so its logins are plain.
    with start("mariadb 10.11", Flavor.MARIADB, tmp_path, tls=False) as server:
        outcomes = finding_1_outcomes(server)
    assert all("denied" in outcome for outcome in outcomes.values()), outcomes
