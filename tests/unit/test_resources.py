"""The resources of a cluster: what is created, how it is named and labelled, and which pods
each selector picks."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from mysql_cluster.agent_config_map import agent_digest
from mysql_cluster.scripts_config_map import scripts_digest

from stack_manifests import mounted_secret_files

from .conftest import SERVER_IDS, SERVERS, STACKS, find, server_config

ORDERS = {"clusterName": "orders", "namespace": "shop"}


def selectors(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, str]]]:
    """(where, labels) of every label selector in the manifests."""
    for manifest in manifests:
        kind, spec = manifest["kind"], manifest.get("spec", {})
        if kind == "Service":
            yield f"Service {manifest['metadata']['name']}", spec["selector"]
        elif kind in ("StatefulSet", "PodDisruptionBudget"):
            yield kind, spec["selector"]["matchLabels"]
        elif kind == "NetworkPolicy" and not manifest["metadata"]["name"].endswith("-switchover"):
            yield "NetworkPolicy target", spec["podSelector"]["matchLabels"]
        if kind == "StatefulSet":
            pod = spec["template"]["spec"]
            for term in pod["affinity"]["podAntiAffinity"].get(
                    "preferredDuringSchedulingIgnoredDuringExecution", []):
                yield "anti-affinity", term["podAffinityTerm"]["labelSelector"]["matchLabels"]
            for term in pod["affinity"]["podAntiAffinity"].get(
                    "requiredDuringSchedulingIgnoredDuringExecution", []):
                yield "anti-affinity", term["labelSelector"]["matchLabels"]
            for constraint in pod.get("topologySpreadConstraints", []):
                yield "zone spread", constraint["labelSelector"]["matchLabels"]


def pod_labels(manifests: list[dict[str, Any]], ordinal: int) -> dict[str, str]:
    """The labels of pod `ordinal` as the StatefulSet controller makes them."""
    statefulset = find(manifests, "StatefulSet")
    return {**statefulset["spec"]["template"]["metadata"]["labels"],
            "statefulset.kubernetes.io/pod-name": f"{statefulset['metadata']['name']}-{ordinal}"}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_cluster_consists_of_four_config_maps_two_secrets_three_services_a_job_and_a_claim_per_pod(
        rendered):
    assert Counter(m["kind"] for m in rendered(replicas=2)) == {
        "Secret": 2, "ConfigMap": 4, "Service": 3, "StatefulSet": 1, "PodDisruptionBudget": 1,
        "NetworkPolicy": 2, "PersistentVolumeClaim": 2, "Job": 1}


def test_resource_names_derive_from_the_cluster_name(rendered):
    assert sorted((m["kind"], m["metadata"]["name"]) for m in rendered(**ORDERS)) == [
        ("ConfigMap", "orders"), ("ConfigMap", f"orders-agent-{agent_digest()}"),
        ("ConfigMap", f"orders-scripts-{scripts_digest()}"),
        ("ConfigMap", "orders-topology"), ("Job", "orders-primary-0"),
        ("NetworkPolicy", "orders"), ("NetworkPolicy", "orders-switchover"),
        ("PersistentVolumeClaim", "data-orders-0"), ("PersistentVolumeClaim", "data-orders-1"),
        ("PodDisruptionBudget", "orders"),
        ("Secret", "orders-credentials"), ("Secret", "orders-tls"), ("Service", "orders"),
        ("Service", "orders-primary"),
        ("Service", "orders-read"), ("StatefulSet", "orders")]


def test_every_resource_is_in_the_configured_namespace(rendered):
    assert {m["metadata"]["namespace"] for m in rendered(**ORDERS)} == {"shop"}


def test_every_resource_and_pod_carries_the_recommended_labels(rendered):
    manifests = rendered(**ORDERS)
    statefulset = find(manifests, "StatefulSet")
    labelled = [m["metadata"] for m in manifests] + [
        statefulset["spec"]["template"]["metadata"],
        *(claim["metadata"] for claim in statefulset["spec"]["volumeClaimTemplates"])]
    expected = {"app.kubernetes.io/name": "mysql-cluster", "app.kubernetes.io/instance": "orders",
                "app.kubernetes.io/component": "database", "app.kubernetes.io/managed-by": "pulumi"}
    assert [metadata["labels"] for metadata in labelled] == [expected] * len(labelled)


@pytest.mark.parametrize("anti_affinity", ["preferred", "required"])
def test_every_selector_names_the_cluster_instance(rendered, anti_affinity):
    found = list(selectors(rendered(**ORDERS, antiAffinity=anti_affinity, zoneSpread="true")))
    assert len(found) == 8
    assert all(selector.get("app.kubernetes.io/instance") == "orders" for _, selector in found)


def test_selectors_of_a_cluster_pick_its_own_pods(rendered):
    manifests = rendered(**ORDERS, zoneSpread="true")
    own_pod = pod_labels(manifests, 0)
    assert [where for where, selector in selectors(manifests) if not matches(selector, own_pod)] \
        == []


def test_two_clusters_in_one_namespace_never_select_each_others_pods(rendered):
    orders = rendered(**ORDERS, zoneSpread="true")
    archive = rendered(clusterName="orders-archive", namespace="shop", zoneSpread="true")
    for mine, theirs in ((orders, archive), (archive, orders)):
        their_pods = [pod_labels(theirs, ordinal) for ordinal in range(3)]
        assert [where for where, selector in selectors(mine)
                if any(matches(selector, pod) for pod in their_pods)] == []


def test_headless_service_publishes_every_pod_even_before_it_is_ready(rendered):
    spec = find(rendered(**ORDERS), "Service", "orders")["spec"]
    assert spec["clusterIP"] == "None"
    assert spec["publishNotReadyAddresses"] is True
    assert [(port["name"], port["port"]) for port in spec["ports"]] == [("mysql", 3306),
                                                                       ("backup", 3307)]


def test_read_service_balances_over_every_pod_of_the_cluster(rendered):
    manifests = rendered(**ORDERS)
    spec = find(manifests, "Service", "orders-read")["spec"]
    assert spec["selector"] == find(manifests, "StatefulSet")["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"]) for p in spec["ports"]] == [(3306, "mysql")]


def test_primary_service_selects_pod_zero_only(rendered):
    manifests = rendered(**ORDERS)
    selector = find(manifests, "Service", "orders-primary")["spec"]["selector"]
    assert [ordinal for ordinal in range(3)
            if matches(selector, pod_labels(manifests, ordinal))] == [0]


def test_the_topology_says_whether_and_after_how_long_the_agents_fail_over(rendered):
    assert find(rendered(**ORDERS), "ConfigMap", "orders-topology")["data"]["failover-grace-seconds"] == "0"
    data = find(rendered(**ORDERS, replicas="3", automaticFailover="true", failoverGraceSeconds="45"),
                "ConfigMap", "orders-topology")["data"]
    assert data == {"primary-ordinal": "0", "replicas": "3", "failover-grace-seconds": "45"}


def test_with_automatic_failover_the_primary_service_selects_every_pod_through_the_agents_primary_port(rendered):
    manifests = rendered(**ORDERS, replicas="3", automaticFailover="true")
    spec = find(manifests, "Service", "orders-primary")["spec"]
    assert spec["selector"] == find(manifests, "StatefulSet")["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"]) for p in spec["ports"]] == [(3306, "primary")]


def test_client_services_are_not_headless(rendered):
    manifests = rendered(**ORDERS)
    for name in ("orders-read", "orders-primary"):
        assert "clusterIP" not in find(manifests, "Service", name)["spec"]


@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_config_map_gives_every_pod_a_binary_log_and_starts_all_but_a_new_database_read_only(
        rendered, flavor, version):
    data = find(rendered(**server_config(flavor, version)), "ConfigMap", "mysql")["data"]
    read_only = "super-read-only=ON" if flavor == "mysql" else "read-only=ON"
    for role in ("primary", "replica"):
        assert "log-bin=mysql-bin" in data[f"{role}.cnf"].splitlines()
    assert read_only in data["replica.cnf"].splitlines()
    assert read_only not in data["primary.cnf"].splitlines()


def config_checksum(manifests: list[dict[str, Any]]) -> str:
    template = find(manifests, "StatefulSet")["spec"]["template"]
    return template["metadata"]["annotations"]["mysql-cluster/config-checksum"]


def test_pods_roll_when_the_config_map_changes(rendered):
    assert config_checksum(rendered(flavor="mysql")) != config_checksum(rendered(flavor="mariadb"))


def test_pods_stay_when_the_config_map_stays_the_same(rendered):
    assert config_checksum(rendered(version="8.4")) == config_checksum(rendered(version="8.0"))


def test_existing_secret_replaces_the_created_one(rendered):
    manifests = rendered(existingSecret="orders-passwords")
    spec = find(manifests, "StatefulSet")["spec"]["template"]["spec"]
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "Secret"] == ["mysql-tls"]
    assert mounted_secret_files(spec, "mysql")["/etc/mysql-cluster/secrets"][0] == \
        "orders-passwords"


@pytest.mark.parametrize("stack", STACKS)
def test_numbers_are_rendered_as_integers(rendered, stack):
    def floats(value: Any) -> list[float]:
        if isinstance(value, dict):
            return [f for item in value.values() for f in floats(item)]
        if isinstance(value, list):
            return [f for item in value for f in floats(item)]
        return [value] if isinstance(value, float) else []

    assert floats(rendered(stack)) == []


def test_the_switchover_jobs_pod_has_a_network_policy_of_its_own_that_admits_nothing(rendered):
    manifests = rendered(**ORDERS)
    policy = find(manifests, "NetworkPolicy", "orders-switchover")["spec"]
    job_pod = find(manifests, "Job")["spec"]["template"]["metadata"]["labels"]
    assert matches(policy["podSelector"]["matchLabels"], job_pod)
    assert not matches(policy["podSelector"]["matchLabels"], pod_labels(manifests, 0))
    assert ("Ingress" in policy["policyTypes"], policy.get("ingress")) == (True, None)


def test_pulumi_up_waits_for_the_switchover_job_and_replaces_one_that_failed(rendered):
    # pulumi-kubernetes: waitFor makes `pulumi up` report the Job's outcome; replaceUnready makes
    # the next `pulumi up` run a failed Job again instead of awaiting it again (so a move retries).
    annotations = find(rendered(**ORDERS), "Job")["metadata"]["annotations"]
    assert (annotations["pulumi.com/waitFor"], annotations["pulumi.com/replaceUnready"]) == (
        "condition=Complete", "true")
