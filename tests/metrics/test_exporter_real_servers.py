"""The exporter as rendered, against real servers: Debian's prometheus-mysqld-exporter runs with
the rendered arguments and option file, as the user users.sh creates, beside a real MariaDB 10.11
primary and a replica replicating from it by GTID, all on 127.0.0.1 in a temporary directory.

Substitutions for this machine, and only these: the servers and the exporters listen on free
loopback ports instead of 3306 and 9104 (the option file's `port=` line and the listen address
are rewritten), and the option file is read from a temporary directory instead of the Secret's
mount. Debian ships exporter 0.14, which takes every rendered flag as it is; the pods run 0.18,
which adds MariaDB GTID position series that 0.14 does not have.

With `requireClientTls`, a server of its own presents the rendered certificate and refuses plain
connections, and the exporter connects with the rendered option file; there the certificate's
files are also read from a temporary directory instead of their mount.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mysql_cluster.render import render_stack
from run_order import xdist_worker
from stack_manifests import PROJECT_DIR, container, find, server_config_map

from .monitored_stack import alert_expressions, metric_names, panel_expressions
from .upstream_metrics import EXPORTER_PREFIX

EXPORTER = "prometheus-mysqld-exporter"
SERVER_PROGRAMS = ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin")
WAIT_SECONDS = 60
TLS_DIR = "/etc/mysql-cluster/tls"


# Ports handed out by this process: a port is only bound once its server starts, so a second
# free_port() before that must not give it again.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free port on 127.0.0.1, from 33000-33999, where the e2e tests and services do not go;
    under pytest-xdist from this worker's share of that range, so two workers never race for
    one port between choosing it and binding it."""
    worker, workers = xdist_worker()
    share = 1000 // workers
    first = 33000 + worker * share
    for _ in range(100):
        port = random.randint(first, first + share - 1)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {first}-{first + share - 1}")


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_SECONDS}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class Server:
    """A mariadbd of its own: data directory, socket and port; root over the socket."""

    name: str
    directory: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.directory / "mysqld.sock"

    def start(self, server_id: int, role_cnf: str) -> None:
        data = self.directory / "data"
        data.mkdir(parents=True)
        shutil.chown(self.directory, "mysql", "mysql")
        shutil.chown(data, "mysql", "mysql")
        config = self.directory / "my.cnf"
        # This machine's paths and port, then the options the ConfigMap gives the pod's role.
        config.write_text(
            f"[mysqld]\ndatadir={data}\nsocket={self.socket}\nport={self.port}\n"
            f"bind-address=127.0.0.1\npid-file={self.directory}/mysqld.pid\nuser=mysql\n"
            f"server-id={server_id}\nlog-error={self.directory}/error.log\n\n{role_cnf}")
        subprocess.run(["mariadb-install-db", f"--defaults-file={config}", "--skip-test-db",
                        "--auth-root-authentication-method=socket"],
                       check=True, capture_output=True, timeout=120)
        self.process = subprocess.Popen(["mariadbd", f"--defaults-file={config}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.process.poll() is None and subprocess.run(
            ["mariadb-admin", f"--socket={self.socket}", "ping"],
            capture_output=True).returncode == 0, f"{self.name} to accept connections")

    def sql(self, statements: str, options_file: Path | None = None) -> str:
        """Runs SQL as root over the socket, or as the user of `options_file` over TCP."""
        if options_file is None:
            argv = ["mariadb", f"--socket={self.socket}", "--user=root"]
        else:
            argv = ["mariadb", f"--defaults-extra-file={options_file}", "--protocol=tcp"]
        result = subprocess.run([*argv, "--batch", "--skip-column-names"], input=statements,
                                capture_output=True, text=True, timeout=30)
        if result.returncode:
            raise RuntimeError(result.stderr.strip())
        return result.stdout

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Exporter:
    process: subprocess.Popen
    port: int
    log: Path

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics, keyed by series as the exposition format writes it."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as page:
            text = page.read().decode()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                samples[series] = float(value)
        return samples

    def value(self, name: str) -> float | None:
        """The value of the one series named `name` (any labels), None when there is none."""
        found = [value for series, value in self.metrics().items()
                 if re.fullmatch(rf"{name}(\{{.*\}})?", series)]
        assert len(found) <= 1, f"{name}: {found}"
        return found[0] if found else None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    primary: Server
    replica: Server
    exporters: dict[str, Exporter]
    metrics_options: Path  # the exporter's rendered option file, pointed at the primary


def rendered_manifests(**config: str) -> list[dict]:
    return render_stack(PROJECT_DIR, "dev", {"flavor": "mariadb", "version": "10.11",
                                             "metrics": "true", **config},
                        reveal_secrets=True)


