"""The agent's metrics port: Prometheus's text format of the certificate's expiry, as the server
reports it, of the recovery point the agent's binary log archiver records in memory, and of a
running MySQL clone's progress; what cannot be read is left out with one log line."""
from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from mysql_cluster_agent.binlog_archiver import RecoveryPoint
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.metrics import (
    CERTIFICATE_EXPIRY,
    CLONE_COPIED,
    CLONE_ESTIMATED,
    RECOVERY_POINT,
    MetricsConfig,
    MetricSources,
    MetricsServer,
    UnreadableValue,
    exposition,
    metrics_config,
    parse_openssl_time,
    serve_metrics,
)

from .fake_sql import FakeSql

NOT_AFTER = "SHOW GLOBAL STATUS LIKE 'Ssl_server_not_after'"
CLONE_STATUS = ("SELECT STATE, SOURCE, ERROR_NO, ERROR_MESSAGE FROM performance_schema.clone_status "
                "ORDER BY ID DESC LIMIT 1")
CLONE_PROGRESS = "SELECT SUM(DATA), SUM(ESTIMATE) FROM performance_schema.clone_progress"
NO_CLONE = {CLONE_COPIED: None, CLONE_ESTIMATED: None}
# As MySQL 9.7 and MariaDB 11.8 report it (their generated certificates).
SERVER_NOT_AFTER = "Dec  3 10:15:37 2036 GMT"
EXPIRES = 2111912137


def recovery_point(value: float | None) -> RecoveryPoint:
    recorded = RecoveryPoint()
    recorded.set(value)
    return recorded


def sources(not_after: str = SERVER_NOT_AFTER, archived: float | None = 1764990000
            ) -> tuple[MetricSources, list[str]]:
    logged: list[str] = []
    sql = FakeSql({NOT_AFTER: [("Ssl_server_not_after", not_after)]})
    return MetricSources(sql, recovery_point(archived).get, logged.append), logged


@pytest.mark.parametrize("text, expected", [
    (SERVER_NOT_AFTER, EXPIRES),
    ("Feb 29 23:59:59 2028 GMT", 1835481599),
    ("Nov 13 01:02:03 2030 GMT", 1920762123),
])
def test_the_servers_certificate_time_is_read_as_unix_time(text, expected):
    assert parse_openssl_time(text) == expected


@pytest.mark.parametrize("text", ["", "2036-12-03 10:15:37", "Dex  3 10:15:37 2036 GMT",
                                  "Dec 32 10:15:37 2036 GMT", "Dec  3 10:15:37 2036 UTC",
                                  "Dec  3 10:15:37 2036 GMT\n"])
def test_a_certificate_time_of_another_form_is_refused(text):
    with pytest.raises(UnreadableValue):
        parse_openssl_time(text)


def test_the_exposition_names_each_gauge_with_help_and_type():
    assert exposition({CERTIFICATE_EXPIRY: EXPIRES, RECOVERY_POINT: 1764990000.0}) == (
        f"# HELP {CERTIFICATE_EXPIRY} When the TLS certificate the server has loaded expires "
        "(Ssl_server_not_after).\n"
        f"# TYPE {CERTIFICATE_EXPIRY} gauge\n"
        f"{CERTIFICATE_EXPIRY} 2111912137\n"
        f"# HELP {RECOVERY_POINT} Every transaction committed before this time is in the binary "
        "log archive.\n"
        f"# TYPE {RECOVERY_POINT} gauge\n"
        f"{RECOVERY_POINT} 1764990000\n")


def test_a_healthy_pod_serves_both_metrics():
    found, logged = sources()
    assert found.values() == {CERTIFICATE_EXPIRY: EXPIRES, RECOVERY_POINT: 1764990000, **NO_CLONE}
    assert logged == []


def test_a_server_without_tls_has_no_certificate_expiry():
    found, logged = sources(not_after="")
    assert found.values()[CERTIFICATE_EXPIRY] is None
    assert logged == []


def test_a_pod_that_is_not_archiving_has_no_recovery_point():
    found, logged = sources(archived=None)
    assert found.values()[RECOVERY_POINT] is None
    assert logged == []


