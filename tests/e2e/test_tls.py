"""TLS on real servers (the default, tlsSource self-signed, as the stack renders it):
clients, replication and clones are encrypted and verified against the cluster's CA, and a peer
without a certificate of that CA gets nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mysql_cluster.tooling.mock_certificates import ca_private_key

from .harness import HarnessError

pytestmark = pytest.mark.e2e

TLS_DIR = "/etc/mysql-cluster/tls"
TLS_SECRET = "mysql-tls"
BACKUP_PORT = 3307


def _openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def _signed_certificate(directory: Path, common_name: str, alt_names: list[str]) -> dict[str, str]:
    """tls.crt and tls.key for `common_name` and `alt_names`, with both TLS usages, signed by
    the CA in `directory` (ca.crt, ca.key)."""
    _openssl(directory, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", "tls.key")
    _openssl(directory, "req", "-new", "-key", "tls.key", "-subj", f"/CN={common_name}",
             "-addext", f"subjectAltName={','.join(alt_names)}", "-out", "tls.csr")
    (directory / "usage.cnf").write_text("extendedKeyUsage=serverAuth,clientAuth\n")
    _openssl(directory, "x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-days", "2", "-copy_extensions", "copy", "-extfile", "usage.cnf",
             "-set_serial", "7", "-out", "tls.crt")
    return {name: (directory / name).read_text() for name in ("tls.crt", "tls.key")}


def other_ca_certificate(directory: Path, names: list[str]) -> dict[str, str]:
    """ca.crt, tls.crt and tls.key of a CA that is not the cluster's, for the same names."""
    _openssl(directory, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", "ca.key")
    _openssl(directory, "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=another CA",
             "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign", "-out", "ca.crt")
    certificate = _signed_certificate(directory, "mysql",
                                      [f"DNS:{name}" for name in names] + ["IP:127.0.0.1"])
    return {"ca.crt": (directory / "ca.crt").read_text(), **certificate}


def certificate_of_the_ca(directory: Path, ca_crt: str, ca_key: str, common_name: str
                          ) -> dict[str, str]:
    """tls.crt and tls.key that the given CA signed for another identity (its CN and one DNS
    name), as a shared issuer or corporate CA signs for other services."""
    (directory / "ca.crt").write_text(ca_crt)
    (directory / "ca.key").write_text(ca_key)
    return _signed_certificate(directory, common_name, [f"DNS:{common_name}"])


def client_over_tls(cluster, *options: str) -> list[str]:
    """The application's client, from the replica's server container to the primary's name."""
    return cluster.harness.sql_client(user=cluster.app_user, password=cluster.app_password,
                                      host=cluster.harness.dns_name(cluster.primary),
                                      database=cluster.app_database) + list(options)


def verified(cluster) -> list[str]:
    """Client options: TLS, the server's certificate and name verified against the cluster CA."""
    verify = "--ssl-verify-server-cert" if cluster.flavor == "mariadb" else "--ssl-mode=VERIFY_IDENTITY"
    return [f"--ssl-ca={TLS_DIR}/ca.crt", verify]


def plain(cluster) -> list[str]:
    """Client options: no TLS (MySQL's client then needs the server's RSA key for
    caching_sha2_password)."""
    return ["--skip-ssl"] if cluster.flavor == "mariadb" else ["--ssl-mode=DISABLED", "--get-server-public-key"]


def cipher_of(cluster, pod: str, *options: str) -> str:
    result = cluster.harness.exec(pod, "mysql", client_over_tls(cluster, *options),
                                  input_text="SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    return result.stdout.split("\t")[-1].strip()


def copy_to_pod(harness, pod: str, container: str, files: dict[str, str], prefix: str) -> None:
    """Files into the container's /tmp, as /tmp/<prefix>-<name>, readable by its user only."""
    for name, text in files.items():
        harness.exec(pod, container, ["bash", "-c", f"umask 077; cat >/tmp/{prefix}-{name}"],
                     input_text=text)


def donor_account_logs_in(cluster, donor: str, *tls_options: str) -> subprocess.CompletedProcess:
    """A login to the MySQL pod `donor` as the account that a peer's CLONE authenticates as (the
    backup user, with its password, from an option file in the container), with these client
    TLS options. A recipient whose connection is refused here clones nothing: the donor
    authenticates the clone's connections like any other (https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-remote.html)."""
    harness = cluster.harness
    password = harness.manifests.secret_data("mysql-credentials")["backup-password"].decode()
    copy_to_pod(harness, donor, "mysql", {"donor.cnf": f"[client]\nuser=backup\npassword={password}\n"},
                "clone")
    return harness.exec(donor, "mysql", [
        "mysql", "--defaults-extra-file=/tmp/clone-donor.cnf", "--protocol=tcp",
        f"--host={harness.dns_name(donor)}", *tls_options, "--batch", "--skip-column-names",
        "-e", "SELECT 'logged in'"], check=False)


@pytest.mark.timeout(240)
def test_replicas_replicate_over_tls_and_verify_the_primarys_certificate(mariadb_cluster):
    cluster = mariadb_cluster(replicas=2)
    status = cluster.assert_replicating("mysql-1")
    source = "Master" if cluster.flavor == "mariadb" else "Source"
    assert (status[f"{source}_SSL_Allowed"], status[f"{source}_SSL_CA_File"],
            status[f"{source}_SSL_Verify_Server_Cert"]) == ("Yes", f"{TLS_DIR}/ca.crt", "Yes")
    # The replication account cannot log in without TLS at all.
    assert cluster.harness.run_sql(
        cluster.primary, "SELECT ssl_type FROM mysql.user WHERE user = 'replicator'") == [("ANY",)]


@pytest.mark.timeout(240)
def test_a_new_replica_clones_over_mutual_tls(mariadb_cluster):
    cluster = mariadb_cluster(replicas=2)
    log = cluster.harness.log("mysql-1", cluster.clone_container)
    # MariaDB: socat's mutual TLS carries mariadb-backup's stream. MySQL: the CLONE plugin over
    # TLS, and the donor's account takes only a peer that presents the pods' certificate.
    transport = ("with socat over mutual TLS" if cluster.flavor == "mariadb"
                 else "with the CLONE plugin over TLS verified by the cluster CA")
    assert transport in log and "clone complete" in log, log
    if cluster.flavor == "mysql":
        assert cluster.harness.run_sql(
            cluster.primary, "SELECT host, ssl_type, x509_subject FROM mysql.user WHERE user = 'backup' "
            "ORDER BY host"
        ) == [("%", "SPECIFIED", "/O=mysql-cluster/CN=mysql"),
              ("127.0.0.1", "", "")]  # the binary log archive's local login (the agent's accounts.py)
    cluster.create_events_table()
    cluster.insert_events(1, 100)
    cluster.wait_caught_up()
    cluster.assert_events_everywhere(100)


# What it shows differs between MariaDB 10.11 and 11.8.
@pytest.mark.parametrize("server", ["mysql-9.7", "mariadb-11.8", "mariadb-10.11"], indirect=True)
@pytest.mark.timeout(240)
def test_with_client_tls_required_clients_connect_over_verified_tls_and_plain_ones_are_refused(
        mariadb_cluster, server):
    cluster = mariadb_cluster(replicas=2, requireClientTls="true")
    assert cipher_of(cluster, "mysql-1", *verified(cluster)) != ""
    # The same account and password, without TLS: MySQL and MariaDB 11.8 name
    # require_secure_transport, while 10.11 says no more than "Access denied".
    refusal = "ERROR 1045" if server == "mariadb-10.11" else (
        "ERROR 3159 .*insecure transport are prohibited while --require_secure_transport=ON")
    with pytest.raises(HarnessError, match=refusal):
        cipher_of(cluster, "mysql-1", *plain(cluster))


@pytest.mark.timeout(180)
def test_by_default_plain_clients_are_still_accepted(mariadb_cluster):
    cluster = mariadb_cluster(replicas=1)
    assert cipher_of(cluster, cluster.primary, *plain(cluster)) == ""


@pytest.mark.timeout(180)
def test_a_clone_without_a_certificate_of_the_clusters_ca_gets_nothing(mariadb_cluster, tmp_path):
    cluster = mariadb_cluster(replicas=1)
    harness, donor = cluster.harness, cluster.primary
    other = other_ca_certificate(tmp_path, [harness.dns_name(donor)])
    if cluster.flavor == "mysql":  # CLONE's donor is the server's port, for the backup user
        copy_to_pod(harness, donor, "mysql", other, "other")
        logins = {attempt: donor_account_logs_in(cluster, donor, *options) for attempt, options in {
            "plain TCP": ["--ssl-mode=DISABLED", "--get-server-public-key"],
            "TLS without a client certificate": ["--ssl-mode=REQUIRED"],
            "TLS with a certificate of another CA": [
                "--ssl-mode=REQUIRED", "--ssl-cert=/tmp/other-tls.crt",
                "--ssl-key=/tmp/other-tls.key"],
            "TLS with the pods' certificate": [
                "--ssl-mode=REQUIRED", f"--ssl-cert={TLS_DIR}/tls.crt", f"--ssl-key={TLS_DIR}/tls.key"],
        }.items()}
        assert {attempt: "logged in" in result.stdout for attempt, result in logins.items()} == {
            "plain TCP": False, "TLS without a client certificate": False,
            "TLS with a certificate of another CA": False, "TLS with the pods' certificate": True,
        }, {attempt: result.stderr for attempt, result in logins.items()}
        return
    for name, text in other.items():
        harness.exec(donor, "backup", ["bash", "-c", f"umask 077; cat >/tmp/other-{name}"],
                     input_text=text)
    address = f"{harness.dns_name(donor)}:{BACKUP_PORT},connect-timeout=5"
    attempts = {
        # What a port-forward or a stray pod sends: plain TCP.
        "plain TCP": f"TCP:{address}",
        "TLS without a client certificate": f"OPENSSL:{address},cafile={TLS_DIR}/ca.crt",
        "TLS with a certificate of another CA": (
            f"OPENSSL:{address},cafile={TLS_DIR}/ca.crt,cert=/tmp/other-tls.crt,"
            "key=/tmp/other-tls.key"),
    }
    received = {}
    for attempt, socat_address in attempts.items():
        result = harness.exec(donor, "backup", [
            "bash", "-c", f"timeout 20 socat -u '{socat_address}' STDOUT | wc -c"], check=False)
        received[attempt] = int(result.stdout.strip())
    assert received == dict.fromkeys(attempts, 0)
    assert "streaming a backup to a peer" not in harness.log(donor, "backup")


@pytest.mark.timeout(180)
def test_a_clone_with_a_certificate_of_the_clusters_ca_for_another_name_gets_nothing(
        mariadb_cluster, tmp_path):
    """A shared issuer or corporate CA signs for other services too: the donor serves only a
    certificate that names this cluster's pods (MariaDB: socat checks the peer's names; MySQL:
    the donor account requires the pods' certificate's subject)."""
    cluster = mariadb_cluster(replicas=1)
    harness, donor = cluster.harness, cluster.primary
    ca = harness.manifests.secret_data(TLS_SECRET)["ca.crt"].decode()
    web = certificate_of_the_ca(tmp_path, ca, ca_private_key(ca), "web-frontend")
    if cluster.flavor == "mysql":
        copy_to_pod(harness, donor, "mysql", web, "web")
        login = donor_account_logs_in(cluster, donor, "--ssl-mode=REQUIRED",
                                      "--ssl-cert=/tmp/web-tls.crt", "--ssl-key=/tmp/web-tls.key")
        assert "logged in" not in login.stdout
        assert "Access denied for user 'backup'" in login.stderr, login.stderr
        return
    for name, text in web.items():
        harness.exec(donor, "backup", ["bash", "-c", f"umask 077; cat >/tmp/web-{name}"],
                     input_text=text)
    address = (f"{harness.dns_name(donor)}:{BACKUP_PORT},connect-timeout=5,"
               f"cafile={TLS_DIR}/ca.crt,cert=/tmp/web-tls.crt,key=/tmp/web-tls.key")
    result = harness.exec(donor, "backup", [
        "bash", "-c", f"timeout 20 socat -u 'OPENSSL:{address}' STDOUT | wc -c"], check=False)
    assert int(result.stdout.strip()) == 0
    log = harness.log(donor, "backup")
    assert "streaming a backup to a peer" not in log
    assert "commonName does not match" in log, log


@pytest.mark.timeout(240)
def test_a_replica_given_a_certificate_of_another_ca_cannot_replicate_and_says_why(
        mariadb_cluster, tmp_path):
    cluster = mariadb_cluster(replicas=2)
    harness, replica = cluster.harness, "mysql-1"
    names = [harness.dns_name(pod) for pod in harness.pod_names()]
    secret = harness.manifests.get("Secret", TLS_SECRET)
    secret["stringData"] = other_ca_certificate(tmp_path, names)
    harness.delete_pod(replica)  # comes back with the Secret as it is now

    def explained() -> bool:
        try:
            return "TLS to the primary failed" in harness.probe_failure(replica, "mysql",
                                                                        "readiness")
        except HarnessError:  # the new pod's probes do not exist yet
            return False
    harness.wait_until(explained, 90, "the replica's readiness saying TLS to the primary failed")
    assert not harness.is_ready(replica)
    assert (f"must be signed by the CA in {TLS_DIR}/ca.crt and name {harness.dns_name('mysql-0')}"
            in harness.probe_failure(replica, "mysql", "readiness"))


@pytest.mark.timeout(300)
def test_a_new_certificate_and_ca_are_taken_up_by_every_pod_without_a_restart(mariadb_cluster,
                                                                               tmp_path):
    cluster = mariadb_cluster(replicas=2)
    harness = cluster.harness
    manifests = cluster.render()
    names = [harness.dns_name(pod) for pod in harness.pod_names()]
    [secret] = [m for m in manifests
                if m["kind"] == "Secret" and m["metadata"]["name"] == TLS_SECRET]
    secret["stringData"] = other_ca_certificate(tmp_path, names)
    # MariaDB's pods also restart their backup listener with the new files.
    listener = ["backup"] if cluster.flavor == "mariadb" else []
    containers = ["mysql", "agent", *listener]
    # Counted from here: a MySQL replica's server restarted once already, on its clone.
    restarts = [harness.restart_count(pod, container) for pod in harness.pod_names() for container in containers]
    harness.apply(manifests)  # the kubelet updates every pod's files in place

    def taken_up(pod: str) -> bool:
        return "the server reloaded the renewed certificate" in harness.log(pod, "agent") and all(
            "serving backups with the renewed certificate" in harness.log(pod, name) for name in listener)
    harness.wait_until(lambda: all(taken_up(pod) for pod in harness.pod_names()), 90,
                       "every agent reloading the server's certificate")
    # A client that trusts only the new CA verifies the primary's server.
    assert cipher_of(cluster, "mysql-1", *verified(cluster)) != ""
    # Replication connects anew, verified against the new CA, and carries new rows.
    harness.run_sql("mysql-1", "STOP REPLICA; START REPLICA")
    cluster.create_events_table()
    cluster.insert_events(1, 20)
    cluster.wait_caught_up()
    cluster.assert_events_everywhere(20)
    assert [harness.restart_count(pod, container) for pod in harness.pod_names()
            for container in containers] == restarts
