"""TLS: where the certificate comes from, what it names, and which containers use it."""
from __future__ import annotations

import subprocess

import pytest

from mysql_cluster.tooling.mock_runtime import run_program
from mysql_cluster.tooling.render import stack_config
from mysql_cluster.settings import BY_KEY

from stack_manifests import mounted_secret_files, workload_pod_specs

from .conftest import PROJECT_DIR, container, find
from .test_config_validation import registered_before_failing, rejection

TLS_DIR = "/etc/mysql-cluster/tls"
TLS_FILES = ["ca.crt", "tls.crt", "tls.key"]
CERT_MANAGER = {"tlsSource": "cert-manager", "tlsIssuer": "cluster-ca"}
# What the dev stack's certificate must name: every pod (one wildcard, whatever their number),
# every Service in each form a client in the cluster may write, and the loopback address the pod's
# own scripts connect to.
DEV_NAMES = [
    "*.mysql.mysql-dev.svc.cluster.local",
    "mysql", "mysql.mysql-dev", "mysql.mysql-dev.svc", "mysql.mysql-dev.svc.cluster.local",
    "mysql-primary", "mysql-primary.mysql-dev", "mysql-primary.mysql-dev.svc",
    "mysql-primary.mysql-dev.svc.cluster.local",
    "mysql-read", "mysql-read.mysql-dev", "mysql-read.mysql-dev.svc",
    "mysql-read.mysql-dev.svc.cluster.local", "localhost"]


def pod_spec(manifests: list[dict]) -> dict:
    return find(manifests, "StatefulSet")["spec"]["template"]["spec"]


def tls_volume(manifests: list[dict]) -> list[dict]:
    return [volume for volume in pod_spec(manifests)["volumes"] if volume["name"] == "tls"]


def containers_mounting_tls(manifests: list[dict]) -> list[str]:
    spec = pod_spec(manifests)
    return [c["name"] for c in spec["initContainers"] + spec["containers"]
            if {"name": "tls", "mountPath": TLS_DIR, "readOnly": True} in c["volumeMounts"]]


def server_options(manifests: list[dict], role: str = "primary") -> list[str]:
    return find(manifests, "ConfigMap", "mysql")["data"][f"{role}.cnf"].splitlines()


def openssl_text(pem: str) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, text=True,
                          capture_output=True, check=True).stdout


# --- The default: a CA of the stack's own ----------------------------------------------------

def test_tls_is_on_by_default_with_a_ca_the_stack_makes(rendered):
    secret = find(rendered(), "Secret", "mysql-tls")
    assert (secret["type"], sorted(secret["stringData"])) == ("kubernetes.io/tls", TLS_FILES)


def test_the_generated_certificate_names_every_pod_and_service_and_the_loopback_address(render):
    secret = find(render(reveal_secrets=True), "Secret", "mysql-tls")["stringData"]
    text = openssl_text(secret["tls.crt"])
    names = text.split("X509v3 Subject Alternative Name:")[1].splitlines()[1].strip()
    assert names == ", ".join([f"DNS:{name}" for name in DEV_NAMES] + ["IP Address:127.0.0.1"])


