"""The agent's certificate reload (tls_reload.py) on real MySQL 9.7 and MariaDB 11.8 servers: it
reaches the server over the socket as root whatever certificate the server presents, and a new
certificate from a new CA is what the server presents after the reload, with nothing written to
the binary log."""
from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from mysql_cluster_agent.config import TlsFiles
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.local_server import LocalServer
from mysql_cluster_agent.tls_reload import CertificateKeeper

from e2e.server_roots import server_root

from .certificates import Authority, authority
from .real_server import SERVERS, RealServer, running_server
from real_servers import REAL_SERVERS  # isort: skip (tests/scripts, put on the path by real_server)

pytestmark = pytest.mark.timeout(300)

PROBE_PASSWORD = "tls-probe-pw"


@dataclass
class Server:
    real: RealServer
    port: int
    tls: TlsFiles  # where the server's options name its certificate, on this machine
    root: LocalServer
    flavor: Flavor

    def gtid_position(self) -> object:
        variable = "gtid_binlog_pos" if self.flavor is Flavor.MARIADB else "gtid_executed"
        return self.root.query(f"SELECT @@GLOBAL.{variable}")[0][0]

    def presents_a_certificate_of(self, ca: Authority) -> bool:
        """Whether a TCP client that trusts only `ca` completes a verified TLS login."""
        context = ssl.create_default_context(cafile=str(ca.cert))
        context.check_hostname = False  # the certificate names the pods, not 127.0.0.1
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="probe", password=PROBE_PASSWORD,
                            ssl=context, connect_timeout=10).close()
        except pymysql.err.OperationalError as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):
                return False
            raise
        return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _install(files: TlsFiles, into: TlsFiles) -> None:
    """As the kubelet updates a Secret's files in place."""
    for source, target in ((files.ca, into.ca), (files.cert, into.cert), (files.key, into.key)):
        shutil.copyfile(source, target)
        target.chmod(0o644)  # the server runs as mysql


@pytest.fixture(scope="module")
def first_ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return authority(tmp_path_factory.mktemp("first-ca"), "first")


@pytest.fixture(scope="module")
def new_ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return authority(tmp_path_factory.mktemp("new-ca"), "new")


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, first_ca: Authority) -> Iterator[Server]:
    name: str = request.param
    tree = server_root(REAL_SERVERS[name]).path
    (tree / "tmp").mkdir(exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="tls-reload-", dir=tree / "tmp"))
    directory.chmod(0o755)
    tls = TlsFiles(directory / "ca.crt", directory / "tls.crt", directory / "tls.key")
    _install(first_ca.issue(f"pods-{request.param_index}", ["*.mysql.db.svc.cluster.local"]), tls)
    inside = "/" + str(directory.relative_to(tree))
    port = _free_port()
    options = (f"skip-networking=0\nbind-address=127.0.0.1\nport={port}\nskip-name-resolve\n"
               f"log-bin=binlog\nserver-id=1\nssl-ca={inside}/ca.crt\nssl-cert={inside}/tls.crt\n"
               f"ssl-key={inside}/tls.key\n")
    setup = f"CREATE USER probe@'%' IDENTIFIED BY '{PROBE_PASSWORD}'"
    try:
        with running_server(name, options, setup) as real:
            root = LocalServer(real.directory / "mysqld.sock", lambda: "")
            flavor = Flavor.MARIADB if real.is_mariadb else Flavor.MYSQL
            try:
                yield Server(real, port, tls, root, flavor)
            finally:
                root.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_certificate_of_a_new_ca_is_presented_after_the_reload_with_nothing_in_the_binary_log(
        server: Server, first_ca: Authority, new_ca: Authority) -> None:
    logged: list[str] = []
    keeper = CertificateKeeper(server.root, dialect_for(server.flavor), server.tls, logged.append)
    started_at = 1_800_000_000
    keeper.look(started_at)
    assert server.presents_a_certificate_of(first_ca)
    position = server.gtid_position()

    _install(new_ca.issue(f"renewed-{server.flavor.value}", ["*.mysql.db.svc.cluster.local"]), server.tls)
    # Before the reload the server still presents the old certificate: a client (or a probe)
    # that trusts only the new CA fails over TCP, while the agent's socket needs no TLS.
    assert not server.presents_a_certificate_of(new_ca)
    keeper.look(started_at)

    assert server.presents_a_certificate_of(new_ca)
    assert not server.presents_a_certificate_of(first_ca)
    assert server.gtid_position() == position
    assert logged[-1] == f"the server reloaded the renewed certificate of {server.tls.cert.parent} (the files changed)"
