"""The exporter as rendered, against real servers: mysqld-exporter runs with the rendered
arguments and option file, as the account the agent creates (accounts.py), beside a real primary and a replica
replicating from it by GTID, all on 127.0.0.1, on each flavor's default server (MySQL 9.7 and
MariaDB 11.8, from the end-to-end tests' server trees: tests/e2e/server_roots.py).

The exporter is Debian's prometheus-mysqld-exporter from the suite that packages MySQL 9.7 (sid,
0.19; the pods run upstream's 0.18): Debian 12's 0.14 asks for `SHOW SLAVE STATUS`, which MySQL
8.4 removed. The sid tree does not install it, so its package is downloaded once with that tree's
apt and unpacked under the trees' cache (exporter_program below).

Substitutions for this machine, and only these: the servers and the exporters listen on free
loopback ports instead of 3306 and 9104 (the option file's `port=` line and the listen address
are rewritten), the servers run under chroot in their tree with a temporary directory of it, the
buffer pool is small, and the option file is read from a temporary directory instead of the
Secret's mount.

With `requireClientTls`, a server of its own presents the rendered certificate and refuses plain
connections, and the exporter connects with the rendered option file; there the certificate's
files are also read from a temporary directory instead of their mount.
"""
from __future__ import annotations

import fcntl
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

import pymysql.converters
import pytest
from mysql_cluster_agent import accounts, heartbeat
from mysql_cluster_agent.accounts import ClusterAccounts, Passwords
from mysql_cluster_agent.dialect import Flavor as ServerFlavor, dialect_for

from mysql_cluster.tooling.render import render_stack
from e2e.server_roots import CACHE_DIR, DEFAULT_SERVERS, SERVERS, ServerRoot, server_root
from run_order import xdist_worker
from stack_manifests import PROJECT_DIR, container, find, server_config_map

from .monitored_stack import alert_expressions, every_panel_expression, metric_names
from .upstream_metrics import is_exporter_metric

EXPORTER_PACKAGE = "prometheus-mysqld-exporter"
# The tree whose apt fetches the exporter's package (Debian sid, as for MySQL 9.7).
EXPORTER_SUITE_SERVER = "mysql-9.7"
WAIT_SECONDS = 60
TLS_DIR = "/etc/mysql-cluster/tls"


@dataclass(frozen=True)
class Flavor:
    """A flavor's programs and statements, where the two differ."""

    server: str
    client: str
    start_replica_sql: str  # format(port=, password=)
    # The exporter names replica status series after the server's own columns.
    io_running: str
    sql_running: str
    seconds_behind: str
    metrics_grant: str


FLAVORS = {
    "mysql": Flavor(
        "mysqld", "mysql",
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT={port}, "
        "SOURCE_USER='replicator', SOURCE_PASSWORD='{password}', SOURCE_AUTO_POSITION=1, "
        "GET_SOURCE_PUBLIC_KEY=1; START REPLICA;",
        "mysql_slave_status_replica_io_running", "mysql_slave_status_replica_sql_running",
        "mysql_slave_status_seconds_behind_source", "GRANT PROCESS, REPLICATION CLIENT ON *.*"),
    "mariadb": Flavor(
        "mariadbd", "mariadb",
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, MASTER_USER='replicator', "
        "MASTER_PASSWORD='{password}', MASTER_USE_GTID=slave_pos; START SLAVE;",
        "mysql_slave_status_slave_io_running", "mysql_slave_status_slave_sql_running",
        "mysql_slave_status_seconds_behind_master",
        "GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.*"),
}


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


