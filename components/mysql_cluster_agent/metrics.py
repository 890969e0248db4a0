"""The agent's Prometheus metrics: what no exporter says about this pod, served as Prometheus's
text exposition format over plain HTTP on a port of its own (numbers only, no secrets).

  mysql_cluster_tls_certificate_expiry_timestamp_seconds
      when the certificate the server has loaded expires, as the server itself reports it
      (status Ssl_server_not_after); absent while the server has no TLS.
  mysql_cluster_binlog_archive_newest_timestamp_seconds
      the recovery point: every transaction committed before this time is in the binary log
      archive, as the agent's binary log archiver records it after each round that left every
      closed log archived (binlog_archiver.py); absent on a pod that is not archiving.
  mysql_cluster_clone_copied_bytes, mysql_cluster_clone_estimated_bytes
      while a MySQL pod's agent clones a peer into its server (mysql_clone.py), the bytes copied
      and expected over all the clone's stages, as the server reports them
      (performance_schema.clone_progress); absent otherwise, and on MariaDB, whose clone runs in
      an init container before the agent starts.
"""
from __future__ import annotations

import re
import sys
import threading
from calendar import timegm
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .local_server import Sql, SqlError
from .mysql_clone import clone_bytes

CERTIFICATE_EXPIRY = "mysql_cluster_tls_certificate_expiry_timestamp_seconds"
RECOVERY_POINT = "mysql_cluster_binlog_archive_newest_timestamp_seconds"
CLONE_COPIED = "mysql_cluster_clone_copied_bytes"
CLONE_ESTIMATED = "mysql_cluster_clone_estimated_bytes"
HELP = {
    CERTIFICATE_EXPIRY: "When the TLS certificate the server has loaded expires (Ssl_server_not_after).",
    RECOVERY_POINT: "Every transaction committed before this time is in the binary log archive.",
    CLONE_COPIED: "Bytes the running clone of a peer has copied into this server (clone_progress DATA).",
    CLONE_ESTIMATED: "Bytes the running clone of a peer expects to copy (clone_progress ESTIMATE).",
}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# OpenSSL's printed form of an ASN.1 time (ASN1_TIME_print), which MySQL 9.7 and MariaDB 11.8
# both report: "Dec  3 10:15:37 2036 GMT" (the day padded with a space); "" without TLS.
_OPENSSL_TIME = re.compile(
    r"([A-Z][a-z]{2}) {1,2}([0-9]{1,2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([0-9]{4}) GMT")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class UnreadableValue(ValueError):
    """A value read from the server is not of its expected form."""


def parse_openssl_time(text: str) -> float:
    match = _OPENSSL_TIME.fullmatch(text)
    if not match or match[1] not in _MONTHS:
        raise UnreadableValue(f"{text[:40]!r} is not a certificate time like 'Dec  3 10:15:37 2036 GMT'")
    month = _MONTHS.index(match[1]) + 1
    day, hour, minute, second, year = (int(match[n]) for n in (2, 3, 4, 5, 6))
    if not (1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise UnreadableValue(f"{text!r} is not a valid time")
    return float(timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def certificate_expiry(sql: Sql) -> float | None:
    """When the server's loaded certificate expires; None when it has none."""
    rows = sql.query("SHOW GLOBAL STATUS LIKE 'Ssl_server_not_after'")
    value = str(rows[0][1]) if rows else ""
    return parse_openssl_time(value) if value else None


def exposition(values: Mapping[str, float | None]) -> str:
    """The text exposition format of gauges `values`; a None value leaves its metric out."""
    lines = []
    for name, value in values.items():
        if value is not None:
            lines += [f"# HELP {name} {HELP[name]}", f"# TYPE {name} gauge", f"{name} {value:.0f}"]
    return "".join(f"{line}\n" for line in lines)


def _log(message: str) -> None:
    print(f"agent: {message}", file=sys.stderr, flush=True)


@dataclass
class MetricSources:
    """Where each metric is read at each scrape. A value that cannot be read is left out, and its
    problem logged once, until it changes (a scrape every 30s would otherwise repeat it)."""

    sql: Sql
    # The archiver's recovery point (binlog_archiver.RecoveryPoint.get); None without backups.
    recovery_point: Callable[[], float | None] | None = None
    log: Callable[[str], None] = _log
    # Whether this pod's agent clones into its server (MySQL), so that its progress is read.
    clones: bool = False

    def __post_init__(self) -> None:
        self._told: dict[str, str] = {}
        self._lock = threading.Lock()

    def _note(self, name: str, problem: str | None) -> None:
        with self._lock:
            if problem is None:
                self._told.pop(name, None)
            elif self._told.get(name) != problem:
                self._told[name] = problem
                self.log(problem)

    def _certificate_expiry(self) -> float | None:
        try:
            value = certificate_expiry(self.sql)
        except (SqlError, UnreadableValue) as error:
            self._note(CERTIFICATE_EXPIRY, f"{CERTIFICATE_EXPIRY} left out: cannot read the "
                                           f"server's Ssl_server_not_after: {error}")
            return None
        self._note(CERTIFICATE_EXPIRY, None)
        return value

    def _clone_bytes(self) -> tuple[float | None, float | None]:
        if not self.clones:
            return None, None
        try:
            progress = clone_bytes(self.sql)
        except SqlError as error:
            self._note(CLONE_COPIED, f"{CLONE_COPIED} left out: cannot read the server's clone progress: {error}")
            return None, None
        self._note(CLONE_COPIED, None)
        return (progress.copied, progress.estimated) if progress else (None, None)

    def values(self) -> dict[str, float | None]:
        copied, estimated = self._clone_bytes()
        return {CERTIFICATE_EXPIRY: self._certificate_expiry(),
                RECOVERY_POINT: self.recovery_point() if self.recovery_point else None,
                CLONE_COPIED: copied, CLONE_ESTIMATED: estimated}


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(HTTPStatus.NOT_FOUND, "only /metrics is served here")
            return
        body = exposition(self.server.sources.values()).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every 30s is no news


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sources: MetricSources):
        super().__init__(address, _Handler)
        self.sources = sources


@dataclass(frozen=True)
class MetricsConfig:
    port: int


def metrics_config(env: Mapping[str, str]) -> MetricsConfig | None:
    """The metrics port from the environment; None when the pod's metrics are off
    (AGENT_METRICS_PORT unset). Raises ValueError naming a wrong variable."""
    port = env.get("AGENT_METRICS_PORT", "")
    if not port:
        return None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"environment variable AGENT_METRICS_PORT is {port[:20]!r}; use a TCP "
                         "port number from 1 to 65535")
    return MetricsConfig(int(port))


def serve_metrics(config: MetricsConfig, sql: Sql, recovery_point: Callable[[], float | None] | None,
                  clones: bool) -> MetricsServer:
    """Starts serving /metrics in a background thread; `shutdown()` stops it."""
    server = MetricsServer(("", config.port), MetricSources(sql, recovery_point, clones=clones))
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    _log(f"serving Prometheus metrics on port {config.port} (HTTP, /metrics)")
    return server
