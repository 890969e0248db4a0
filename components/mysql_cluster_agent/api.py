"""Each agent serves its own server's state as JSON, and its peers' agents ask for it there
instead of logging in to the peers' servers.

With TLS (the cluster has a certificate) the port speaks HTTPS with mutual TLS: the agent
presents the pod's certificate, and accepts a client only with a certificate of the cluster's CA
that names this pod (tls_names.py), as the backup port does. A renewed certificate is taken up at
the next connection, without a restart. Without TLS it speaks plain HTTP: the state it tells
(read_only, heartbeat, GTID state) is what any pod that may reach the port could read from the
server itself, and the role endpoints (role_api.py) take only requests signed with the cluster's
role key (role_auth.py).
"""
from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .config import ConfigProblem, TlsFiles
from .local_server import SqlError
from .role_api import MAX_BODY_BYTES, RoleRequests
from .tls_names import names_host

STATE_PATH = "/v1/state"
# A client that has not finished its handshake or request by then is dropped.
REQUEST_SECONDS = 5

StateSource = Callable[[], Mapping[str, object]]


class CertificateFiles:
    """An SSL context made from the mounted certificate files, made anew when they change."""

    def __init__(self, files: TlsFiles, purpose: ssl.Purpose):
        self._files = files
        self._purpose = purpose
        self._lock = threading.Lock()
        self._seen: tuple[bytes, bytes, bytes] | None = None
        self._context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        contents = (self._files.ca.read_bytes(), self._files.cert.read_bytes(),
                    self._files.key.read_bytes())
        with self._lock:
            if self._context is None or contents != self._seen:
                self._context = self._make()
                self._seen = contents
            return self._context

    def _make(self) -> ssl.SSLContext:
        context = ssl.create_default_context(self._purpose, cafile=str(self._files.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self._files.cert), str(self._files.key))
        # Servers ask for a client certificate and refuse a handshake without one.
        context.verify_mode = ssl.CERT_REQUIRED
        return context


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    timeout = REQUEST_SECONDS
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path != STATE_PATH:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path; ask {STATE_PATH}"})
            return
        try:
            state = dict(self.server.state_source())
        except (SqlError, ConfigProblem, OSError, ValueError) as error:  # peers see why there is no state
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(error)})
            return
        self._reply(HTTPStatus.OK, state)

    def do_POST(self) -> None:
        """The role endpoints (role_api.py), where the agent was given them."""
        if self.server.role_requests is None:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "no role endpoints here"})
            return
        length = self.headers.get("Content-Length", "0")
        if not re.fullmatch(r"[0-9]{1,6}", length) or int(length) > MAX_BODY_BYTES:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": f"a role request has at most {MAX_BODY_BYTES} bytes"})
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.server.role_requests.handle(
            self.path, headers, self.rfile.read(int(length)), self.client_address[0],
            over_mutual_tls=self.server.mutual_tls)
        self._reply(status, answer)

    def _reply(self, status: HTTPStatus, body: Mapping[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: peers ask every few seconds."""


class AgentServer(ThreadingHTTPServer):
    """The agent's port; with `tls` it accepts only clients whose certificate names `own_host`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], state_source: StateSource,
                 tls: TlsFiles | None = None, own_host: str = "",
                 role_requests: RoleRequests | None = None):
        self.state_source = state_source
        self.role_requests = role_requests
        self.mutual_tls = tls is not None
        self.own_host = own_host
        self._certificates = CertificateFiles(tls, ssl.Purpose.CLIENT_AUTH) if tls else None
        if tls is not None:
            self._certificates_ready()
        super().__init__(address, _Handler)

    def _certificates_ready(self) -> None:
        assert self._certificates is not None
        self._certificates.context()  # a missing or broken file stops the agent at start

    def finish_request(self, request: Any, client_address: Any) -> None:
        """In the request's own thread: the handshake and the client's name check first."""
        if self._certificates is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(REQUEST_SECONDS)
        try:
            tls_socket = self._certificates.context().wrap_socket(request, server_side=True)
        except (ssl.SSLEOFError, ConnectionResetError):
            return  # hung up before a handshake: a TCP probe, or a port scan
        except (ssl.SSLError, OSError) as error:
            _log(f"refused a client at {client_address[0]}: TLS handshake failed: {error}")
            return
        certificate = tls_socket.getpeercert()
        if not certificate or not names_host(certificate, self.own_host):
            _log(f"refused a client at {client_address[0]}: its certificate does not name "
                 f"{self.own_host}")
            _close(tls_socket)
            return
        super().finish_request(tls_socket, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log(f"a request from {client_address[0]} failed: {sys.exc_info()[1]}")


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.close()


def _log(message: str) -> None:
    print(f"agent: {message}", file=sys.stderr, flush=True)


def serve_in_background(server: AgentServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="agent-api", daemon=True)
    thread.start()
    return thread