def test_the_generated_certificate_serves_servers_and_clients_and_is_signed_by_the_ca(render, tmp_path):
    secret = find(render(reveal_secrets=True), "Secret", "mysql-tls")["stringData"]
    (tmp_path / "ca.crt").write_text(secret["ca.crt"])
    (tmp_path / "tls.crt").write_text(secret["tls.crt"])
    verified = subprocess.run(["openssl", "verify", "-CAfile", tmp_path / "ca.crt",
                               tmp_path / "tls.crt"], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in \
        openssl_text(secret["tls.crt"])


def test_scaling_leaves_the_certificate_as_it_is(render):
    def certificate(replicas: int) -> str:
        secret = find(render(reveal_secrets=True, replicas=replicas), "Secret", "mysql-tls")
        return openssl_text(secret["stringData"]["tls.crt"]).split(
            "X509v3 Subject Alternative Name:")[1].splitlines()[1]
    assert certificate(2) == certificate(5)


def test_the_private_key_is_a_pulumi_secret():
    project, config, secret_keys = stack_config(PROJECT_DIR, "dev")
    secret, = [resource for resource in run_program(PROJECT_DIR / "__main__.py", project, "dev",
                                                    config, secret_keys)
               if resource.type == "kubernetes:core/v1:Secret"
               and resource.inputs["metadata"]["name"] == "mysql-tls"]
    assert any(path[:1] == ("stringData",) for path in secret.secret_paths)


@pytest.mark.parametrize(("flavor", "containers"), [
    ("mysql", ["donor", "mysql", "agent"]),  # its agent clones: no clone-mysql
    ("mariadb", ["donor", "clone-mysql", "mysql", "backup", "agent"])])  # MariaDB's backup listener
def test_server_clone_backup_listener_and_agent_read_the_certificate_from_the_secret_readable_by_their_group(
        rendered, flavor, containers):
    manifests = rendered(flavor=flavor)
    assert tls_volume(manifests) == [{"name": "tls", "secret": {
        "secretName": "mysql-tls", "defaultMode": 0o440,
        "items": [{"key": key, "path": key} for key in TLS_FILES]}}]
    assert containers_mounting_tls(manifests) == containers


def test_scripts_and_the_agent_are_told_where_the_certificate_is(rendered):
    statefulset = find(rendered(flavor="mariadb"), "StatefulSet")
    for name in ("clone-mysql", "mysql", "backup", "agent"):
        assert {"name": "TLS_DIR", "value": TLS_DIR} in container(statefulset, name)["env"]


@pytest.mark.parametrize(("config", "subject"), [
    ({}, "/O=mysql-cluster/CN=mysql"),
    (CERT_MANAGER, "/CN=mysql"),
    ({"tlsSource": "secret", "tlsSecret": "orders-db-tls"}, None),  # the stack cannot know it
])
def test_the_agent_is_told_the_subject_of_the_certificate_the_stack_made_or_asked_for(
        rendered, config, subject):
    # MySQL's clone donor account requires it of a peer (mysql_cluster_agent/accounts.py).
    env = container(find(rendered(**config), "StatefulSet"), "agent")["env"]
    assert [var.get("value") for var in env if var["name"] == "TLS_SUBJECT"] == (
        [subject] if subject else [])


def test_the_self_signed_certificate_has_the_subject_the_agent_is_told(render):
    manifests = render(reveal_secrets=True)
    certificate = find(manifests, "Secret", "mysql-tls")["stringData"]["tls.crt"]
    subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "compat"],
                             input=certificate, text=True, capture_output=True, check=True).stdout
    env = container(find(manifests, "StatefulSet"), "agent")["env"]
    assert f"subject={[v['value'] for v in env if v['name'] == 'TLS_SUBJECT'][0]}\n" == subject


@pytest.mark.parametrize("role", ["primary", "replica"])
def test_servers_present_the_certificate_and_accept_clients_without_tls_by_default(rendered, role):
    options = server_options(rendered(), role)
    assert [line for line in options if line.startswith(("ssl", "require"))] == [
        f"ssl-ca={TLS_DIR}/ca.crt", f"ssl-cert={TLS_DIR}/tls.crt", f"ssl-key={TLS_DIR}/tls.key"]


def test_require_client_tls_makes_servers_refuse_plain_connections(rendered):
    assert "require-secure-transport=ON" in server_options(rendered(requireClientTls="true"))


# --- Other sources -----------------------------------------------------------------------------

def test_cert_manager_source_asks_the_named_issuer_for_a_certificate(rendered):
    manifests = rendered(**CERT_MANAGER, tlsIssuerKind="ClusterIssuer")
    spec = find(manifests, "Certificate")["spec"]
    assert (spec["secretName"], spec["issuerRef"]) == (
        "mysql-tls", {"name": "cluster-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"})
    assert (spec["dnsNames"], spec["ipAddresses"]) == (DEV_NAMES, ["127.0.0.1"])
    assert spec["usages"] == ["digital signature", "key encipherment", "server auth", "client auth"]


def test_cert_manager_source_mounts_the_secret_cert_manager_writes(rendered):
    manifests = rendered(**CERT_MANAGER)
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "Secret"] == [
        "mysql-credentials"]
    assert tls_volume(manifests)[0]["secret"]["secretName"] == "mysql-tls"


def test_existing_secret_source_mounts_that_secret_and_makes_none(rendered):
    manifests = rendered(tlsSource="secret", tlsSecret="orders-db-tls")
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "Secret"] == [
        "mysql-credentials"]
    assert tls_volume(manifests)[0]["secret"]["secretName"] == "orders-db-tls"