def test_the_recovery_point_follows_what_the_archiver_records():
    recorded = recovery_point(None)
    found = MetricSources(FakeSql({NOT_AFTER: [("Ssl_server_not_after", "")]}), recorded.get)
    recorded.set(1764990060)
    assert found.values()[RECOVERY_POINT] == 1764990060
    recorded.set(None)
    assert found.values()[RECOVERY_POINT] is None


def test_a_pod_without_backups_has_no_recovery_point():
    found = MetricSources(FakeSql({NOT_AFTER: [("Ssl_server_not_after", "")]}), None)
    assert found.values()[RECOVERY_POINT] is None


def test_an_unanswering_server_leaves_the_certificate_expiry_out_with_one_log_line():
    logged: list[str] = []
    sql = FakeSql(failing={NOT_AFTER: SqlError(2002, "Can't connect to local server")})
    found = MetricSources(sql, None, logged.append)
    assert found.values() == {CERTIFICATE_EXPIRY: None, RECOVERY_POINT: None, **NO_CLONE}
    found.values()
    assert len(logged) == 1 and "Can't connect" in logged[0]


def cloning_sources(state: str | None, copied: object = 0, estimated: object = 0) -> MetricSources:
    status = [(state, "mysql-0.mysql:3306", 0, "")] if state else []
    return MetricSources(FakeSql({NOT_AFTER: [("Ssl_server_not_after", "")], CLONE_STATUS: status,
                                  CLONE_PROGRESS: [(copied, estimated)]}), None, clones=True)


def test_a_running_clone_serves_its_bytes_copied_and_expected():
    values = cloning_sources("In Progress", copied=3 * 2**30, estimated=8 * 2**30).values()
    assert (values[CLONE_COPIED], values[CLONE_ESTIMATED]) == (3 * 2**30, 8 * 2**30)


@pytest.mark.parametrize("state", [None, "Completed", "Failed"])
def test_a_server_that_does_not_clone_now_has_no_clone_progress(state):
    values = cloning_sources(state, copied=8 * 2**30, estimated=8 * 2**30).values()
    assert (values[CLONE_COPIED], values[CLONE_ESTIMATED]) == (None, None)


def test_a_pod_whose_agent_never_clones_does_not_ask_its_server():
    sql = FakeSql({NOT_AFTER: [("Ssl_server_not_after", "")]})
    assert MetricSources(sql, None).values()[CLONE_COPIED] is None
    assert sql.statements == [NOT_AFTER]


def test_an_unreadable_clone_progress_is_left_out_with_one_log_line():
    logged: list[str] = []
    sql = FakeSql({NOT_AFTER: [("Ssl_server_not_after", "")]},
                  failing={CLONE_STATUS: SqlError(1146, "Table 'performance_schema.clone_status' doesn't exist")})
    found = MetricSources(sql, None, logged.append, clones=True)
    assert found.values()[CLONE_COPIED] is None
    found.values()
    assert len(logged) == 1 and "clone_status" in logged[0]


@pytest.fixture
def served() -> Iterator[str]:
    sql = FakeSql({NOT_AFTER: [("Ssl_server_not_after", SERVER_NOT_AFTER)]})
    server: MetricsServer = serve_metrics(MetricsConfig(0), sql, recovery_point(1764990000).get, clones=False)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_port_serves_the_exposition_at_slash_metrics(served):
    with urllib.request.urlopen(f"{served}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        body = response.read().decode()
    assert f"{CERTIFICATE_EXPIRY} 2111912137\n" in body
    assert f"{RECOVERY_POINT} 1764990000\n" in body


def test_the_port_serves_nothing_else(served):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{served}/state", timeout=10)
    assert error.value.code == 404


def test_metrics_are_off_without_a_metrics_port():
    assert metrics_config({}) is None


def test_the_metrics_environment_is_read_into_a_config():
    assert metrics_config({"AGENT_METRICS_PORT": "9105"}) == MetricsConfig(9105)


@pytest.mark.parametrize("env, named", [
    ({"AGENT_METRICS_PORT": "http"}, "AGENT_METRICS_PORT"),
    ({"AGENT_METRICS_PORT": "70000"}, "AGENT_METRICS_PORT"),
])
def test_a_wrong_metrics_environment_is_named(env, named):
    with pytest.raises(ValueError, match=named):
        metrics_config(env)
