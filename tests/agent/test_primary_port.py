"""The primary port (primary_port.py): a connection goes to the server the last role look found
writable, and is closed while none or several are; over real sockets on loopback."""
from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.primary_port import PrimaryRoute, serve_primary_port, writable_host
from mysql_cluster_agent.state import ClusterView, LocalState, ServerState

HOSTS = ("db-0.db", "db-1.db", "db-2.db")


def state(ordinal: int, writable: bool = False) -> ServerState:
    return ServerState(ordinal, not writable, None, None, parse_gtid(Flavor.MARIADB, "0-100-1"))


def view(me: ServerState, *peers: ServerState | None) -> ClusterView:
    others = [n for n in range(3) if n != me.ordinal]
    return ClusterView(me=LocalState(me, 0, True), peers=dict(zip(others, peers)), designated_primary=0,
                       now_micros=0, hosts=HOSTS)


def test_the_route_is_the_one_writable_server_its_own_or_a_peers() -> None:
    assert writable_host(view(state(1), state(0, writable=True), state(2))) == "db-0.db"
    assert writable_host(view(state(1, writable=True), state(0), None)) == "db-1.db"


def test_there_is_no_route_while_no_server_or_several_are_writable() -> None:
    assert writable_host(view(state(1), None, state(2))) is None
    assert writable_host(view(state(1), state(0, writable=True), state(2, writable=True))) is None


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(b"primary:" + data)


@pytest.fixture
def upstream() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_a_connection_is_forwarded_both_ways_to_the_writable_server(upstream: int) -> None:
    route = PrimaryRoute()
    route.set("127.0.0.1")
    port = serve_primary_port(0, route, upstream, lambda line: None)
    with connect(port.server_address[1]) as client:
        client.sendall(b"INSERT")
        assert client.recv(1024) == b"primary:INSERT"
    port.shutdown()


def test_without_a_writable_server_the_connection_is_closed_at_once(upstream: int) -> None:
    port = serve_primary_port(0, PrimaryRoute(), upstream, lambda line: None)
    with connect(port.server_address[1]) as client:
        assert client.recv(1024) == b""
    port.shutdown()


def test_an_unreachable_primary_closes_the_connection_and_is_logged() -> None:
    route, logged = PrimaryRoute(), []
    route.set("127.0.0.1")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    nobody = closed.getsockname()[1]
    closed.close()
    port = serve_primary_port(0, route, nobody, logged.append)
    with connect(port.server_address[1]) as client:
        assert client.recv(1024) == b""
    port.shutdown()
    assert logged and "cannot reach the primary 127.0.0.1" in logged[0]
