"""Credentials, disruption budget and the pods' privileges, for every supported
server."""
from __future__ import annotations

import pytest
import yaml

from mysql_cluster.tooling.mock_runtime import run_program
from mysql_cluster.tooling.render import REDACTED, stack_config

from stack_manifests import mounted_secret_files

from .conftest import PROJECT_DIR, SERVER_IDS, SERVERS, container, find, server_config

PASSWORD_KEYS = ["root-password", "replication-password", "backup-password", "app-password"]
# Signs the switchover Job's requests to the agents without TLS; generated, never configured.
ROLE_KEY = "role-key"
# The dev stack's Secret of passwords (it also has one with the TLS certificate).
CREDENTIALS = "mysql-credentials"
PASSWORDS = {"rootPassword": "root-Secret-0001", "replicationPassword": "repl-Secret-0002",
             "backupPassword": "backup-Secret-0003", "appPassword": "app-Secret-0004"}
CONTAINERS = ["init-mysql", "clone-mysql", "mysql", "backup"]  # "clone-mysql", "backup": MariaDB's only
SECRETS_DIR = "/etc/mysql-cluster/secrets"


@pytest.fixture(params=SERVERS, ids=SERVER_IDS)
def server_manifests(request, rendered):
    """The dev stack's manifests with each supported server."""
    return rendered(**server_config(*request.param))


# --- Secret ----------------------------------------------------------------------------------

def test_secret_holds_the_four_passwords_and_the_role_key(server_manifests):
    secret = find(server_manifests, "Secret", CREDENTIALS)
    assert secret["type"] == "Opaque"
    assert sorted(secret["stringData"]) == sorted([*PASSWORD_KEYS, ROLE_KEY])


def test_secret_values_are_redacted_in_rendered_manifests(rendered):
    assert set(find(rendered(**PASSWORDS), "Secret", CREDENTIALS)["stringData"].values()) == {REDACTED}


def test_configured_passwords_go_into_the_secret(render):
    string_data = find(render(reveal_secrets=True, **PASSWORDS), "Secret", CREDENTIALS)["stringData"]
    assert string_data == {"root-password": "root-Secret-0001",
                           "replication-password": "repl-Secret-0002",
                           "backup-password": "backup-Secret-0003",
                           "app-password": "app-Secret-0004",
                           ROLE_KEY: string_data[ROLE_KEY]}


def registered(kind: str) -> list:
    """The resources of type `kind` the dev stack registers, with their inputs as a
    deployment would send them (secrets marked)."""
    project, config, secret_keys = stack_config(PROJECT_DIR, "dev")
    resources = run_program(PROJECT_DIR / "__main__.py", project, "dev", config, secret_keys)
    return [resource for resource in resources if resource.type == kind]


def test_unset_passwords_are_generated_one_per_key_and_long():
    generators = registered("random:index/randomPassword:RandomPassword")
    assert len(generators) == len(PASSWORD_KEYS) + 1  # and the role key
    assert all(generator.inputs["length"] >= 24 for generator in generators)


def test_passwords_appear_nowhere_but_in_the_secret(render):
    others = [m for m in render(reveal_secrets=True, **PASSWORDS)
              if (m["kind"], m["metadata"]["name"]) != ("Secret", CREDENTIALS)]
    text = yaml.safe_dump_all(others)
    assert [password for password in PASSWORDS.values() if password in text] == []


def test_secret_values_are_pulumi_secrets_in_the_deployment():
    secret, = [secret for secret in registered("kubernetes:core/v1:Secret")
               if secret.inputs["metadata"]["name"] == CREDENTIALS]
    assert ("stringData",) in secret.secret_paths


def script_containers(manifests) -> list[str]:
    spec = find(manifests, "StatefulSet")["spec"]["template"]["spec"]
    present = {c["name"] for c in spec["initContainers"] + spec["containers"]}
    names = [name for name in CONTAINERS if name in present]
    assert {"init-mysql", "mysql"} <= set(names)
    return names


def test_server_and_backup_listener_read_passwords_from_the_mounted_secret_readable_by_their_group(
        server_manifests):
    spec = find(server_manifests, "StatefulSet")["spec"]["template"]["spec"]
    # The backup listener logs in as the backup user only: root's password is not its to read.
    logins = {"mysql": "root-password", "backup": "backup-password"}
    for name in ["mysql", *(["backup"] if "backup" in script_containers(server_manifests) else [])]:
        secret, keys = mounted_secret_files(spec, name)[SECRETS_DIR]
        assert secret == find(server_manifests, "Secret", CREDENTIALS)["metadata"]["name"]
        assert logins[name] in keys
    if "backup" in script_containers(server_manifests):
        assert "root-password" not in mounted_secret_files(spec, "backup")[SECRETS_DIR][1]
    assert {volume["secret"]["defaultMode"] for volume in spec["volumes"]
            if volume.get("secret", {}).get("secretName") == secret} == {0o440}


def test_no_container_gets_a_password_in_its_environment(server_manifests):
    statefulset = find(server_manifests, "StatefulSet")
    for name in script_containers(server_manifests):
        for variable in container(statefulset, name)["env"]:
            assert "secretKeyRef" not in variable.get("valueFrom", {})


@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_server_sets_its_root_password_from_the_secret_file(rendered, flavor, version):
    mysql = container(find(rendered(**server_config(flavor, version)), "StatefulSet"), "mysql")
    variable = "MARIADB_ROOT_PASSWORD_FILE" if flavor == "mariadb" else "MYSQL_ROOT_PASSWORD_FILE"
    assert {"name": variable, "value": f"{SECRETS_DIR}/root-password"} in mysql["env"]


def test_no_setting_allows_an_empty_or_random_root_password(server_manifests):
    text = yaml.safe_dump_all(server_manifests)
    assert "EMPTY_PASSWORD" not in text
    assert "RANDOM_ROOT_PASSWORD" not in text


def test_no_server_runs_without_grant_tables(server_manifests):
    """The drill's plan compares GTID sets in Python (mysql_cluster_agent/gtid.py), so no
    scratch server starts with every account's privileges (--skip-grant-tables)."""
    assert not [manifest["kind"] for manifest in server_manifests if "skip-grant-tables" in yaml.safe_dump(manifest)]


# --- PodDisruptionBudget ---------------------------------------------------------------------

def test_disruption_budget_lets_one_pod_of_the_cluster_go_at_a_time(server_manifests):
    spec = find(server_manifests, "PodDisruptionBudget")["spec"]
    assert spec == {"maxUnavailable": 1,
                    "selector": find(server_manifests, "StatefulSet")["spec"]["selector"]}


# --- privileges ------------------------------------------------------------------------------

def test_pod_runs_as_the_database_user_with_the_runtimes_seccomp_profile(server_manifests):
    spec = find(server_manifests, "StatefulSet")["spec"]["template"]["spec"]
    assert spec["securityContext"] == {
        "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999,
        "fsGroupChangePolicy": "OnRootMismatch", "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"}}


def test_containers_run_unprivileged_on_a_read_only_root(server_manifests):
    for name in script_containers(server_manifests):
        context = container(find(server_manifests, "StatefulSet"), name)["securityContext"]
        assert context == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                           "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}, name


def test_pods_get_no_service_account_token_and_no_service_links(server_manifests):
    spec = find(server_manifests, "StatefulSet")["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
