"""The agent's role endpoints (role_api.py) on its port: who may ask (the pods' certificate over
mutual TLS; without TLS a request signed with the role key, new and meant for this pod), and what
each request runs on the local server. A refused request runs nothing and is logged with why."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from mysql_cluster_agent.api import AgentServer, CertificateFiles
from mysql_cluster_agent.config import ConfigProblem, TlsFiles
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.role import Replication
from mysql_cluster_agent.role_api import RoleActions, RoleRequests, role_requests
from mysql_cluster_agent.role_auth import RequestVerifier, signed_headers
from mysql_cluster_agent.role_client import AgentClient, AgentError

from .certificates import Authority, pod_host
from .conftest import agent_config
from .fake_sql import FakeSql

KEY = b"k" * 32
MYSQL_SET = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3"
OTHER_KEY = b"o" * 32
STATE = {"read_only": True, "heartbeat_micros": 1, "heartbeat_writer_offset": -1, "gtid_state": "0-1-5"}
REPLICATION = Replication(user="replicator", password=lambda: "secret", port=3306, heartbeat_seconds=5, tls_ca=None)
POSITION_QUERY = ("SELECT @@GLOBAL.gtid_binlog_pos, CONCAT_WS(',', NULLIF(@@GLOBAL.gtid_binlog_state, ''), "
                  "NULLIF(@@GLOBAL.gtid_slave_pos, ''))")


class Session(FakeSql):
    def close(self) -> None:
        pass


@dataclass
class Agent:
    port: int
    sql: Session
    log: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def agent(tls: TlsFiles | None = None, key: bytes | None = KEY, sql: Session | None = None) -> Iterator[Agent]:
    """Pod 1's agent of a MariaDB cluster, on a free port of 127.0.0.1."""
    running = Agent(_free_port(), sql or Session())
    actions = RoleActions(dialect=dialect_for(Flavor.MARIADB), ordinal=1, connect=lambda _: running.sql,
                          replication=REPLICATION, host_of=pod_host, log=running.log.append, lock=threading.Lock())
    verifier = RequestVerifier(lambda: key, pod_host(1)) if key is not None else None
    server = AgentServer(("127.0.0.1", running.port), lambda: STATE, tls, pod_host(1),
                         RoleRequests(actions, verifier, running.log.append))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        server.shutdown()
        server.server_close()


def client(running: Agent, tls: TlsFiles | None = None, key: bytes | None = KEY) -> AgentClient:
    context = CertificateFiles(tls, ssl.Purpose.SERVER_AUTH).context() if tls else None
    return AgentClient(Flavor.MARIADB, 3, pod_host, running.port, context, (lambda: key) if key else None,
                       address_of=lambda _: "127.0.0.1")


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


PROMOTE = ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"]


def test_a_request_signed_with_the_role_key_is_carried_out_without_tls():
    with agent() as running:
        client(running).promote(1)
    assert running.sql.statements == PROMOTE


def test_a_request_signed_with_another_key_is_refused_runs_nothing_and_is_logged_with_why():
    with agent() as running, pytest.raises(AgentError, match="HTTP 403: refused: the signature does not match"):
        client(running, key=OTHER_KEY).promote(1)
    assert running.sql.statements == []
    assert any("refused a role request from 127.0.0.1 to promote: the signature does not match" in line
               for line in running.log)


def test_a_request_without_a_signature_is_refused_without_tls():
    with agent() as running:
        status, answer = _post(running.port, "/v1/role/promote", b"{}", {})
    assert status == 403 and "no signature" in str(answer["error"]) and running.sql.statements == []


def test_a_request_sent_again_is_refused_as_a_replay():
    body = b"{}"
    headers = signed_headers(KEY, pod_host(1), "POST", "/v1/role/promote", body)
    with agent() as running:
        first = _post(running.port, "/v1/role/promote", body, headers)
        second = _post(running.port, "/v1/role/promote", body, headers)
    assert first[0] == 200
    assert second == (403, {"error": "refused: the request was sent before (its nonce was seen): a replay"})
    assert running.sql.statements == PROMOTE


def test_a_request_older_than_the_window_is_refused():
    body = b"{}"
    headers = signed_headers(KEY, pod_host(1), "POST", "/v1/role/promote", body, now=lambda: 1_000_000.0)
    with agent() as running:
        status, answer = _post(running.port, "/v1/role/promote", body, headers)
    assert status == 403 and "from this pod's clock" in str(answer["error"]) and running.sql.statements == []