@pytest.mark.parametrize("source", ["self-signed", "secret", "none"])
def test_no_custom_resource_unless_cert_manager_is_chosen(rendered, source):
    config = {"tlsSource": source, **({"tlsSecret": "db-tls"} if source == "secret" else {})}
    assert [m["kind"] for m in rendered(**config) if m["apiVersion"] == "cert-manager.io/v1"] == []


@pytest.mark.parametrize("flavor", ["mysql", "mariadb"])
def test_tls_none_leaves_every_part_in_plain_text(rendered, flavor):
    manifests = rendered(tlsSource="none", flavor=flavor)
    spec = find(manifests, "StatefulSet")["spec"]["template"]["spec"]
    assert ([m for m in manifests if m["metadata"]["name"] == "mysql-tls"], tls_volume(manifests),
            containers_mounting_tls(manifests)) == ([], [], [])
    assert [v for c in spec["initContainers"] + spec["containers"]
            for v in c.get("env", []) if v["name"] == "TLS_DIR"] == []
    assert [line for line in server_options(manifests) if line.startswith("ssl")] == []


# --- Keys that contradict each other ----------------------------------------------------------

# Config that names a key the wrong way, the key the message names, and what it says.
CONTRADICTIONS = {
    "cert-manager without an issuer": ({"tlsSource": "cert-manager"}, "tlsIssuer",
                                       "tlsSource cert-manager needs it"),
    "secret without its name": ({"tlsSource": "secret"}, "tlsSecret", "tlsSource secret needs it"),
    "an issuer for the stack's own CA": ({"tlsIssuer": "ca"}, "tlsIssuer",
                                         "only used with tlsSource cert-manager"),
    "a secret with cert-manager": ({**CERT_MANAGER, "tlsSecret": "db-tls"}, "tlsSecret",
                                   "only used with tlsSource secret"),
    "client TLS required without TLS": ({"tlsSource": "none", "requireClientTls": "true"},
                                        "requireClientTls", "the servers have no certificate"),
}


@pytest.mark.parametrize("case", CONTRADICTIONS)
def test_contradicting_tls_keys_are_explained_in_one_line_naming_the_key(render, case):
    config, key, reason = CONTRADICTIONS[case]
    error = rejection(render, **config)
    assert (error.setting.key, reason in str(error), "\n" in str(error)) == (key, True, False)


@pytest.mark.parametrize("case", CONTRADICTIONS)
def test_contradicting_tls_keys_stop_before_any_resource_is_registered(mock_monitor, case):
    config = CONTRADICTIONS[case][0]
    args = {BY_KEY[key].arg: value for key, value in config.items()}
    assert registered_before_failing(mock_monitor, "orders", args) == []


# --- Every workload ------------------------------------------------------------------------

BACKUPS = {"flavor": "mariadb", "backupTarget": "s3", "backupS3Endpoint": "http://s3.storage:8333",
           "backupS3Bucket": "backups", "backupS3Secret": "s3-keys",
           "backupSchedule": "30 2 * * *", "restoreFrom": "latest"}


def test_every_container_told_where_the_certificate_is_mounts_its_ca_in_every_workload(rendered):
    specs = workload_pod_specs(rendered(**BACKUPS))
    assert sorted(specs) == ["CronJob", "CronJob:restore-drill", "Job", "StatefulSet"]
    told, mounting = [], []
    for kind, spec in specs.items():
        for candidate in spec.get("initContainers", []) + spec["containers"]:
            name = f"{kind}/{candidate['name']}"
            if any(var == {"name": "TLS_DIR", "value": TLS_DIR} for var in candidate.get("env", [])):
                told.append(name)
            secret, keys = mounted_secret_files(spec, candidate["name"]).get(TLS_DIR, ("", []))
            if secret == "mysql-tls" and "ca.crt" in keys:
                mounting.append(name)
    assert told == mounting
    assert {"CronJob/backup", "Job/switchover", "StatefulSet/agent",
            "StatefulSet/restore"} <= set(told)


def test_without_tls_no_workload_is_told_of_a_certificate(rendered):
    specs = workload_pod_specs(rendered(**BACKUPS, tlsSource="none"))
    assert sorted(specs) == ["CronJob", "CronJob:restore-drill", "Job", "StatefulSet"]
    for kind, spec in specs.items():
        assert [v for v in spec["volumes"] if v["name"] == "tls"] == [], kind
        assert not any(var["name"] == "TLS_DIR" for c in spec.get("initContainers", []) +
                       spec["containers"] for var in c.get("env", [])), kind
