"""The StatefulSet: its pods' containers, images, resources, environment, probes, volumes and
placement, as the stack config shapes them."""
from __future__ import annotations

import json
from typing import Any

import re

import pytest

from .conftest import SERVER_IDS, SERVERS, container, find, server_config

ORDERS = {"clusterName": "orders", "namespace": "shop"}
RESOURCES = {"serverCpuRequest": "1500m", "serverMemoryRequest": "3Gi", "serverCpuLimit": "3",
             "serverMemoryLimit": "6Gi", "backupCpuRequest": "200m", "backupMemoryRequest": "384Mi",
             "backupCpuLimit": "1", "backupMemoryLimit": "768Mi"}
# One render with every shaping key away from its default, shared by the tests of those keys.
CUSTOM = {**ORDERS, **RESOURCES, "clusterDomain": "k8s.example.com", "replicas": "5",
          "serverImage": "registry.example.com/mysql:8.4.6",
          "backupImage": "registry.example.com/xtrabackup:8.4.0-4",
          "storageSize": "100Gi", "storageClass": "premium-rwo", "appUser": "shop_rw",
          "appDatabase": "shop", "maxReplicationLagSeconds": "12", "antiAffinity": "required",
          "zoneSpread": "true"}
CONTAINERS = ["clone-mysql", "mysql"]  # the containers that run the scripts
BACKUP_SIDE = ["clone-mysql"]  # sized by the backup* keys, and MariaDB's backup
MARIADB = {"flavor": "mariadb"}


def flavor_of(name: str, config: dict[str, str] | None = None) -> dict[str, str]:
    """`config` for a stack whose pods have the container `name`: clone-mysql is MariaDB's only
    (a MySQL pod's agent clones into its server), on MariaDB's default images."""
    config = dict(config or {})
    if name == "clone-mysql":
        config.update(MARIADB, serverImage="", backupImage="")
    return config


def present(sts: dict[str, Any]) -> list[str]:
    """The containers of CONTAINERS that the StatefulSet's pods have."""
    spec = sts["spec"]["template"]["spec"]
    names = {c["name"] for c in spec["initContainers"] + spec["containers"]}
    return [name for name in CONTAINERS if name in names]


def statefulset(rendered, **config: Any) -> dict[str, Any]:
    return find(rendered(**config), "StatefulSet")


def pod_spec(rendered, **config: Any) -> dict[str, Any]:
    return statefulset(rendered, **config)["spec"]["template"]["spec"]


def env(container_: dict[str, Any]) -> dict[str, Any]:
    return {variable["name"]: variable.get("value", variable.get("valueFrom"))
            for variable in container_["env"]}


def test_replicas_come_from_the_config_as_an_integer(rendered):
    replicas = statefulset(rendered, **CUSTOM)["spec"]["replicas"]
    assert replicas == 5 and isinstance(replicas, int)


def test_pods_are_named_through_the_headless_service(rendered):
    assert statefulset(rendered, **ORDERS)["spec"]["serviceName"] == "orders"


def test_pods_start_one_after_the_other_because_each_clones_the_previous(rendered):
    assert statefulset(rendered)["spec"]["podManagementPolicy"] == "OrderedReady"


