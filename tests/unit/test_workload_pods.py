"""Every workload's pod (the StatefulSet's, the backup and restore drill CronJobs', the switchover
Job's) gets what the settings say of the cluster's pods and the hardening every container shares,
and each of its containers mounts exactly the Secret files that what it runs reads: the scripts of
its command and probes, its arguments and environment."""
from __future__ import annotations

import re
from typing import Any, Optional

import pytest

from stack_manifests import mounted_secret_files, pod_template, workload_pod_specs

from .conftest import find

SECRETS_DIR = "/etc/mysql-cluster/secrets"
TLS_DIR = "/etc/mysql-cluster/tls"
METRICS_DIR = "/etc/mysql-cluster/metrics"
# The credentials Secret's backup key has a mount of its own: backup containers read no password.
BACKUP_KEY_DIR = "/etc/mysql-cluster/backup-key"
# Every workload and every optional container: backups with a schedule, a restore, metrics.
EVERYTHING = {"flavor": "mariadb", "backupTarget": "s3", "backupS3Endpoint": "https://s3.storage:8333",
              "backupS3Bucket": "backups", "backupS3Secret": "s3-keys",
              "backupSchedule": "30 2 * * *", "restoreFrom": "latest", "metrics": "true",
              "imagePullSecrets": '["registry-a", "registry-b"]'}
# The containers that run the server, whose options name its certificate and key.
SERVER_CONTAINERS = ("mysql", "restore-replay", "restore-drill-server")
# The restore drill's pod connects to no server of the cluster: it gets none of its passwords.
WITHOUT_PASSWORDS = ("CronJob:restore-drill",)
SCRIPT_PATH = re.compile(r"/opt/mysql-cluster/scripts/([\w.-]+\.sh)")
SCRIPT_RUN = re.compile(r'^\s*(?:source|bash) "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)/([\w.-]+\.sh)"')


def pods(rendered, **config: str) -> dict[str, dict[str, Any]]:
    specs = workload_pod_specs(rendered(**{**EVERYTHING, **config}))
    assert sorted(specs) == ["CronJob", "CronJob:restore-drill", "Job", "StatefulSet"]
    return specs


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


def code_lines(text: str) -> list[str]:
    """The script's lines without comments and without the messages of `die`."""
    return [line.split('die "')[0] for line in text.splitlines()
            if not line.lstrip().startswith("#")]


def scripts_run(container: dict[str, Any], scripts: dict[str, str]) -> set[str]:
    """The scripts the container's command and probes run, with those they source or start."""
    words = container.get("command", []) + container.get("args", [])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        words += container.get(probe, {}).get("exec", {}).get("command", [])
    pending = [name for word in words for name in SCRIPT_PATH.findall(word)]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += [match.group(1) for line in scripts[name].splitlines()
                        if (match := SCRIPT_RUN.match(line))]
    return found


def mentioned(key: str, lines: list[str]) -> bool:
    return any(re.search(rf"(?<![\w.-]){re.escape(key)}(?![\w.-])", line) for line in lines)


def serves_agent_port(container: dict[str, Any]) -> bool:
    return any(port.get("name") == "agent" for port in container.get("ports", []))


def asks_agents_for_roles(container: dict[str, Any]) -> bool:
    """The switchover Job's container and the donor init container: they present the pods'
    certificate to the agents."""
    return container.get("command", [])[-2:] in (["mysql_cluster_agent", "switchover"],
                                                 ["mysql_cluster_agent", "donor"])


def expected_files(container: dict[str, Any], manifests: list[dict], scripts: dict[str, str]
                   ) -> dict[str, list[str]]:
    """What the container must mount, by path: the keys its scripts name, the files its
    arguments and environment name, the CA when told where the certificate is, and the
    certificate and key when it serves SQL, streams a backup (socat over mutual TLS) or serves the
    agent's port (HTTPS with mutual TLS)."""
    names = scripts_run(container, scripts)
    lines = [line for name in names for line in code_lines(scripts[name])]
    words = container.get("args", []) + [var.get("value", "") for var in container.get("env", [])]
    env = {var["name"] for var in container.get("env", [])}
    credentials = sorted(find(manifests, "Secret", "mysql-credentials")["stringData"])
    offered = {SECRETS_DIR: [key for key in credentials if key != "backup-key"],
               BACKUP_KEY_DIR: [key for key in credentials if key == "backup-key"],
               METRICS_DIR: sorted(find(manifests, "Secret", "mysql-metrics")["stringData"])}
    expected = {path: [key for key in keys
                       if mentioned(key, lines) or any(f"{path}/{key}" in word for word in words)]
                for path, keys in offered.items()}
    if serves_agent_port(container):
        # The agent's role loop sets every account's password on the primary and the
        # replication password on a replica's channel (mysql_cluster_agent/role_loop.py).
        # The role key only where its environment names it (without TLS).
        expected[SECRETS_DIR] = sorted({key for key in offered[SECRETS_DIR] if key != "role-key"}
                                       | set(expected[SECRETS_DIR]))
        expected[METRICS_DIR] = [key for key in offered[METRICS_DIR] if key == "metrics-password"]
    tls = []
    # The exporter's option file (a Secret key, redacted here) names the CA.
    if "TLS_DIR" in env or any(word.endswith(f"{METRICS_DIR}/my.cnf") for word in words):
        tls.append("ca.crt")
    if container["name"] in SERVER_CONTAINERS or serves_agent_port(container) or asks_agents_for_roles(
            container) or any(
            re.search(r"(^|\s)socat\s+-", line) for line in lines):
        tls += ["tls.crt", "tls.key"]
    expected[TLS_DIR] = tls
    return {path: keys for path, keys in expected.items() if keys}


