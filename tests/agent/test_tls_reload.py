"""The agent keeps its server on the pod's current certificate (tls_reload.py): when it reloads
(the pure reload_reason, table-tested) and what a look runs and logs, against a fake Sql seam and
certificate files the test writes."""
from __future__ import annotations

from pathlib import Path

import pytest
from mysql_cluster_agent.config import TlsFiles
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.local_server import SqlError
from mysql_cluster_agent.tls_reload import (
    CertificateKeeper,
    Reloaded,
    Why,
    files_digest,
    reload_reason,
    tls_reload_sql,
)

from .fake_sql import FakeSql

MARIADB = dialect_for(Flavor.MARIADB)
MYSQL = dialect_for(Flavor.MYSQL)
STARTED = 1_800_000_000
NOW = STARTED + 600
RELOAD = ["SET SESSION sql_log_bin = 0", "FLUSH NO_WRITE_TO_BINLOG SSL", "SET SESSION sql_log_bin = 1"]
LAST = Reloaded(server_started_at=STARTED, files="first")


@pytest.mark.parametrize(("last", "started_at", "files", "why"), [
    (None, STARTED, "first", Why.ROLE_GIVEN),
    (LAST, STARTED, "first", None),
    (LAST, STARTED + 2, "first", None),  # the same server: its start time is known to 2 s
    (LAST, STARTED + 60, "first", Why.SERVER_RESTARTED),
    (LAST, STARTED, "renewed", Why.FILES_CHANGED),
    (LAST, STARTED + 60, "renewed", Why.SERVER_RESTARTED),
], ids=["never reloaded", "nothing changed", "uptime jitter", "server restarted", "files changed",
        "restarted with new files"])
def test_the_server_reloads_after_its_role_its_restart_or_a_change_of_the_files(
        last: Reloaded | None, started_at: int, files: str, why: Why | None) -> None:
    assert reload_reason(last, started_at, files) is why


def test_the_reload_stays_out_of_the_binary_log_and_logs_again_after() -> None:
    assert tls_reload_sql(MARIADB) == RELOAD
    assert tls_reload_sql(MYSQL)[1] == "ALTER INSTANCE RELOAD TLS"


def certificate(tmp_path: Path, generation: str) -> TlsFiles:
    files = TlsFiles(tmp_path / "ca.crt", tmp_path / "tls.crt", tmp_path / "tls.key")
    for path in (files.ca, files.cert, files.key):
        path.write_text(f"{path.name} {generation}\n")
    return files


def keeper(tls: TlsFiles, sql: FakeSql) -> tuple[CertificateKeeper, list[str]]:
    logged: list[str] = []
    return CertificateKeeper(sql, MARIADB, tls, logged.append, clock=lambda: float(NOW)), logged


def test_the_server_reloads_once_it_has_its_role_then_only_when_something_changed(tmp_path: Path) -> None:
    sql = FakeSql()
    certificates, logged = keeper(certificate(tmp_path, "1"), sql)
    certificates.look(STARTED)
    certificates.look(STARTED)
    assert sql.statements == RELOAD
    assert logged == [f"the server reloaded the certificate of {tmp_path} (its role was given)"]


def test_a_renewed_certificate_is_reloaded_and_said_so(tmp_path: Path) -> None:
    sql = FakeSql()
    tls = certificate(tmp_path, "1")
    certificates, logged = keeper(tls, sql)
    certificates.look(STARTED)
    certificate(tmp_path, "2")
    certificates.look(STARTED)
    assert sql.statements == RELOAD * 2
    assert logged[-1] == f"the server reloaded the renewed certificate of {tmp_path} (the files changed)"


def test_a_new_key_alone_is_a_change_too(tmp_path: Path) -> None:
    tls = certificate(tmp_path, "1")
    before = files_digest(tls)
    tls.key.write_text("another key\n")
    assert files_digest(tls) != before


def test_a_server_that_restarted_reloads_though_the_files_are_the_same(tmp_path: Path) -> None:
    sql = FakeSql()
    certificates, logged = keeper(certificate(tmp_path, "1"), sql)
    certificates.look(STARTED)
    certificates.look(STARTED + 60)
    assert sql.statements == RELOAD * 2
    assert logged[-1].endswith("(it restarted)")


class RenewedDuringTheReload(FakeSql):
    """The kubelet renews the files while the server reloads them (after the agent read them)."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.tmp_path = tmp_path

    def execute(self, sql: str, args: tuple[object, ...] = ()) -> None:
        super().execute(sql, args)
        if sql == RELOAD[1] and self.statements.count(sql) == 1:
            certificate(self.tmp_path, "2")


def test_a_renewal_during_a_reload_makes_the_next_look_reload_again(tmp_path: Path) -> None:
    sql = RenewedDuringTheReload(tmp_path)
    certificates, logged = keeper(certificate(tmp_path, "1"), sql)
    certificates.look(STARTED)
    certificates.look(STARTED)
    certificates.look(STARTED)
    assert sql.statements == RELOAD * 2
    assert "renewed" in logged[-1]


def test_a_refused_reload_is_said_with_what_to_do_and_tried_again_at_the_next_look(tmp_path: Path) -> None:
    refusal = SqlError(1105, "Failed to refresh SSL certificate: key values mismatch")
    sql = FakeSql(failing={RELOAD[1]: refusal})
    certificates, logged = keeper(certificate(tmp_path, "1"), sql)
    certificates.look(STARTED)
    certificates.look(STARTED)
    assert sql.statements == RELOAD * 2  # the session logs again after each
    assert len(logged) == 1  # the same failure is said once a minute, not at every look
    assert "did not reload the certificate (its role was given): 1105: Failed to refresh" in logged[0]
    assert "Check that tls.crt and tls.key" in logged[0] and "tries again" in logged[0]
    sql.failing.clear()
    certificates.look(STARTED)
    assert logged[-1].startswith("the server reloaded the certificate")


def test_unreadable_files_are_said_and_nothing_is_reloaded(tmp_path: Path) -> None:
    tls = certificate(tmp_path, "1")
    tls.cert.unlink()
    sql = FakeSql()
    certificates, logged = keeper(tls, sql)
    certificates.look(STARTED)
    assert sql.statements == []
    assert logged == [f"cannot read the certificate file {tls.cert}: No such file or directory; the TLS "
                      "Secret must hold ca.crt, tls.crt and tls.key; the server keeps the certificate it has"]