def test_pods_are_updated_one_at_a_time(rendered):
    assert statefulset(rendered)["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


def test_scaling_in_deletes_the_removed_replicas_volume_but_deleting_the_cluster_keeps_all(
        rendered):
    assert statefulset(rendered)["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenScaled": "Delete", "whenDeleted": "Retain"}


def test_pod_initialises_then_clones_then_runs_server_and_agent(rendered):
    spec = pod_spec(rendered)
    # MySQL: the agent clones into the running server (mysql_cluster_agent/mysql_clone.py).
    assert [c["name"] for c in spec["initContainers"]] == ["init-mysql", "donor"]
    assert [c["name"] for c in spec["containers"]] == ["mysql", "agent"]
    mariadb = pod_spec(rendered, **MARIADB)
    assert [c["name"] for c in mariadb["initContainers"]] == ["init-mysql", "donor", "clone-mysql"]


def test_a_mariadb_pod_also_runs_the_backup_listener_its_peers_clone_from(rendered):
    # MySQL peers clone with the server's CLONE plugin: nothing is left for such a container.
    spec = pod_spec(rendered, **MARIADB)
    assert [c["name"] for c in spec["containers"]] == ["mysql", "backup", "agent"]
    assert container(statefulset(rendered, **MARIADB), "backup")["ports"] == [
        {"name": "backup", "containerPort": 3307}]


@pytest.mark.parametrize("name, script, config", [("clone-mysql", "clone.sh", MARIADB),
                                                  ("backup", "sidecar.sh", MARIADB)])
def test_helper_containers_run_their_script_from_the_scripts_mount(rendered, name, script, config):
    assert container(statefulset(rendered, **config), name)["command"] == [
        "bash", f"/opt/mysql-cluster/scripts/{script}"]


def test_the_backup_listener_is_told_its_pods_dns_name_which_a_peers_certificate_must_hold(rendered):
    # The kubelet expands $(POD_NAME), set before it in the container's environment.
    backup = container(statefulset(rendered, **MARIADB, **ORDERS), "backup")
    assert [var["name"] for var in backup["env"]].index("POD_NAME") < [
        var["name"] for var in backup["env"]].index("POD_HOST")
    assert env(backup)["POD_HOST"] == "$(POD_NAME).orders.shop.svc.cluster.local"


def test_server_starts_through_its_images_own_entrypoint_unless_its_data_is_being_rebuilt(rendered):
    mysql = container(statefulset(rendered), "mysql")
    assert mysql["command"] == ["bash", "/opt/mysql-cluster/scripts/server.sh"]
    assert {"name": "SERVER_COMMAND", "value": "mysqld"} in mysql["env"]


def test_server_liveness_probes_run_the_liveness_script(rendered):
    mysql = container(statefulset(rendered), "mysql")
    assert mysql["startupProbe"]["exec"]["command"] == [
        "bash", "/opt/mysql-cluster/scripts/liveness.sh"]
    assert mysql["livenessProbe"]["exec"]["command"] == [
        "bash", "/opt/mysql-cluster/scripts/liveness.sh"]


@pytest.mark.parametrize("flavor,version", SERVERS, ids=SERVER_IDS)
def test_server_readiness_asks_the_agents_verdict_over_plain_http_on_its_readiness_port(rendered, flavor, version):
    sts = statefulset(rendered, **server_config(flavor, version))
    probe = container(sts, "mysql")["readinessProbe"]
    assert probe["httpGet"] == {"path": "/ready", "port": 3309}
    assert "scheme" not in probe["httpGet"]  # HTTP: the kubelet has no client certificate
    agent = container(sts, "agent")
    assert {"name": "readiness", "containerPort": 3309} in agent["ports"]
    assert env(agent)["READINESS_PORT"] == "3309"


def test_server_readiness_is_answered_within_the_probes_timeout(rendered):
    from mysql_cluster_agent.readiness_probe import VERDICT_SECONDS

    probe = container(statefulset(rendered), "mysql")["readinessProbe"]
    assert probe["timeoutSeconds"] > VERDICT_SECONDS
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (5, 2)


def test_the_agent_judges_readiness_by_the_stacks_lag_and_primary_down_bounds(rendered):
    agent = container(statefulset(rendered, maxReplicationLagSeconds="12", primaryDownReadSeconds="90"), "agent")
    assert env(agent)["MAX_REPLICATION_LAG_SECONDS"] == "12"
    assert env(agent)["PRIMARY_DOWN_READ_SECONDS"] == "90"


@pytest.mark.parametrize("flavor,version", SERVERS, ids=SERVER_IDS)
def test_no_container_but_the_servers_and_the_agents_has_a_readiness_probe(rendered, flavor, version):
    spec = pod_spec(rendered, **server_config(flavor, version))
    assert sorted(c["name"] for c in spec["containers"] if "readinessProbe" in c) == ["agent", "mysql"]


def test_the_liveness_probe_pings_over_the_servers_socket(rendered):
    mysql = container(statefulset(rendered), "mysql")
    assert env(mysql)["MYSQL_SOCKET"] == "/var/run/mysqld/mysqld.sock"
    assert {"name": "run", "mountPath": "/var/run/mysqld"} in mysql["volumeMounts"]



@pytest.mark.parametrize("name", CONTAINERS)
def test_every_container_mounts_the_scripts_read_only(rendered, name):
    assert {"name": "scripts", "mountPath": "/opt/mysql-cluster/scripts", "readOnly": True} in \
        container(statefulset(rendered, **flavor_of(name)), name)["volumeMounts"]


# The scripts and the agent live in their ConfigMaps, not inlined in commands; what remains is each
# container's env and mounts (TLS included, and each container's own Secret volume of exactly the
# files it reads), the agent volume's items, one per file of its packages (about 2.5 KiB), the
# donor init container's (about 2.3 KiB: its own env, mounts and hardening) and the dialect facts
# every container that runs a script is given (about 3 KiB, dialect.py).
def test_dev_statefulset_stays_under_27_kib_as_json(rendered):
    size = len(json.dumps(statefulset(rendered)))  # the stack `render --stack dev` prints
    print(f"\ndev StatefulSet as JSON: {size} bytes")
    assert size < 27 * 1024


def test_startup_probe_gives_crash_recovery_fifteen_minutes_before_liveness_counts(rendered):
    startup = container(statefulset(rendered), "mysql")["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 900


# Default images: the server's own everywhere (a MySQL clone is the server's CLONE plugin; the
# mariadb image carries mariadb-backup).
DEFAULT_IMAGES = {
    "mysql-9.7": ("mysql:9.7.", "mysql:9.7."),
    "mysql-8.4": ("mysql:8.4", "mysql:8.4"),
    "mysql-8.0": ("mysql:8.0", "mysql:8.0"),
    "mariadb-11.8": ("mariadb:11.8", "mariadb:11.8"),
    "mariadb-11.4": ("mariadb:11.4", "mariadb:11.4"),
    "mariadb-10.11": ("mariadb:10.11", "mariadb:10.11"),
}


@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_default_images_match_the_server_and_its_version(rendered, flavor, version):
    sts = statefulset(rendered, **server_config(flavor, version))
    server_image, backup_image = DEFAULT_IMAGES[f"{flavor}-{version}"]
    images = {name: container(sts, name)["image"] for name in present(sts)}
    assert images["mysql"].startswith(server_image)
    if flavor == "mariadb":
        assert images["clone-mysql"].startswith(backup_image)
        assert container(sts, "backup")["image"] == images["clone-mysql"]
    else:
        assert "clone-mysql" not in images


@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_default_images_are_pinned_to_exact_releases_not_moving_tags(rendered, flavor, version):
    # A minor-line tag (mysql:8.4, percona-xtrabackup:8.4) moves: the next pod restart would
    # run another release than the one that was tested and previewed.
    sts = statefulset(rendered, **server_config(flavor, version))
    tags = {container(sts, name)["image"].rsplit(":", 1)[1] for name in present(sts)}
    assert [tag for tag in tags if not re.fullmatch(r"\d+\.\d+\.\d+(-[\d.]+)?", tag)] == []


def test_default_version_is_the_newest_long_term_line_of_the_flavor(rendered):
    assert container(statefulset(rendered), "mysql")["image"].startswith("mysql:9.7.")
    assert container(statefulset(rendered, flavor="mariadb"), "mysql")["image"].startswith(
        "mariadb:11.8")


def test_configured_images_replace_the_defaults(rendered):
    sts = statefulset(rendered, **CUSTOM)
    assert {name: container(sts, name)["image"] for name in present(sts)} == {
        "mysql": "registry.example.com/mysql:8.4.6"}
    mariadb = statefulset(rendered, **MARIADB, backupImage="registry.example.com/mariadb:11.8.9")
    assert container(mariadb, "clone-mysql")["image"] == "registry.example.com/mariadb:11.8.9"


def test_server_container_is_sized_by_the_server_keys(rendered):
    assert container(statefulset(rendered, **CUSTOM), "mysql")["resources"] == {
        "requests": {"cpu": "1500m", "memory": "3Gi"}, "limits": {"cpu": "3", "memory": "6Gi"}}


@pytest.mark.parametrize("name, config", [(name, flavor_of(name, CUSTOM)) for name in BACKUP_SIDE]
                         + [("backup", {**CUSTOM, **MARIADB, "serverImage": "", "backupImage": ""})])
def test_backup_and_clone_containers_are_sized_by_the_backup_keys(rendered, name, config):
    assert container(statefulset(rendered, **config), name)["resources"] == {
        "requests": {"cpu": "200m", "memory": "384Mi"}, "limits": {"cpu": "1", "memory": "768Mi"}}


@pytest.mark.parametrize("name", CONTAINERS)
def test_empty_cpu_limits_leave_cpu_unlimited(rendered, name):
    limits = container(statefulset(rendered, serverCpuLimit="", backupCpuLimit="", **flavor_of(name)), name)[
        "resources"]["limits"]
    assert "cpu" not in limits and "memory" in limits


def test_each_pod_claims_a_volume_of_the_configured_size_and_class(rendered):
    claim, = statefulset(rendered, **CUSTOM)["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "premium-rwo",
                             "resources": {"requests": {"storage": "100Gi"}}}


def test_no_storage_class_leaves_the_clusters_default_class(rendered):
    claim, = statefulset(rendered)["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in claim["spec"]


@pytest.mark.parametrize("name", CONTAINERS)
def test_every_container_learns_the_cluster_names_from_its_environment(rendered, name):
    variables = env(container(statefulset(rendered, **flavor_of(name, CUSTOM)), name))
    assert {key: variables[key] for key in ("STATEFULSET_NAME", "HEADLESS_SERVICE",
                                            "CLUSTER_NAMESPACE", "CLUSTER_DOMAIN", "POD_NAME")} \
        == {"STATEFULSET_NAME": "orders", "HEADLESS_SERVICE": "orders",
            "CLUSTER_NAMESPACE": "shop", "CLUSTER_DOMAIN": "k8s.example.com",
            "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}}}


@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_every_container_knows_the_server_flavor_and_version(rendered, flavor, version):
    sts = statefulset(rendered, **server_config(flavor, version))
    assert {(env(container(sts, name))["DB_FLAVOR"], env(container(sts, name))["DB_VERSION"])
            for name in present(sts)} == {(flavor, version)}


def test_application_user_database_and_lag_limit_reach_the_scripts(rendered):
    variables = env(container(statefulset(rendered, **CUSTOM), "agent"))
    assert (variables["APP_USER"], variables["APP_DATABASE"],
            variables["MAX_REPLICATION_LAG_SECONDS"]) == ("shop_rw", "shop", "12")


def test_preferred_anti_affinity_by_default_spreads_pods_over_nodes_when_it_can(rendered):
    anti_affinity = pod_spec(rendered)["affinity"]["podAntiAffinity"]
    term, = anti_affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti_affinity


def test_required_anti_affinity_puts_each_pod_on_its_own_node(rendered):
    anti_affinity = pod_spec(rendered, **CUSTOM)["affinity"]["podAntiAffinity"]
    term, = anti_affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert "preferredDuringSchedulingIgnoredDuringExecution" not in anti_affinity


def test_zone_spread_spreads_pods_over_zones_as_best_effort(rendered):
    constraint, = pod_spec(rendered, **CUSTOM)["topologySpreadConstraints"]
    assert (constraint["topologyKey"], constraint["whenUnsatisfiable"], constraint["maxSkew"]) == (
        "topology.kubernetes.io/zone", "ScheduleAnyway", 1)


def test_without_zone_spread_pods_have_no_spread_constraint(rendered):
    assert "topologySpreadConstraints" not in pod_spec(rendered)


@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_every_path_the_server_writes_is_a_volume(rendered, flavor, version):
    # The root filesystem is read-only: the data, run and tmp directories (and MySQL's
    # secure-file-priv directory) must be mounted.
    mounts = {m["mountPath"] for m in container(
        statefulset(rendered, **server_config(flavor, version)), "mysql")["volumeMounts"]}
    writable = {"/var/lib/mysql", "/var/run/mysqld", "/tmp"}
    if flavor == "mysql":
        writable.add("/var/lib/mysql-files")
    assert writable <= mounts