def exporter_program() -> Path:
    """Debian sid's mysqld-exporter, fetched once by the sid tree's apt and unpacked (not
    installed) under the trees' cache; it is a static program that runs on this machine."""
    unpacked = CACHE_DIR / EXPORTER_PACKAGE
    program = unpacked / "usr" / "bin" / EXPORTER_PACKAGE
    if program.exists():
        return program
    tree = server_root(EXPORTER_SUITE_SERVER).path
    with open(CACHE_DIR / f"{EXPORTER_PACKAGE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if program.exists():
            return program
        with tempfile.TemporaryDirectory(dir=tree / "tmp") as download:
            fetch = ["chroot", str(tree), "bash", "-c",
                     f'cd "$1" && apt-get download {EXPORTER_PACKAGE}', "fetch",
                     "/" + str(Path(download).relative_to(tree))]
            result = subprocess.run(fetch, capture_output=True, text=True, timeout=300)
            if result.returncode:  # the tree's package lists may name a version since replaced
                subprocess.run(["chroot", str(tree), "apt-get", "update"], capture_output=True,
                               timeout=300)
                result = subprocess.run(fetch, capture_output=True, text=True, timeout=300)
            packages = list(Path(download).glob("*.deb"))
            if result.returncode or not packages:
                pytest.fail(f"apt-get download {EXPORTER_PACKAGE} in {tree} failed: "
                            f"{(result.stdout + result.stderr).strip()[-500:]}")
            partial = unpacked.with_name(unpacked.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            subprocess.run(["dpkg-deb", "-x", str(packages[0]), str(partial)], check=True,
                           capture_output=True)
            partial.rename(unpacked)
    return program


@dataclass
class Server:
    """A server of its own, run under chroot in its tree: data directory, socket and port in a
    directory of the tree; root over the socket."""

    name: str
    root: ServerRoot
    directory: Path  # inside root.path
    port: int
    process: subprocess.Popen | None = None

    @property
    def flavor(self) -> Flavor:
        return FLAVORS[self.root.flavor]

    def inside(self, path: Path) -> str:
        """`path` as the chrooted programs see it."""
        return "/" + str(path.relative_to(self.root.path))

    def run(self, *argv: str, **options) -> subprocess.CompletedProcess:
        return subprocess.run(["chroot", str(self.root.path), *argv], **options)

    @property
    def socket(self) -> str:
        return self.inside(self.directory / "mysqld.sock")

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def start(self, server_id: int, role_cnf: str) -> None:
        self.prepare(server_id, role_cnf)
        self.launch()

    def prepare(self, server_id: int, role_cnf: str, copy_of: Server | None = None) -> None:
        """Writes the option file and initializes the data directory, or copies that of
        `copy_of`, prepared and not yet launched (quicker than a second initialization)."""
        data = self.data
        self.directory.mkdir()
        shutil.chown(self.directory, "mysql", "mysql")
        config, initial = self.directory / "my.cnf", self.directory / "initial.cnf"
        # This machine's paths and port; the server's own config has the role's options too.
        base = (f"[mysqld]\ndatadir={self.inside(data)}\nsocket={self.socket}\nport={self.port}\n"
                f"bind-address=127.0.0.1\npid-file={self.inside(self.directory)}/mysqld.pid\n"
                f"user=mysql\nlog-error={self.inside(self.directory)}/error.log\nmysqlx=OFF\n"
                # Its own temporary directory: a server starting deletes every #sql file in its
                # tmpdir, those of another server of the same tree included.
                f"tmpdir={self.inside(self.directory)}\n")
        if self.root.flavor == "mariadb":
            base = base.replace("mysqlx=OFF\n", "")
        initial.write_text(base)
        config.write_text(f"{base}server-id={server_id}\n\n{role_cnf}\n[mysqld]\n"
                          "innodb-buffer-pool-size=64M\n")
        if copy_of is not None:
            subprocess.run(["cp", "-a", str(copy_of.data), str(data)], check=True)
            # MySQL makes a server UUID anew where auto.cnf is missing; replication needs two.
            (data / "auto.cnf").unlink(missing_ok=True)
        else:
            self.initialize(initial)

    def launch(self) -> None:
        config = self.directory / "my.cnf"
        self.process = subprocess.Popen(
            ["chroot", str(self.root.path), self.flavor.server,
             f"--defaults-file={self.inside(config)}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited: {(self.directory / 'error.log').read_text()}")
            return self.run(self.flavor.client, f"--socket={self.socket}", "--user=root",
                            "-e", "SELECT 1", capture_output=True).returncode == 0
        wait_for(answers, f"{self.name} to accept connections")

    def initialize(self, config: Path) -> None:
        if self.root.flavor == "mysql":
            init = [self.flavor.server, f"--defaults-file={self.inside(config)}",
                    "--initialize-insecure"]
        else:
            init = ["mariadb-install-db", f"--defaults-file={self.inside(config)}",
                    "--skip-test-db", "--auth-root-authentication-method=socket",
                    # A tree has no /etc/hosts: no check that the host's name resolves, as the
                    # mariadb image's entrypoint does it (docker-library/mariadb).
                    "--rpm"]
        result = self.run(*init, capture_output=True, text=True, timeout=180)
        if result.returncode:
            pytest.fail(f"{self.name}: {' '.join(init)} failed: "
                        f"{(result.stdout + result.stderr)[-500:]}")

    def sql(self, statements: str, options_file: Path | None = None) -> str:
        """Runs SQL as root over the socket, or as the user of `options_file` (a file in the
        server's directory) over TCP."""
        if options_file is None:
            argv = [self.flavor.client, f"--socket={self.socket}", "--user=root"]
        else:
            argv = [self.flavor.client, f"--defaults-extra-file={self.inside(options_file)}",
                    "--protocol=tcp"]
        result = self.run(*argv, "--batch", "--skip-column-names", input=statements,
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


def collectors_failed(exporter: Exporter) -> list[str]:
    """The collectors whose last scrape failed (0.15 and later report each one's success)."""
    success = {series: value for series, value in exporter.metrics().items()
               if series.startswith("mysql_exporter_collector_success")}
    assert success, "the exporter reports no collector's success"
    return [series for series, value in success.items() if value != 1]


@dataclass
class Cluster:
    primary: Server
    replica: Server
    exporters: dict[str, Exporter]
    metrics_options: Path  # the exporter's rendered option file, pointed at the primary

    @property
    def flavor(self) -> Flavor:
        return self.primary.flavor


def rendered_manifests(root: ServerRoot, **config: str) -> list[dict]:
    return render_stack(PROJECT_DIR, "dev", {"flavor": root.flavor, "version": root.version,
                                             "metrics": "true", **config},
                        reveal_secrets=True)


def metrics_secrets(manifests: list[dict]) -> dict[str, str]:
    return {**find(manifests, "Secret", "mysql-credentials")["stringData"],
            **find(manifests, "Secret", "mysql-metrics")["stringData"]}


def work_directory(root: ServerRoot) -> Path:
    """A temporary directory for the servers, in their tree."""
    # The servers run as mysql, which must reach their directories.
    workdir = Path(tempfile.mkdtemp(prefix="metrics-e2e-", dir=root.path / "tmp"))
    workdir.chmod(0o755)
    return workdir


def write_options(path: Path, text: str, port: int) -> Path:
    """The exporter's option file, pointed at the server on `port`."""
    path.write_text(re.sub(r"(?m)^port=\d+$", f"port={port}", text))
    path.chmod(0o600)
    return path


def as_text(statements: list[tuple[str, tuple[object, ...]]]) -> str:
    """Statements of the agent's builders as the SQL client reads them, their arguments quoted
    as the agent's driver quotes them."""
    return "".join((text % tuple(pymysql.converters.escape_item(arg, "utf8mb4") for arg in args)
                    if args else text) + ";\n" for text, args in statements)


def heartbeat_setup_sql(root: ServerRoot) -> str:
    """What the pod's agent runs on every server before it gives it its role."""
    return as_text([(text, ()) for text in heartbeat.heartbeat_setup_sql(
        dialect_for(ServerFlavor(root.flavor), root.version))])


def users_sql(root: ServerRoot, secrets: dict[str, str]) -> str:
    """The accounts the pod's agent makes on the primary (accounts.py), the exporter's among them."""
    cluster = ClusterAccounts(flavor=ServerFlavor(root.flavor), replication_user="replicator", backup_user="backup",
                              app_user="app", app_database="app", tls=False,
                              metrics_user="metrics")
    passwords = Passwords(replication=secrets["replication-password"], backup=secrets["backup-password"],
                          app=secrets["app-password"])
    return as_text(accounts.users_sql(cluster, passwords)
                   + accounts.metrics_user_sql(cluster, secrets["metrics-password"]))


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
        process = subprocess.Popen([str(exporter_program()), *translated],
                                   env={"PATH": os.environ["PATH"]},
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    exporter = Exporter(process, port, log)

    def serving() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{EXPORTER_PACKAGE} exited: {log.read_text()}")
        try:
            return exporter.value("mysql_up") == up
        except OSError:
            return False
    try:
        wait_for(serving, f"{EXPORTER_PACKAGE} on port {port} to show mysql_up {up}")
    except BaseException:
        exporter.stop()
        raise
    return exporter


@pytest.fixture(scope="module", params=DEFAULT_SERVERS)
def cluster(request) -> Iterator[Cluster]:
    # Without TLS: the replication set up by hand below is plain; the exporter over TLS has a
    # server of its own (tls_server).
    root = server_root(request.param)
    manifests = rendered_manifests(root, tlsSource="none")
    secrets = metrics_secrets(manifests)
    cnf = server_config_map(manifests)["data"]
    args = container(find(manifests, "StatefulSet"), "mysqld-exporter")["args"]
    workdir = work_directory(root)
    primary = Server("primary", root, workdir / "primary", free_port())
    replica = Server("replica", root, workdir / "replica", free_port())
    exporters: dict[str, Exporter] = {}
    try:
        primary.prepare(100, cnf["primary.cnf"])
        replica.prepare(101, cnf["replica.cnf"], copy_of=primary)
        for server in (primary, replica):
            server.launch()
        for server in (primary, replica):
            server.sql(heartbeat_setup_sql(root))
        primary.sql(users_sql(root, secrets))
        replica.sql(primary.flavor.start_replica_sql.format(
            port=primary.port, password=secrets["replication-password"]))
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
    replica, flavor = cluster.exporters["replica"], cluster.flavor
    assert replica.value(flavor.io_running) == 1
    assert replica.value(flavor.sql_running) == 1
    # A number, and a small one: the replica applies the primary's heartbeat each second, a busy
    # machine may delay it by a second or more (0 exactly is what an idle machine shows).
    lag = replica.value(flavor.seconds_behind)
    assert lag is not None and 0 <= lag <= 10


@pytest.mark.timeout(180)
def test_the_primary_exporter_shows_no_replica_status(cluster):
    assert cluster.exporters["primary"].value(cluster.flavor.io_running) is None


@pytest.mark.timeout(180)
def test_every_enabled_collector_succeeds_with_the_metrics_user_privileges(cluster):
    assert sorted(cluster.exporters) == ["primary", "replica"]
    for exporter in cluster.exporters.values():
        assert collectors_failed(exporter) == []
        assert exporter.value("mysql_binlog_files") >= 1
        # The metrics user reads the heartbeat's view by its schema-level grant.
        assert exporter.value("mysql_heartbeat_stored_timestamp_seconds") is not None


@pytest.mark.timeout(180)
def test_the_metrics_user_reaches_only_status_and_performance_schema(cluster):
    grants = cluster.primary.sql("SHOW GRANTS FOR 'metrics'@'127.0.0.1'")
    assert f"{cluster.flavor.metrics_grant} TO `metrics`@`127.0.0.1`" in grants.replace("'", "`")
    assert "GRANT SELECT ON `performance_schema`.*" in grants
    assert "WITH MAX_USER_CONNECTIONS 3" in cluster.primary.sql(
        "SHOW CREATE USER 'metrics'@'127.0.0.1'")
    with pytest.raises(RuntimeError, match="SELECT command denied"):
        cluster.primary.sql("SELECT * FROM app.orders", options_file=cluster.metrics_options)


@pytest.mark.timeout(180)
def test_a_stopped_applier_shows_on_the_next_scrape(cluster):
    replica, flavor = cluster.exporters["replica"], cluster.flavor
    cluster.replica.sql("STOP REPLICA SQL_THREAD")
    try:
        assert replica.value(flavor.sql_running) == 0
        assert replica.value(flavor.io_running) == 1
        # No lag is known while nothing applies: the series goes, the not-replicating alert speaks.
        assert replica.value(flavor.seconds_behind) is None
    finally:
        cluster.replica.sql("START REPLICA SQL_THREAD")


@pytest.mark.timeout(180)
def test_each_pod_exports_the_heartbeat_it_applied_and_its_own_clock(cluster):
    assert sorted(cluster.exporters) == ["primary", "replica"]
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
    cluster.replica.sql("STOP REPLICA IO_THREAD")
    try:
        wait_for(lambda: lag() > 5, "the replica's heartbeat lag to pass 5 s")
    finally:
        cluster.replica.sql("START REPLICA IO_THREAD")
    wait_for(lambda: lag() < 5, "the replica's heartbeat lag to fall back under 5 s")


@pytest.mark.timeout(180)
def test_read_only_shows_which_server_accepts_writes(cluster):
    assert cluster.exporters["primary"].value("mysql_global_variables_read_only") == 0
    assert cluster.exporters["replica"].value("mysql_global_variables_read_only") == 1


@pytest.mark.timeout(180)
def test_every_exporter_metric_the_alerts_and_dashboard_read_is_served(cluster):
    served = {series.split("{", 1)[0] for exporter in cluster.exporters.values()
              for series in exporter.metrics()}
    expressions = {**alert_expressions(), **every_panel_expression()}
    assert expressions
    for what, expr in expressions.items():
        names, patterns = metric_names(expr)
        for name in names:
            if is_exporter_metric(name):
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


# MariaDB 10.11 too: it refuses a plain connection in other words than 11.8 and MySQL.
@pytest.fixture(scope="module", params=SERVERS)
def tls_server(request) -> Iterator[TlsServer]:
    """A server with the rendered certificate and options, which refuse plain connections."""
    root = server_root(request.param)
    manifests = rendered_manifests(root, requireClientTls="true")
    workdir = work_directory(root)
    certificate_dir = workdir / "tls"
    certificate_dir.mkdir()
    for name, text in find(manifests, "Secret", "mysql-tls")["stringData"].items():
        (certificate_dir / name).write_text(text)
        shutil.chown(certificate_dir / name, "mysql", "mysql")
        (certificate_dir / name).chmod(0o400)

    def local(text: str, directory: str) -> str:
        return text.replace(TLS_DIR, directory)
    secrets = metrics_secrets(manifests)
    args = container(find(manifests, "StatefulSet"), "mysqld-exporter")["args"]
    server = Server("tls", root, workdir / "server", free_port())
    try:
        server.start(100, local(server_config_map(manifests)["data"]["primary.cnf"],
                                server.inside(certificate_dir)))
        server.sql(heartbeat_setup_sql(root))
        server.sql(users_sql(root, secrets))
        # The exporter runs outside the tree.
        yield TlsServer(server, args, local(secrets["my.cnf"], str(certificate_dir)), workdir)
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
        assert collectors_failed(exporter) == []
    finally:
        exporter.stop()


@pytest.mark.timeout(180)
def test_the_exporter_serves_the_expiry_of_the_servers_certificate_as_a_unix_time(tls_server):
    # The server says it as text (Ssl_server_not_after); 0.19 parses it, where 0.14 dropped it.
    text = tls_server.server.sql("SHOW GLOBAL STATUS LIKE 'Ssl_server_not_after'").split("\t")[1]
    expiry = time.mktime(time.strptime(text.strip(), "%b %d %H:%M:%S %Y %Z")) - time.timezone
    exporter = tls_exporter(tls_server, "dates", tls_server.options, up=1)
    try:
        assert exporter.value("mysql_global_status_ssl_server_not_after") == expiry
    finally:
        exporter.stop()


@pytest.mark.timeout(180)
def test_without_its_ssl_ca_line_the_exporter_is_refused_by_a_server_requiring_tls(tls_server):
    plain = re.sub(r"(?m)^ssl-ca=.*\n", "", tls_server.options)
    exporter = tls_exporter(tls_server, "plain", plain, up=0)
    exporter.stop()
    # MariaDB 10.11 answers a plain connection under require_secure_transport as it answers a
    # wrong password (the password is the one the exporter logs in with over TLS); MySQL and
    # MariaDB 11.8 say why.
    refusal = ("Access denied for user 'metrics'@'127.0.0.1'"
               if tls_server.server.root.name == "mariadb-10.11" else
               "insecure transport are prohibited while --require_secure_transport=ON")
    assert refusal in exporter.log.read_text()


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
