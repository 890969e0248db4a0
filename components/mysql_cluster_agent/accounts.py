"""The cluster's accounts, each with only what its job needs, as statements for the primary's
local server. They run at every start of the primary's agent, so a changed password in the Secret
takes effect; they replicate, so every replica and every later clone has the same accounts.

  replication: REPLICATION SLAVE, from any pod (over TLS when the cluster has it), and the
               heartbeat (which it can read from the binary log anyway)
  backup:      MariaDB: what mariadb-backup needs, from inside the pod only (127.0.0.1);
               MySQL: BACKUP_ADMIN, the donor's side of a peer's or a backup's CLONE, from any
               pod (over mutual TLS when the cluster has it); and, from inside the pod only
               (127.0.0.1, which MySQL matches before '%'), RELOAD, the binary log archive's
               rotation
  switchover:  no more: each pod's own agent changes its server's role as local root when the
               switchover Job asks it (role_api.py), so no account another pod can log in as
               can reset the binary logs or the GTID state, change a replication source or set a
               global variable (issue 22, finding 1). The account earlier versions made is dropped
  application: everything on the application database only
  metrics:     what mysqld-exporter reads, from inside the pod only (when metrics are on)

The statements are (sql, args) pairs for the seam (local_server.Sql), whose PyMySQL cursor
quotes every argument as a string literal for the server's sql_mode: account names, hosts,
passwords, hashes and the certificate subject travel as arguments, so nothing here quotes a
string. Only identifiers (the application database) are written into the text. A statement with
args is a format string for them (a literal % is written %%); one without is sent as written.

Passwords come in as arguments (read_secret reads them from the Secret's files) and leave only
as statement arguments: never in a log line, a repr, argv or the environment. MySQL writes only
a password's hash to the binary log; MariaDB writes the statement as sent, so for MariaDB the
statements carry the mysql_native_password hash computed here, and the clear password never
reaches the server or its binary log.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import heartbeat
from .dialect import Flavor

# One statement for the seam: a format string and the arguments the cursor quotes into it.
Statement = tuple[str, tuple[object, ...]]

ANY_POD = "%"
THIS_POD = "127.0.0.1"
# The account earlier versions made for the switchover Job, with role-changing grants; dropped,
# and its name stays reserved so that no account of the user's is dropped in its place.
RETIRED_SWITCHOVER_USER = "switchover"


class SecretError(Exception):
    """A Secret's file that cannot be used as a password; the message names the file and the
    fix, never the value."""


def read_secret(directory: Path, key: str, max_length: int | None = None) -> str:
    """The password in Secret key `key`, mounted as a file in `directory`. Like the images'
    entrypoints, the value loses its trailing newlines, so a Secret made from a file with a final
    newline means the same password everywhere. An empty value, or one longer than `max_length`
    characters (MySQL's limit on replication passwords, Dialect.max_replication_password), is
    refused before any statement carries it."""
    path = directory / key
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SecretError(f"secret file {path} is missing or unreadable (Secret key '{key}'): "
                          f"{error.strerror}; the Secret must have the key '{key}'") from None
    try:
        value = raw.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        raise SecretError(f"secret file {path} (Secret key '{key}') is not UTF-8 text; "
                          f"put a text password in the Secret's key '{key}'") from None
    if not value:
        raise SecretError(f"secret file {path} (Secret key '{key}') is empty; "
                          f"put a password in the Secret's key '{key}'")
    if max_length is not None and len(value) > max_length:
        raise SecretError(f"secret file {path} (Secret key '{key}') holds {len(value)} characters, "
                          f"more than the server takes ({max_length}); put a shorter password "
                          f"in the Secret's key '{key}'")
    return value


@dataclass(frozen=True)
class ClusterAccounts:
    """Who the cluster's accounts are, and what shapes their grants."""

    flavor: Flavor
    replication_user: str
    backup_user: str
    app_user: str
    app_database: str
    # Whether the servers have TLS; then the replication and clone passwords never cross the
    # network in a plain connection.
    tls: bool
    # The subject of the pods' certificate, where the stack knows it: MySQL's clone donor then
    # takes only that certificate, not any other the same CA signed.
    tls_subject: str | None = None
    # The exporter's account, when metrics are on.
    metrics_user: str | None = None


@dataclass(frozen=True)
class Passwords:
    """The accounts' passwords; never shown by repr."""

    replication: str = field(repr=False)
    backup: str = field(repr=False)
    app: str = field(repr=False)
    metrics: str | None = field(default=None, repr=False)


def read_passwords(secrets: Path, max_replication_password: int | None,
                   metrics_secrets: Path | None = None) -> Passwords:
    """The accounts' passwords from the credentials Secret's files in `secrets` (and the metrics
    Secret's in `metrics_secrets` when metrics are on), under the keys the component mounts."""
    return Passwords(
        replication=read_secret(secrets, "replication-password", max_replication_password),
        backup=read_secret(secrets, "backup-password"),
        app=read_secret(secrets, "app-password"),
        metrics=None if metrics_secrets is None else read_secret(metrics_secrets,
                                                                 "metrics-password"))


def identifier(name: str) -> str:
    """A quoted SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def _in_format(text: str) -> str:
    """`text` as it stands in the format string of a statement with args."""
    return text.replace("%", "%%")


def grant_pattern(database: str) -> str:
    """The database name as a database-level grant matches it: there '_' and '%' are wildcards
    (`m_sql`.* would cover mysql) and '\\' escapes them, so all three are escaped, as the official
    images' entrypoints do (docker-library/mysql docker-entrypoint.sh)."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def native_password_hash(password: str) -> str:
    """mysql_native_password's stored form: '*' and SHA1(SHA1(password)) in upper-case hex, what
    MariaDB's PASSWORD() returns (sql/password.c, my_make_scrambled_password)."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode("utf-8")).digest()).hexdigest().upper()


def ensure_user_sql(flavor: Flavor, user: str, host: str, password: str) -> list[Statement]:
    """Creates the account, or sets the password of an existing one."""
    if flavor is Flavor.MARIADB:
        secret = native_password_hash(password)
        return [("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY PASSWORD %s", (user, host, secret)),
                ("ALTER USER %s@%s IDENTIFIED BY PASSWORD %s", (user, host, secret))]
    return [("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password)),
            ("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))]


def _only(user: str, host: str, privileges: str) -> list[Statement]:
    """The account's privileges become exactly `privileges` on every schema: what an earlier
    release granted more (the switchover account's role-changing power) goes."""
    return [("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", (user, host)),
            (f"GRANT {privileges} ON *.* TO %s@%s", (user, host))]


def clone_donor_requirement(accounts: ClusterAccounts) -> Statement:
    """What MySQL's donor account requires of a peer's connection. With TLS, mutual TLS: a client
    certificate that the server verifies against the cluster's CA (X509) and, where the stack
    knows the pods' certificate, its subject, so that a certificate the same CA signed for
    another service clones nothing either. The password alone never suffices."""
    if not accounts.tls:
        return "REQUIRE NONE", ()
    if accounts.tls_subject:
        return "REQUIRE SUBJECT %s", (accounts.tls_subject,)
    return "REQUIRE X509", ()


def backup_grants_sql(accounts: ClusterAccounts) -> list[Statement]:
    """Least privileges of the backup account: mariadb-backup with --slave-info; a CLONE donor
    (MySQL, https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-remote.html)."""
    if accounts.flavor is Flavor.MARIADB:
        return _only(accounts.backup_user, THIS_POD,
                     "RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR")
    return _only(accounts.backup_user, ANY_POD, "BACKUP_ADMIN")


def users_sql(accounts: ClusterAccounts, passwords: Passwords) -> list[Statement]:
    """The replication, backup and application accounts with their current passwords."""
    mariadb = accounts.flavor is Flavor.MARIADB
    replicator = accounts.replication_user
    backup_host = THIS_POD if mariadb else ANY_POD
    statements = [
        *ensure_user_sql(accounts.flavor, replicator, ANY_POD, passwords.replication),
        *ensure_user_sql(accounts.flavor, accounts.backup_user, backup_host, passwords.backup),
        *ensure_user_sql(accounts.flavor, accounts.app_user, ANY_POD, passwords.app),
        *_only(replicator, ANY_POD, "REPLICATION SLAVE"),
        (f"ALTER USER %s@%s REQUIRE {'SSL' if accounts.tls else 'NONE'}", (replicator, ANY_POD)),
    ]
    if not mariadb:
        requirement, subject = clone_donor_requirement(accounts)
        statements.append((f"ALTER USER %s@%s {requirement}",
                           (accounts.backup_user, ANY_POD, *subject)))
    statements += backup_grants_sql(accounts)
    if not mariadb:
        # The archiver's local login, apart from the network account: it presents no
        # certificate, and RELOAD is not reachable from another pod.
        statements += ensure_user_sql(accounts.flavor, accounts.backup_user, THIS_POD,
                                      passwords.backup)
        statements += _only(accounts.backup_user, THIS_POD, "RELOAD")
    statements += app_database_sql(accounts)
    return statements


def app_database_sql(accounts: ClusterAccounts) -> list[Statement]:
    """The application database and its account's grant, on that database only. Added to, never
    revoked: the account's other grants are the application's own, and a revoke would refuse its
    queries for a moment at every start of the primary."""
    database = accounts.app_database
    pattern = _in_format(identifier(grant_pattern(database)))
    return [(f"CREATE DATABASE IF NOT EXISTS {identifier(database)}", ()),
            (f"GRANT ALL PRIVILEGES ON {pattern}.* TO %s@%s", (accounts.app_user, ANY_POD))]


def retired_accounts_sql() -> list[Statement]:
    """Drops the switchover account of earlier versions (and with it its grants)."""
    return [("DROP USER IF EXISTS %s@%s", (RETIRED_SWITCHOVER_USER, ANY_POD))]


def heartbeat_grant_sql(accounts: ClusterAccounts) -> list[Statement]:
    """Peers read the heartbeat (and nothing else of the schema) as the replication account,
    which can already read every change from the binary log, so no further account and secret is
    needed. The table must exist (heartbeat.set_up_heartbeat runs first)."""
    table = _in_format(f"{identifier(heartbeat.SCHEMA)}.{identifier(heartbeat.TABLE)}")
    return [(f"GRANT SELECT ON {table} TO %s@%s", (accounts.replication_user, ANY_POD))]


def metrics_user_sql(accounts: ClusterAccounts, password: str) -> list[Statement]:
    """The exporter's account: status, variables and replication state, no table data. Few
    connections, so a slow server is not swamped by scrapes."""
    if accounts.metrics_user is None:
        raise ValueError("metrics_user_sql needs ClusterAccounts.metrics_user")
    user = accounts.metrics_user
    reads = ("PROCESS, BINLOG MONITOR, SLAVE MONITOR" if accounts.flavor is Flavor.MARIADB
             else "PROCESS, REPLICATION CLIENT")
    return [
        *ensure_user_sql(accounts.flavor, user, THIS_POD, password),
        ("ALTER USER %s@%s WITH MAX_USER_CONNECTIONS 3", (user, THIS_POD)),
        *_only(user, THIS_POD, reads),
        ("GRANT SELECT ON performance_schema.* TO %s@%s", (user, THIS_POD)),
        # The heartbeat's view. A schema-level grant, because it replicates: a replica applies it
        # even before its own agent has made the view, where a grant on the view would stop
        # replication. The schema holds only the heartbeat.
        (f"GRANT SELECT ON {_in_format(identifier(grant_pattern(heartbeat.SCHEMA)))}.* TO %s@%s",
         (user, THIS_POD)),
    ]


def accounts_sql(accounts: ClusterAccounts, passwords: Passwords) -> list[Statement]:
    """Every account of the cluster, for the primary's agent to run once the heartbeat is set
    up; the metrics account when accounts.metrics_user is set."""
    statements = [*users_sql(accounts, passwords), *retired_accounts_sql(), *heartbeat_grant_sql(accounts)]
    if accounts.metrics_user is not None:
        if passwords.metrics is None:
            raise ValueError("the metrics account needs Passwords.metrics")
        statements += metrics_user_sql(accounts, passwords.metrics)
    return statements
