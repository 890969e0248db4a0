"""The agent's state port: what peers get from it, with and without mutual TLS."""
from __future__ import annotations

import shutil
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mysql_cluster_agent.api import AgentServer, CertificateFiles
from mysql_cluster_agent.config import TlsFiles
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.peers import ask_peers

from .certificates import Authority, authority, pod_host
from .conftest import agent_config

STATE = {"read_only": True, "heartbeat_micros": 1765000000000000, "heartbeat_writer_offset": -1,
         "gtid_state": "0-100-7"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(state: Mapping[str, object] | Exception = STATE, tls: TlsFiles | None = None,
            own_host: str = pod_host(1)) -> Iterator[int]:
    def source() -> Mapping[str, object]:
        if isinstance(state, Exception):
            raise state
        return state
    port = _free_port()
    server = AgentServer(("127.0.0.1", port), source, tls, own_host)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def _ask(tmp_path: Path, port: int, tls: TlsFiles | None = None, answer_seconds: float = 4.0):
    config = agent_config(tmp_path, pod="mysql-0", port=port, tls=tls)
    return ask_peers(config, [1], answer_seconds=answer_seconds, addresses={1: "127.0.0.1"})[0]


def test_a_peer_gets_the_state_over_plain_http_without_tls(tmp_path):
    with serving() as port:
        answer = _ask(tmp_path, port)
    assert (answer.ordinal, answer.state, answer.problem) == (1, STATE, "")


def test_a_server_that_cannot_be_read_is_reported_to_the_peer_with_its_error(tmp_path):
    with serving(SqlError(2002, "cannot connect")) as port:
        answer = _ask(tmp_path, port)
    assert answer.state is None
    assert "503" in answer.problem and "cannot connect" in answer.problem


def test_a_peer_that_refuses_to_give_its_state_is_still_reached(tmp_path):
    # As while it clones: the primary's fence counts it as present (decide.py).
    with serving(ValueError("this pod clones a peer into its server")) as port:
        answer = _ask(tmp_path, port)
    assert (answer.state, answer.reached) == (None, True)


def test_a_peer_whose_port_refuses_connections_is_not_reached(tmp_path):
    answer = _ask(tmp_path, _free_port())
    assert answer.state is None and not answer.reached


def test_a_peer_that_does_not_answer_in_time_is_reported_silent(tmp_path):
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        answer = _ask(tmp_path, listener.getsockname()[1], answer_seconds=0.5)
    assert answer.state is None and not answer.reached
    assert answer.problem in ("no answer within 0.5 s", "timed out")


def test_a_peer_with_the_pods_certificate_gets_the_state_over_mutual_tls(tmp_path, pod_certificate):
    with serving(tls=pod_certificate) as port:
        answer = _ask(tmp_path, port, tls=pod_certificate)
    assert answer.state == STATE


def test_a_client_certificate_of_the_same_ca_for_another_name_is_refused(
        tmp_path, cluster_ca: Authority, pod_certificate):
    other = cluster_ca.issue("other-cluster", ["*.other.db.svc.cluster.local"])
    replies = {}
    with serving(tls=pod_certificate) as port:
        for name, files in (("pods", pod_certificate), ("other", other)):
            with socket.create_connection(("127.0.0.1", port), 2) as raw:
                replies[name] = _request(_tls_client(files), raw, pod_host(1))
    assert replies["pods"].startswith(b"HTTP/1.1 200")
    assert replies["other"] == b""


def test_a_client_certificate_of_another_ca_is_refused(tmp_path, tmp_path_factory, pod_certificate):
    foreign = authority(tmp_path_factory.mktemp("foreign-ca"), "foreign")
    stranger = foreign.issue("stranger", ["*.mysql.db.svc.cluster.local"])
    stranger_trusting_us = TlsFiles(ca=pod_certificate.ca, cert=stranger.cert, key=stranger.key)
    with serving(tls=pod_certificate) as port:
        answer = _ask(tmp_path, port, tls=stranger_trusting_us)
    assert answer.state is None


def test_a_client_without_a_certificate_is_refused(tmp_path, pod_certificate):
    context = ssl.create_default_context(cafile=str(pod_certificate.ca))
    with serving(tls=pod_certificate) as port:
        with socket.create_connection(("127.0.0.1", port), 2) as raw:
            reply = _request(context, raw, pod_host(1))
    assert reply == b""


def test_a_peer_whose_certificate_does_not_name_the_pod_dialled_is_not_believed(
        tmp_path, cluster_ca: Authority, pod_certificate):
    impostor = cluster_ca.issue("impostor", ["*.other.db.svc.cluster.local"])
    with serving(tls=impostor, own_host="mysql-1.other.db.svc.cluster.local") as port:
        answer = _ask(tmp_path, port, tls=pod_certificate)
    assert answer.state is None and "does not verify" in answer.problem


def test_a_renewed_certificate_is_served_without_a_restart(tmp_path, cluster_ca: Authority,
                                                           pod_certificate):
    mounted = tmp_path / "tls"
    mounted.mkdir()
    files = TlsFiles(mounted / "ca.crt", mounted / "tls.crt", mounted / "tls.key")
    for source, target in zip((pod_certificate.ca, pod_certificate.cert, pod_certificate.key),
                              (files.ca, files.cert, files.key)):
        shutil.copyfile(source, target)
    renewed = cluster_ca.issue("renewed", ["*.mysql.db.svc.cluster.local"])
    with serving(tls=files) as port:
        before = _served_certificate(port, pod_certificate)
        for source, target in ((renewed.cert, files.cert), (renewed.key, files.key)):
            shutil.copyfile(source, target)
        after = _served_certificate(port, pod_certificate)
    assert before == pod_certificate.cert.read_bytes().decode().strip()
    assert after == renewed.cert.read_bytes().decode().strip()


def _tls_client(files: TlsFiles) -> ssl.SSLContext:
    return CertificateFiles(files, ssl.Purpose.SERVER_AUTH).context()


def _request(context: ssl.SSLContext, raw: socket.socket, host: str) -> bytes:
    """What the server sends back to a GET of the state; b"" when it drops the client."""
    try:
        with context.wrap_socket(raw, server_hostname=host) as connection:
            connection.sendall(f"GET /v1/state HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            return connection.recv(65536)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return b""


def _served_certificate(port: int, client: TlsFiles) -> str:
    context = _tls_client(client)
    with socket.create_connection(("127.0.0.1", port), 2) as raw:
        with context.wrap_socket(raw, server_hostname=pod_host(1)) as connection:
            der = connection.getpeercert(binary_form=True)
            assert der is not None
            connection.sendall(b"GET /v1/state HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.recv(65536)
    return ssl.DER_cert_to_PEM_cert(der).strip()


def test_a_tcp_probe_that_hangs_up_before_a_handshake_is_not_logged(pod_certificate, capfd):
    with serving(tls=pod_certificate) as port:
        socket.create_connection(("127.0.0.1", port), 2).close()
        with socket.create_connection(("127.0.0.1", port), 2) as raw:  # the next one is served
            assert _request(_tls_client(pod_certificate), raw, pod_host(1)).startswith(b"HTTP/1.1 200")
    assert capfd.readouterr().err == ""
