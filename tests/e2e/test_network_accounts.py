"""What each account that another pod can log in as may do over TCP, among the statements of
issue 22's finding 1 (wiping the binary logs and GTID state, pointing a server at another source,
setting global variables). The application and replication accounts are refused every one, and
so is the backup account (MySQL: the CLONE donor's side alone; MariaDB: no login but from inside
its pod). The switchover account is not refused them yet (docs/operations.md, "Accounts and what
each can do"): its outcomes are printed (pytest -rA shows them), not asserted."""

import pytest

from .harness import HarnessError

pytestmark = pytest.mark.e2e

# Secret key of each account's password, by the account's user name (component contract).
PASSWORD_KEYS = {"replicator": "replication-password", "backup": "backup-password",
                 "switchover": "admin-password"}
FINDING_1 = {
    "mariadb": ["RESET MASTER", "SET GLOBAL gtid_strict_mode=0", "SET GLOBAL read_only=0",
                "CHANGE MASTER TO MASTER_HOST='attacker.invalid'"],
    "mysql": ["RESET BINARY LOGS AND GTIDS", "SET GLOBAL super_read_only=0",
              "SET GLOBAL sync_binlog=0", "SET GLOBAL innodb_flush_log_at_trx_commit=0",
              "CHANGE REPLICATION SOURCE TO SOURCE_HOST='attacker.invalid'"],
}


def outcome(cluster, user: str, password: str, sql: str) -> str:
    """"ran", or the server's refusal, for `sql` sent over TCP to the primary's DNS name."""
    harness = cluster.harness
    try:
        harness.run_sql(cluster.primary, sql, user=user, password=password,
                        host=harness.dns_name(cluster.primary))
    except HarnessError as error:
        return str(error)
    return "ran"


@pytest.mark.timeout(300)
def test_no_network_account_but_the_switchover_account_runs_a_statement_of_finding_1(
        mariadb_cluster):
    cluster = mariadb_cluster(replicas=1)
    secret = cluster.harness.manifests.secret_data(f"{cluster.harness.name}-credentials")
    accounts = {user: secret[key].decode() for user, key in PASSWORD_KEYS.items()}
    accounts[cluster.app_user] = cluster.app_password
    # MariaDB's backup account exists for 127.0.0.1 alone: from the network it cannot log in.
    login = {user: outcome(cluster, user, password, "SELECT CURRENT_USER()")
             for user, password in accounts.items()}
    if cluster.flavor == "mariadb":
        assert "Access denied for user 'backup'" in login.pop("backup")
    assert login == dict.fromkeys(login, "ran")

    # The switchover account last: what it runs changes the server.
    statements = FINDING_1[cluster.flavor]
    for user in sorted(login, key=lambda user: user == "switchover"):
        results = {sql: outcome(cluster, user, accounts[user], sql) for sql in statements}
        print(f"finding 1, {cluster.flavor}, {user}:",
              {sql: result.splitlines()[-1] if result != "ran" else result
               for sql, result in results.items()})
        if user != "switchover":
            assert {sql: "denied" in result for sql, result in results.items()} == dict.fromkeys(
                statements, True), f"{user}: {results}"
