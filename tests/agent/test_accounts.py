"""The cluster's accounts as statements: what they say, how they quote, where the passwords go.
What the servers make of them: test_accounts_real_servers.py."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mysql_cluster_agent.accounts import (
    ClusterAccounts,
    Passwords,
    SecretError,
    Statement,
    accounts_sql,
    app_database_sql,
    clone_donor_requirement,
    grant_pattern,
    identifier,
    native_password_hash,
    read_passwords,
    read_secret,
    users_sql,
)
from mysql_cluster_agent.dialect import Flavor
from pymysql.converters import escape_item

PASSWORDS = Passwords(replication="repl-'pass\\word%", backup="backup-secret-1",
                      app="app-secret-123", metrics="metrics-secret-1")


BASE = ClusterAccounts(
    flavor=Flavor.MYSQL, replication_user="replicator", backup_user="backup",
    app_user="app", app_database="app", tls=False, tls_subject=None,
    metrics_user="metrics")


def accounts(flavor: Flavor = Flavor.MYSQL, **changes: Any) -> ClusterAccounts:
    return replace(BASE, flavor=flavor, **changes)


def rendered(statement: Statement) -> str:
    """What the server receives through the seam (local_server.LocalServer): the driver quotes
    the args into the text; a statement without args goes as written."""
    sql, args = statement
    return sql % tuple(str(escape_item(arg, "utf8mb4")) for arg in args) if args else sql


def texts(statements: list[Statement]) -> list[str]:
    return [rendered(statement) for statement in statements]


def test_an_identifier_doubles_its_backticks() -> None:
    assert rendered((f"CREATE DATABASE {identifier('a`b')}", ())) == "CREATE DATABASE `a``b`"


@pytest.mark.parametrize(("database", "pattern"), [
    ("app", "app"), ("my_app", "my\\_app"), ("100%", "100\\%"), ("a\\b", "a\\\\b"),
    ("m_s%l", "m\\_s\\%l"),
])
def test_a_grant_pattern_escapes_the_wildcards(database: str, pattern: str) -> None:
    assert grant_pattern(database) == pattern


def test_the_app_grant_matches_its_database_literally() -> None:
    statements = texts(app_database_sql(accounts(app_database="my_db%")))
    assert statements == ["CREATE DATABASE IF NOT EXISTS `my_db%`",
                          "GRANT ALL PRIVILEGES ON `my\\_db\\%`.* TO 'app'@'%'"]


def test_names_with_quotes_travel_as_quoted_arguments() -> None:
    grant = texts(app_database_sql(accounts(app_user="o'b\\x")))[1]
    assert grant.endswith("TO 'o\\'b\\\\x'@'%'")


def test_no_statement_text_holds_a_name_or_a_password() -> None:
    for flavor in Flavor:
        for sql, _args in accounts_sql(accounts(flavor), PASSWORDS):
            for value in ("replicator", "switchover", "'app'", "secret", "repl-"):
                assert value not in sql, sql


def test_mysql_receives_the_password_to_hash_itself() -> None:
    statements = texts(users_sql(accounts(Flavor.MYSQL), PASSWORDS))
    assert "CREATE USER IF NOT EXISTS 'replicator'@'%' IDENTIFIED BY 'repl-\\'pass\\\\word%'" \
        in statements


def test_mariadb_receives_only_the_hash_of_a_password() -> None:
    statements = texts(accounts_sql(accounts(Flavor.MARIADB), PASSWORDS))
    for password in (PASSWORDS.replication, PASSWORDS.backup, PASSWORDS.app):
        assert not any(password in text or str(escape_item(password, "utf8mb4")) in text
                       for text in statements)
    hashed = native_password_hash(PASSWORDS.app)
    assert f"ALTER USER 'app'@'%' IDENTIFIED BY PASSWORD '{hashed}'" in statements


def test_the_native_password_hash_is_the_double_sha1_the_servers_store() -> None:
    # The value MySQL's and MariaDB's documentation show for PASSWORD('password').
    assert native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
    inner = hashlib.sha1("pä".encode()).digest()
    assert native_password_hash("pä") == "*" + hashlib.sha1(inner).hexdigest().upper()


def test_passwords_are_not_shown_by_repr() -> None:
    assert "secret" not in repr(PASSWORDS) and "repl-" not in repr(PASSWORDS)


@pytest.mark.parametrize(("tls", "subject", "requirement"), [
    (False, "/CN=pod", ("REQUIRE NONE", ())),
    (True, None, ("REQUIRE X509", ())),
    (True, "/CN=it's", ("REQUIRE SUBJECT %s", ("/CN=it's",))),
])
def test_mysql_clone_donor_requires_the_pods_certificate_with_tls(
        tls: bool, subject: str | None, requirement: Statement) -> None:
    assert clone_donor_requirement(accounts(tls=tls, tls_subject=subject)) == requirement


def test_the_mysql_backup_account_requires_the_subject_as_a_quoted_argument() -> None:
    statements = texts(users_sql(accounts(tls=True, tls_subject="/CN=it's"), PASSWORDS))
    assert "ALTER USER 'backup'@'%' REQUIRE SUBJECT '/CN=it\\'s'" in statements


def test_mariadb_backup_account_exists_for_the_pod_itself_only() -> None:
    statements = texts(users_sql(accounts(Flavor.MARIADB, tls=True), PASSWORDS))
    assert not any("'backup'@'%'" in text for text in statements)
    assert any("'backup'@'127.0.0.1'" in text for text in statements)


@pytest.mark.parametrize("flavor", list(Flavor))
def test_the_switchover_account_of_earlier_versions_is_dropped_and_given_nothing(flavor: Flavor) -> None:
    statements = texts(accounts_sql(accounts(flavor), PASSWORDS))
    assert "DROP USER IF EXISTS 'switchover'@'%'" in statements
    assert not any("'switchover'" in text for text in statements if not text.startswith("DROP USER"))


def test_every_grant_of_a_cluster_account_follows_its_revoke() -> None:
    statements = texts(accounts_sql(accounts(), PASSWORDS))
    revoked = {text.rsplit(" FROM ", 1)[1] for text in statements if text.startswith("REVOKE")}
    assert revoked == {"'replicator'@'%'", "'backup'@'%'", "'backup'@'127.0.0.1'",
                       "'metrics'@'127.0.0.1'"}
    for account in revoked:
        position = {text: i for i, text in enumerate(statements)}
        revoke = position[f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"]
        grants = [i for text, i in position.items()
                  if text.startswith("GRANT") and text.endswith(f"TO {account}")]
        assert grants and min(grants) > revoke, account


def test_the_application_account_is_never_revoked() -> None:
    assert not any("'app'" in text for text in texts(accounts_sql(accounts(), PASSWORDS))
                   if text.startswith("REVOKE"))


def test_the_metrics_account_needs_its_password() -> None:
    with pytest.raises(ValueError, match="Passwords.metrics"):
        accounts_sql(accounts(), Passwords("r", "b", "p"))


def test_no_metrics_account_without_metrics() -> None:
    statements = texts(accounts_sql(accounts(metrics_user=None), Passwords("r", "b", "p")))
    assert not any("metrics" in text for text in statements)


def test_a_secret_loses_its_trailing_newlines(tmp_path: Path) -> None:
    (tmp_path / "app-password").write_bytes(b"two\nlines\n\n")
    assert read_secret(tmp_path, "app-password") == "two\nlines"


def test_an_empty_secret_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "app-password").write_bytes(b"\n")
    with pytest.raises(SecretError, match=r"app-password'\) is empty; put a password"):
        read_secret(tmp_path, "app-password")


def test_a_missing_secret_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="missing or unreadable .Secret key 'app-password'"):
        read_secret(tmp_path, "app-password")


def test_an_over_long_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "replication-password").write_text("x" * 32 + "TAIL")
    with pytest.raises(SecretError, match="36 characters, more than the server takes .32.") \
            as refused:
        read_secret(tmp_path, "replication-password", max_length=32)
    assert "TAIL" not in str(refused.value)
    (tmp_path / "replication-password").write_text("x" * 32)
    assert read_secret(tmp_path, "replication-password", max_length=32) == "x" * 32


def test_a_secret_that_is_not_text_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app-password").write_bytes(b"\xff\xfe")
    with pytest.raises(SecretError, match="not UTF-8 text"):
        read_secret(tmp_path, "app-password")


def test_the_passwords_are_read_from_the_mounted_secret_keys(tmp_path: Path) -> None:
    credentials, metrics = tmp_path / "credentials", tmp_path / "metrics"
    credentials.mkdir()
    metrics.mkdir()
    for key in ("replication", "backup", "app"):
        (credentials / f"{key}-password").write_text(f"{key}-value\n")
    (metrics / "metrics-password").write_text("metrics-value")
    assert read_passwords(credentials, 32, metrics) == Passwords(
        "replication-value", "backup-value", "app-value", "metrics-value")
    assert read_passwords(credentials, 32).metrics is None


def test_mysql_refuses_a_replication_password_over_its_limit_when_read(tmp_path: Path) -> None:
    for key in ("replication", "backup", "app"):
        (tmp_path / f"{key}-password").write_text("x" * 33)
    with pytest.raises(SecretError, match="replication-password"):
        read_passwords(tmp_path, 32)
    assert read_passwords(tmp_path, None).replication == "x" * 33