def metrics_secrets(manifests: list[dict]) -> dict[str, str]:
    return {**find(manifests, "Secret", "mysql-credentials")["stringData"],
            **find(manifests, "Secret", "mysql-metrics")["stringData"]}


def work_directory() -> Path:
    """A temporary directory for the servers, after checking that the programs are here."""
    missing = [program for program in (EXPORTER, *SERVER_PROGRAMS) if not shutil.which(program)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run tools/install.sh")
    # The servers run as mysql, which must reach their directories; pytest's are root's only.
    workdir = Path(tempfile.mkdtemp(prefix="metrics-e2e-"))
    workdir.chmod(0o755)
    return workdir


def write_options(path: Path, text: str, port: int) -> Path:
    """The exporter's option file, pointed at the server on `port`."""
    path.write_text(re.sub(r"(?m)^port=\d+$", f"port={port}", text))
    path.chmod(0o600)
    return path


def script_sql(script: str, stdin: str = "") -> str:
    """The SQL a function of the backup sidecar's scripts writes, for MariaDB 10.11."""
    env = {"PATH": os.environ["PATH"], "DB_FLAVOR": "mariadb", "DB_VERSION": "10.11",
           "REPLICATION_USER": "replicator", "BACKUP_USER": "backup", "APP_USER": "app",
           "APP_DATABASE": "app", "METRICS_USER": "metrics"}
    return subprocess.run(["bash", "-c", "set -euo pipefail; source scripts/lib.sh; "
                           f"source scripts/heartbeat.sh; source scripts/users.sh; {script}"],
                          input=stdin, env=env, cwd=PROJECT_DIR, capture_output=True, text=True,
                          check=True).stdout


def heartbeat_setup_sql() -> str:
    """What the backup sidecar runs on every server before it takes its role."""
    return script_sql("heartbeat_setup_sql")


def users_sql(secrets: dict[str, str]) -> str:
    """The SQL the backup sidecar runs on the primary, from users.sh as it is."""
    passwords = "".join(secrets[key] + "\n" for key in (
        "replication-password", "backup-password", "app-password", "metrics-password"))
    return script_sql('read -r r; read -r b; read -r a; read -r m; '
                      'users_sql "$r" "$b" "$a"; metrics_user_sql "$m"', passwords)


def start_exporter(args: list[str], options_file: Path, up: int = 1) -> Exporter:
    """An exporter serving metrics, once its first scrapes give `mysql_up` the value `up`."""
    port = free_port()
    translated = []
    for arg in args:
        if arg.startswith("--config.my-cnf="):
            arg = f"--config.my-cnf={options_file}"
        elif arg.startswith("--web.listen-address="):
            arg = f"--web.listen-address=127.0.0.1:{port}"
        translated.append(arg)
    log = options_file.with_suffix(".log")
    with log.open("wb") as stderr:
        process = subprocess.Popen([EXPORTER, *translated], env={"PATH": os.environ["PATH"]},
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    exporter = Exporter(process, port, log)

    def serving() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{EXPORTER} exited: {log.read_text()}")
        try:
            return exporter.value("mysql_up") == up
        except OSError:
            return False
    try:
        wait_for(serving, f"{EXPORTER} on port {port} to show mysql_up {up}")
    except BaseException:
        exporter.stop()
        raise
    return exporter


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Without TLS: the replication set up by hand below is plain; the exporter over TLS has a
    # server of its own (tls_server).
    manifests = rendered_manifests(tlsSource="none")
    secrets = metrics_secrets(manifests)
    cnf = server_config_map(manifests)["data"]
    args = container(find(manifests, "StatefulSet"), "mysqld-exporter")["args"]
    workdir = work_directory()
    primary = Server("primary", workdir / "primary", free_port())
    replica = Server("replica", workdir / "replica", free_port())
    exporters: dict[str, Exporter] = {}
    try:
        primary.start(100, cnf["primary.cnf"])
        replica.start(101, cnf["replica.cnf"])
        for server in (primary, replica):
            server.sql(heartbeat_setup_sql())
        primary.sql(users_sql(secrets))
        replica.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                    "MASTER_USER='replicator', "
                    f"MASTER_PASSWORD='{secrets['replication-password']}', "
                    "MASTER_USE_GTID=slave_pos; START SLAVE;")
        primary.sql("CREATE TABLE app.orders (id INT PRIMARY KEY); "
                    "INSERT INTO app.orders VALUES (1);")
        wait_for(lambda: replica.sql(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'orders'"
        ).strip() == "1", "the replica to receive the primary's table")
        for server in (primary, replica):
            options = write_options(workdir / f"{server.name}-exporter.cnf", secrets["my.cnf"],
                                    server.port)
            exporters[server.name] = start_exporter(args, options)
        yield Cluster(primary, replica, exporters, workdir / "primary-exporter.cnf")
    finally:
        for exporter in exporters.values():
            exporter.stop()
        replica.stop()
        primary.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.timeout(180)
def test_the_replica_exporter_shows_both_replication_threads_running_and_the_lag(cluster):
    replica = cluster.exporters["replica"]
    assert replica.value("mysql_slave_status_slave_io_running") == 1
    assert replica.value("mysql_slave_status_slave_sql_running") == 1
    assert replica.value("mysql_slave_status_seconds_behind_master") == 0


@pytest.mark.timeout(180)
def test_the_primary_exporter_shows_no_replica_status(cluster):
    assert cluster.exporters["primary"].value("mysql_slave_status_slave_io_running") is None


@pytest.mark.timeout(180)
def test_every_enabled_collector_succeeds_with_the_metrics_user_privileges(cluster):
    for exporter in cluster.exporters.values():
        assert exporter.value("mysql_exporter_last_scrape_error") == 0
        assert exporter.value("mysql_binlog_files") >= 1
        # The metrics user reads the heartbeat's view by its schema-level grant.
        assert exporter.value("mysql_heartbeat_stored_timestamp_seconds") is not None


@pytest.mark.timeout(180)
def test_the_metrics_user_reaches_only_status_and_performance_schema(cluster):
    grants = cluster.primary.sql("SHOW GRANTS FOR 'metrics'@'127.0.0.1'")
    assert "GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.*" in grants
    assert "GRANT SELECT ON `performance_schema`.*" in grants
    assert "WITH MAX_USER_CONNECTIONS 3" in cluster.primary.sql(
        "SHOW CREATE USER 'metrics'@'127.0.0.1'")
    with pytest.raises(RuntimeError, match="SELECT command denied"):
        cluster.primary.sql("SELECT * FROM app.orders", options_file=cluster.metrics_options)


@pytest.mark.timeout(180)
def test_a_stopped_applier_shows_on_the_next_scrape(cluster):
    replica = cluster.exporters["replica"]
    cluster.replica.sql("STOP SLAVE SQL_THREAD")
    try:
        assert replica.value("mysql_slave_status_slave_sql_running") == 0
        assert replica.value("mysql_slave_status_slave_io_running") == 1
        # No lag is known while nothing applies: the series goes, the not-replicating alert speaks.
        assert replica.value("mysql_slave_status_seconds_behind_master") is None
    finally:
        cluster.replica.sql("START SLAVE SQL_THREAD")


@pytest.mark.timeout(180)
def test_each_pod_exports_the_heartbeat_it_applied_and_its_own_clock(cluster):
    for name, exporter in cluster.exporters.items():
        wait_for(lambda: exporter.value("mysql_heartbeat_stored_timestamp_seconds") is not None,
                 f"the {name}'s exporter to show a heartbeat")
        samples = exporter.metrics()
        stored = {series: value for series, value in samples.items()
                  if series.startswith("mysql_heartbeat_stored_timestamp_seconds")}
        # Written by the primary (server id 100), whichever server's exporter shows it.
        assert list(stored) == ['mysql_heartbeat_stored_timestamp_seconds{server_id="100"}']
        now = samples['mysql_heartbeat_now_timestamp_seconds{server_id="100"}']
        # The primary writes every second; the replica applies it within moments.
        assert 0 <= now - stored.popitem()[1] < 10
        # Unix times: the view gives the UTC heartbeat and the exporter reads the clock in UTC.
        assert abs(now - time.time()) < 10


@pytest.mark.timeout(180)
def test_a_replica_whose_link_is_cut_shows_its_heartbeat_lag_growing(cluster):
    # What the lag alert reads: the replica's clock minus the newest heartbeat it has applied.
    replica = cluster.exporters["replica"]

    def lag() -> float:
        samples = replica.metrics()
        return (samples['mysql_heartbeat_now_timestamp_seconds{server_id="100"}']
                - samples['mysql_heartbeat_stored_timestamp_seconds{server_id="100"}'])
    cluster.replica.sql("STOP SLAVE IO_THREAD")
    try:
        wait_for(lambda: lag() > 5, "the replica's heartbeat lag to pass 5 s")
    finally:
        cluster.replica.sql("START SLAVE IO_THREAD")
    wait_for(lambda: lag() < 5, "the replica's heartbeat lag to fall back under 5 s")


@pytest.mark.timeout(180)
def test_read_only_shows_which_server_accepts_writes(cluster):
    assert cluster.exporters["primary"].value("mysql_global_variables_read_only") == 0
    assert cluster.exporters["replica"].value("mysql_global_variables_read_only") == 1


@pytest.mark.timeout(180)
def test_every_exporter_metric_the_alerts_and_dashboard_read_is_served(cluster):
    served = {series.split("{", 1)[0] for exporter in cluster.exporters.values()
              for series in exporter.metrics()}
    expressions = {**alert_expressions(), **panel_expressions()}
    for what, expr in expressions.items():
        names, patterns = metric_names(expr)
        for name in names:
            if name.startswith(EXPORTER_PREFIX):
                assert name in served, f"{what}: the exporter serves no {name}"
        for pattern in patterns:
            assert any(re.fullmatch(pattern, name) for name in served), \
                f"{what}: the exporter serves no metric matching {pattern}"


# --- Over TLS, with requireClientTls ---------------------------------------------------------

@dataclass
class TlsServer:
    server: Server
    exporter_args: list[str]
    options: str  # the exporter's rendered option file, with this machine's paths
    workdir: Path


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    """A server with the rendered certificate and options, which refuse plain connections."""
    manifests = rendered_manifests(requireClientTls="true")
    workdir = work_directory()
    certificate_dir = workdir / "tls"
    certificate_dir.mkdir()
    for name, text in find(manifests, "Secret", "mysql-tls")["stringData"].items():
        (certificate_dir / name).write_text(text)
        shutil.chown(certificate_dir / name, "mysql", "mysql")
        (certificate_dir / name).chmod(0o400)

    def local(text: str) -> str:
        return text.replace(TLS_DIR, str(certificate_dir))
    secrets = metrics_secrets(manifests)
    args = container(find(manifests, "StatefulSet"), "mysqld-exporter")["args"]
    server = Server("tls", workdir / "server", free_port())
    try:
        server.start(100, local(server_config_map(manifests)["data"]["primary.cnf"]))
        server.sql(heartbeat_setup_sql())
        server.sql(users_sql(secrets))
        yield TlsServer(server, args, local(secrets["my.cnf"]), workdir)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def tls_exporter(tls_server: TlsServer, name: str, options: str, up: int) -> Exporter:
    path = write_options(tls_server.workdir / f"{name}.cnf", options, tls_server.server.port)
    return start_exporter(tls_server.exporter_args, path, up)


@pytest.mark.timeout(180)
def test_with_client_tls_required_the_exporter_reaches_its_server_over_tls(tls_server):
    assert "ssl-ca=" in tls_server.options
    exporter = tls_exporter(tls_server, "rendered", tls_server.options, up=1)
    try:
        assert exporter.value("mysql_exporter_last_scrape_error") == 0
    finally:
        exporter.stop()


@pytest.mark.timeout(180)
def test_the_exporter_serves_no_date_of_the_servers_certificate(tls_server):
    # The server knows it (Ssl_server_not_after), but as text, which the exporter drops: no
    # alert can read a self-signed or given certificate's expiry from the exporter.
    assert tls_server.server.sql("SHOW GLOBAL STATUS LIKE 'Ssl_server_not_after'").strip()
    exporter = tls_exporter(tls_server, "dates", tls_server.options, up=1)
    try:
        assert not [series for series in exporter.metrics() if "not_after" in series
                    or "not_before" in series]
    finally:
        exporter.stop()


@pytest.mark.timeout(180)
def test_without_its_ssl_ca_line_the_exporter_is_refused_by_a_server_requiring_tls(tls_server):
    plain = re.sub(r"(?m)^ssl-ca=.*\n", "", tls_server.options)
    exporter = tls_exporter(tls_server, "plain", plain, up=0)
    exporter.stop()
    # MariaDB answers a plain connection under require_secure_transport as it answers a wrong
    # password; the password is the one the exporter logs in with over TLS.
    assert "Access denied for user 'metrics'@'127.0.0.1'" in exporter.log.read_text()


@pytest.mark.timeout(180)
def test_an_exporter_trusting_another_ca_refuses_the_server(tls_server):
    other_ca = tls_server.workdir / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=another CA", "-days", "1",
                    "-keyout", tls_server.workdir / "other-ca.key", "-out", other_ca],
                   check=True, capture_output=True)
    options = re.sub(r"(?m)^ssl-ca=.*$", f"ssl-ca={other_ca}", tls_server.options)
    exporter = tls_exporter(tls_server, "other-ca", options, up=0)
    exporter.stop()
    assert "certificate signed by unknown authority" in exporter.log.read_text()