def mounted(spec: dict[str, Any], name: str) -> dict[str, Optional[list[str]]]:
    return {path: keys for path, (secret, keys) in mounted_secret_files(spec, name).items()
            if secret != "s3-keys"}


def test_every_workloads_pod_pulls_its_images_with_the_configured_secrets(rendered):
    for kind, spec in pods(rendered).items():
        assert spec["imagePullSecrets"] == [{"name": "registry-a"}, {"name": "registry-b"}], kind


def test_every_workloads_pod_runs_as_the_database_user_without_an_api_token(rendered):
    for kind, spec in pods(rendered, serviceAccountName="db").items():
        assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["fsGroup"],
                spec["securityContext"]["seccompProfile"]) == (999, 999, {"type": "RuntimeDefault"})
        assert (spec["serviceAccountName"], spec["automountServiceAccountToken"],
                spec["enableServiceLinks"]) == ("db", False, False), kind


def test_every_workloads_pod_runs_on_the_selected_nodes(rendered):
    toleration = '[{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]'
    for kind, spec in pods(rendered, nodeSelector='{"node-pool": "databases"}',
                           tolerations=toleration).items():
        assert spec["nodeSelector"] == {"node-pool": "databases"}, kind
        assert [t["key"] for t in spec["tolerations"]] == ["dedicated"], kind


@pytest.mark.parametrize("tls_source", ["self-signed", "none"])
def test_each_container_mounts_exactly_the_secret_files_that_what_it_runs_reads(rendered, tls_source):
    manifests = rendered(**EVERYTHING, tlsSource=tls_source)
    (scripts,) = [m["data"] for m in manifests
                  if m["kind"] == "ConfigMap" and "lib.sh" in m.get("data", {})]
    checked = 0
    for kind, spec in workload_pod_specs(manifests).items():
        for container in containers(spec):
            expected = expected_files(container, manifests, scripts)
            if tls_source == "none":
                expected.pop(TLS_DIR, None)
            if kind in WITHOUT_PASSWORDS:
                expected.pop(SECRETS_DIR, None)
            files = {path: sorted(keys or ["<every key>"])
                     for path, keys in mounted(spec, container["name"]).items()}
            assert files == {path: sorted(keys) for path, keys in expected.items()}, \
                f"{kind}/{container['name']}"
            checked += 1
    assert checked >= 12  # the three workloads have 12 containers with these settings


def test_the_exporter_gets_its_option_file_and_the_ca_and_no_password_or_key_of_the_cluster(rendered):
    spec = pods(rendered)["StatefulSet"]
    assert mounted(spec, "mysqld-exporter") == {TLS_DIR: ["ca.crt"], METRICS_DIR: ["my.cnf"]}


def test_the_clone_container_logs_in_nowhere_and_gets_no_password(rendered):
    spec = pods(rendered)["StatefulSet"]
    # MariaDB's clone receives a stream from the donor's listener (mutual TLS, no SQL login); the
    # donor was chosen before (the donor init container asks the agents). MySQL's CLONE logs into
    # the donor as the backup user from the agent, which holds that password already.
    assert SECRETS_DIR not in mounted(spec, "clone-mysql")


def test_the_backup_job_logs_into_no_server_and_gets_no_password(rendered):
    assert SECRETS_DIR not in mounted(pods(rendered)["CronJob"], "backup")


def test_every_workloads_pod_carries_the_users_pod_labels_and_annotations(rendered):
    manifests = rendered(**EVERYTHING, podLabels='{"team": "orders"}',
                         podAnnotations='{"example.com/owner": "orders-team"}')
    workloads = [m for m in manifests if m["kind"] in ("StatefulSet", "Job", "CronJob")]
    assert len(workloads) == 4
    for workload in workloads:
        metadata = pod_template(workload)["metadata"]
        assert metadata["labels"]["team"] == "orders", workload["metadata"]["name"]
        assert metadata["annotations"]["example.com/owner"] == "orders-team", \
            workload["metadata"]["name"]


def test_every_container_of_every_workload_runs_unprivileged_on_a_read_only_root(rendered):
    checked = []
    for kind, spec in pods(rendered).items():
        for container in containers(spec):
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True, "runAsNonRoot": True}, \
                f"{kind}/{container['name']}"
            checked.append(f"{kind}/{container['name']}")
    assert {"StatefulSet/mysql", "StatefulSet/mysqld-exporter", "CronJob/backup",
            "CronJob:restore-drill/restore-drill", "Job/switchover"} <= set(checked)


@pytest.mark.parametrize("flavor", ["mysql", "mariadb"])
def test_every_mount_names_a_volume_of_its_pod(rendered, flavor):
    # The API server accepts neither a mount of a volume the pod lacks nor two volumes of one name.
    claims = {template["metadata"]["name"] for template in find(
        rendered(**{**EVERYTHING, "flavor": flavor}), "StatefulSet")["spec"]["volumeClaimTemplates"]}
    for workload, spec in pods(rendered, flavor=flavor).items():
        volumes = [volume["name"] for volume in spec.get("volumes", [])]
        assert len(volumes) == len(set(volumes)), workload
        known = set(volumes) | (claims if workload == "StatefulSet" else set())
        for container in containers(spec):
            missing = {m["name"] for m in container.get("volumeMounts", [])} - known
            assert not missing, f"{workload} {container['name']} mounts {missing}"
