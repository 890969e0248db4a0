"""The primary port: each pod's agent forwards a connection on it to the server that its last
role look found writable, its own or a peer's. With automatic failover the primary Service
selects every pod and targets this port, so that writes follow a failover at once without any
pod using the Kubernetes API (the pods hold no API token; operators that can, such as MOCO,
move a role label instead: github.com/cybozu-go/moco clustering/operations.go).

A connection while no pod is known writable, or while several are, is closed at once: the
client sees what it sees when the primary is down, and never reaches a server its agent has not
seen writable. The bytes pass through untouched, TLS included (clients verify the server)."""
from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
from collections.abc import Callable

from .state import ClusterView

# How long the agent waits to connect to the writable server.
CONNECT_SECONDS = 5
_CHUNK = 65536


def writable_host(view: ClusterView) -> str | None:
    """The host of the one writable server of the view (None: none, or several)."""
    writable = [s.ordinal for s in (view.me.server, *view.answered) if not s.read_only]
    return view.host(writable[0]) if len(writable) == 1 else None


class PrimaryRoute:
    """Where the primary port forwards to, set by the role loop at every look."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._host: str | None = None

    def set(self, host: str | None) -> None:
        with self._lock:
            self._host = host

    def host(self) -> str | None:
        with self._lock:
            return self._host


def _pump(client: socket.socket, upstream: socket.socket) -> None:
    """Copies bytes both ways until either side closes."""
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        while True:
            for key, _ in selector.select():
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                data = source.recv(_CHUNK)
                if not data:
                    return
                key.data.sendall(data)


class PrimaryPort(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], route: PrimaryRoute, mysql_port: int,
                 log: Callable[[str], None]) -> None:
        self.route, self.mysql_port, self.log = route, mysql_port, log
        super().__init__(address, _Forward)


class _Forward(socketserver.BaseRequestHandler):
    server: PrimaryPort

    def handle(self) -> None:
        host = self.server.route.host()
        if host is None:
            return
        try:
            upstream = socket.create_connection((host, self.server.mysql_port), timeout=CONNECT_SECONDS)
        except OSError as error:
            self.server.log(f"primary port: cannot reach the primary {host}: {error}; the client's connection is closed")
            return
        with upstream:
            upstream.settimeout(None)
            self.request.settimeout(None)
            # Without TCP_NODELAY a login waits ~40 ms on each hop: the server's handshake sends
            # two small writes in a row, and the second waits for a delayed acknowledgement
            # (Nagle's algorithm; measured with MySQL 9.7, bench/primary_port.py).
            for side in (self.request, upstream):
                side.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Either side going away ends both connections.
            with contextlib.suppress(OSError):
                _pump(self.request, upstream)


def serve_primary_port(port: int, route: PrimaryRoute, mysql_port: int, log: Callable[[str], None]) -> PrimaryPort:
    server = PrimaryPort(("", port), route, mysql_port, log)
    threading.Thread(target=server.serve_forever, name="primary-port", daemon=True).start()
    return server