def test_a_request_signed_for_another_pod_is_refused():
    body = b"{}"
    headers = signed_headers(KEY, pod_host(2), "POST", "/v1/role/promote", body)
    with agent() as running:
        status, _ = _post(running.port, "/v1/role/promote", body, headers)
    assert status == 403 and running.sql.statements == []


def test_a_changed_body_is_refused():
    headers = signed_headers(KEY, pod_host(1), "POST", "/v1/role/follow", b'{"source": 0}')
    with agent() as running:
        status, _ = _post(running.port, "/v1/role/follow", b'{"source": 2}', headers)
    assert status == 403 and running.sql.statements == []


def test_an_agent_without_tls_or_key_takes_no_role_request():
    with agent(key=None) as running, pytest.raises(AgentError, match="no role key and no TLS"):
        client(running).promote(1)
    assert running.sql.statements == []


def test_the_pods_certificate_is_carried_out_over_mutual_tls(pod_certificate: TlsFiles):
    with agent(tls=pod_certificate, key=None) as running:
        client(running, tls=pod_certificate, key=None).promote(1)
    assert running.sql.statements == PROMOTE


def test_a_client_without_a_certificate_is_refused_over_tls(pod_certificate: TlsFiles, capsys):
    context = ssl.create_default_context(cafile=str(pod_certificate.ca))
    with agent(tls=pod_certificate, key=None) as running:
        connection = http.client.HTTPSConnection(pod_host(1), running.port, timeout=5, context=context)
        connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", running.port)),
                                              server_hostname=pod_host(1))
        with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
            connection.request("POST", "/v1/role/promote", body=b"{}")
            connection.getresponse().read()
    assert running.sql.statements == []
    assert "refused a client at 127.0.0.1: TLS handshake failed" in capsys.readouterr().err


def test_a_certificate_of_the_same_ca_for_another_name_is_refused(pod_certificate: TlsFiles, cluster_ca: Authority):
    other = cluster_ca.issue("role-other-name", ["web-frontend.db.svc.cluster.local"])
    with agent(tls=pod_certificate, key=None) as running, pytest.raises(AgentError):
        client(running, tls=TlsFiles(pod_certificate.ca, other.cert, other.key), key=None).promote(1)
    assert running.sql.statements == []


def test_read_only_bounds_the_wait_for_the_global_read_lock_before_it_demotes():
    with agent() as running:
        client(running).read_only(1, 60)
    assert running.sql.ran == [("SET SESSION lock_wait_timeout = %s", (60,)), ("SET GLOBAL read_only = 1", ())]


def test_the_wait_sends_the_position_as_an_argument_and_tells_whether_it_was_applied():
    sql = Session({"SELECT MASTER_GTID_WAIT(%s, %s)": [(0,)]})
    with agent(sql=sql) as running:
        assert client(running).wait(1, "0-1-9", 30) is True
    assert sql.ran == [("SELECT MASTER_GTID_WAIT(%s, %s)", ("0-1-9", 30))]


def test_a_wait_that_times_out_says_not_applied():
    sql = Session({"SELECT MASTER_GTID_WAIT(%s, %s)": [(-1,)]})
    with agent(sql=sql) as running:
        assert client(running).wait(1, "0-1-9", 1) is False


def test_a_position_that_is_not_a_gtid_is_refused_before_any_sql():
    with agent() as running, pytest.raises(AgentError, match="HTTP 400: position"):
        client(running).wait(1, "0-1-9'; DROP TABLE x; --", 1)
    assert running.sql.statements == []


def test_follow_points_the_server_at_the_pod_named_with_the_password_only_as_an_argument():
    with agent() as running:
        client(running).follow(1, 2)
    change = [(text, args) for text, args in running.sql.ran if text.startswith("CHANGE MASTER TO")]
    assert len(change) == 1 and pod_host(2) in change[0][1] and "secret" in change[0][1]
    assert not any("secret" in line for line in running.log)


def test_a_server_is_never_told_to_follow_itself():
    with agent() as running, pytest.raises(AgentError, match="HTTP 400: source 1 is this pod"):
        client(running).follow(1, 1)
    assert running.sql.statements == []


def test_stopping_the_io_thread_tells_what_the_replica_received():
    row = {"Slave_IO_Running": "No", "Slave_SQL_Running": "Yes", "Last_IO_Error": "", "Last_SQL_Error": "",
           "Master_Host": pod_host(0), "Gtid_IO_Pos": "0-1-120"}
    sql = Session(named={"SHOW SLAVE STATUS": [row]})
    with agent(sql=sql) as running:
        assert client(running).stop_replication(1, io_thread_only=True) == "0-1-120"
    assert sql.statements[0] == "STOP SLAVE IO_THREAD"


def test_a_replica_status_without_the_received_column_is_answered_with_the_column_it_lacks():
    row = {"Slave_IO_Running": "No", "Slave_SQL_Running": "Yes", "Last_IO_Error": "", "Last_SQL_Error": "",
           "Master_Host": pod_host(0)}
    sql = Session(named={"SHOW SLAVE STATUS": [row]})
    with agent(sql=sql) as running, pytest.raises(AgentError, match="HTTP 409: .*without the column Gtid_IO_Pos"):
        client(running).stop_replication(1, io_thread_only=True)


def test_the_position_is_what_the_server_logged_and_its_gtid_state():
    sql = Session({POSITION_QUERY: [("0-1-9", "0-1-9,0-2-3")]})
    with agent(sql=sql) as running:
        assert client(running).position(1) == "0-1-9"
        assert str(client(running).gtid_state(1)) == "0-1-9,0-2-3"


def test_a_statement_the_server_refuses_is_answered_with_its_error():
    sql = Session(failing={"STOP SLAVE": SqlError(1227, "Access denied")})
    with agent(sql=sql) as running, pytest.raises(AgentError, match="HTTP 409: 1227: Access denied"):
        client(running).promote(1)


def test_the_state_stays_readable_without_a_signature():
    # Every ordinal reaches pod 1's agent here.
    with agent() as running:
        states, problems = client(running).states()
    assert states[1] is not None and 1 not in problems


def test_an_agent_without_tls_does_not_start_without_its_role_key(tmp_path):
    config = agent_config(tmp_path, pod="mysql-1")
    with pytest.raises(ConfigProblem, match="ROLE_KEY_FILE is not an absolute path"):
        role_requests(config, dialect_for(Flavor.MARIADB), REPLICATION, threading.Lock(), print, {})
    (tmp_path / "role-key").write_text("short")
    with pytest.raises(ConfigProblem, match="needs at least 16"):
        role_requests(config, dialect_for(Flavor.MARIADB), REPLICATION, threading.Lock(), print,
                      {"ROLE_KEY_FILE": str(tmp_path / "role-key")})


def test_an_agent_with_tls_needs_no_role_key(tmp_path, pod_certificate: TlsFiles):
    config = agent_config(tmp_path, pod="mysql-1", tls=pod_certificate)
    assert role_requests(config, dialect_for(Flavor.MARIADB), REPLICATION, threading.Lock(), print, {})


def test_a_mysql_gtid_set_printed_over_several_lines_is_answered_on_one():
    sql = Session({"SELECT @@GLOBAL.gtid_executed, @@GLOBAL.gtid_executed": [(MYSQL_SET, MYSQL_SET)]})
    actions = RoleActions(dialect=dialect_for(Flavor.MYSQL), ordinal=1, connect=lambda _: sql,
                          replication=REPLICATION, host_of=pod_host, log=print, lock=threading.Lock())
    assert actions.position({}) == {"position": MYSQL_SET.replace("\n", ""), "gtid_state": MYSQL_SET.replace("\n", "")}


def test_a_state_the_job_refuses_is_reported_with_why():
    with agent() as running:
        states, problems = client(running).states()
    # Pod 1's state names pod 0 as the heartbeat's writer (offset -1); asked as pod 0, that is no pod.
    assert states[0] is None and problems[0] == "the server state's heartbeat_writer_offset does not name a pod"


@pytest.mark.parametrize(("header", "value", "reason"), [
    ("X-Role-Timestamp", "-12", "the timestamp is not a number of seconds"),
    ("X-Role-Nonce", "ZZ" * 16, "the nonce is not 32 hexadecimal digits"),
])
def test_a_malformed_signature_header_is_refused_with_why(header, value, reason):
    body = b"{}"
    headers = {**signed_headers(KEY, pod_host(1), "POST", "/v1/role/promote", body), header: value}
    with agent() as running:
        status, answer = _post(running.port, "/v1/role/promote", body, headers)
    assert (status, answer) == (403, {"error": f"refused: {reason}"}) and running.sql.statements == []
