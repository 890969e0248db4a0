"""Each stack policy of the pack: a rendered stack that passes and changed ones that violate it,
with the message the user sees."""
from __future__ import annotations

import json

import pytest

from stack_manifests import find
from .policy_args import stack_args, violations


def without(manifests: list[dict], kind: str) -> list[dict]:
    return [manifest for manifest in manifests if manifest["kind"] != kind]


def test_rendered_database_pods_have_a_network_policy(render):
    assert violations("database-network-policy", stack_args(render("dev"))) == []


def test_database_statefulset_without_network_policy_is_a_violation(render):
    manifests = without(render("dev"), "NetworkPolicy")
    assert violations("database-network-policy", stack_args(manifests)) == [
        "StatefulSet mysql-dev/mysql has no NetworkPolicy that selects its pods and restricts "
        "their ingress"]


@pytest.mark.parametrize("change", [
    pytest.param(lambda policy: policy["metadata"].update(namespace="elsewhere"), id="namespace"),
    pytest.param(lambda policy: policy["spec"]["podSelector"]["matchLabels"].update(
        {"app.kubernetes.io/instance": "other"}), id="labels"),
    pytest.param(lambda policy: policy["spec"].update(policyTypes=["Egress"]), id="egress-only"),
])
def test_network_policy_that_misses_the_pods_or_their_ingress_is_a_violation(render, change):
    manifests = render("dev")
    change(find(manifests, "NetworkPolicy", find(manifests, "StatefulSet")["metadata"]["name"]))
    assert violations("database-network-policy", stack_args(manifests)) == [
        "StatefulSet mysql-dev/mysql has no NetworkPolicy that selects its pods and restricts "
        "their ingress"]


def test_network_policy_selecting_by_expression_covers_the_pods(render):
    manifests = render("dev")
    find(manifests, "NetworkPolicy", find(manifests, "StatefulSet")["metadata"]["name"])["spec"]["podSelector"] = {"matchExpressions": [
        {"key": "app.kubernetes.io/instance", "operator": "In", "values": ["mysql", "other"]},
        {"key": "tier", "operator": "DoesNotExist"}]}
    assert violations("database-network-policy", stack_args(manifests)) == []


def test_rendered_database_pods_have_their_egress_restricted(render):
    assert violations("database-egress", stack_args(render("dev"))) == []


@pytest.mark.parametrize("change", [
    pytest.param(lambda spec: spec.update(policyTypes=["Ingress"]), id="ingress-only"),
    pytest.param(lambda spec: [spec.pop(key) for key in ("policyTypes", "egress")],
                 id="no-types-no-egress-rules"),
])
def test_database_pods_with_unrestricted_egress_are_a_violation(render, change):
    manifests = render("dev")
    change(find(manifests, "NetworkPolicy", find(manifests, "StatefulSet")["metadata"]["name"])["spec"])
    assert violations("database-egress", stack_args(manifests)) == [
        "StatefulSet mysql-dev/mysql has no NetworkPolicy that selects its pods and restricts "
        "their egress"]


@pytest.mark.parametrize("rule", [
    pytest.param({}, id="no-to"),
    pytest.param({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}, id="every-ipv4-address"),
    pytest.param({"to": [{"ipBlock": {"cidr": "::/0"}}]}, id="every-ipv6-address"),
    pytest.param({"to": [{"namespaceSelector": {}}]}, id="every-namespace"),
])
def test_an_egress_rule_to_every_address_on_every_port_is_a_violation(render, rule):
    manifests = render("dev")
    find(manifests, "NetworkPolicy", find(manifests, "StatefulSet")["metadata"]["name"])["spec"][
        "egress"].append(rule)
    assert violations("database-egress", stack_args(manifests)) == [
        "StatefulSet mysql-dev/mysql: NetworkPolicy mysql-dev/mysql lets its pods connect to "
        "every address on every port"]


def test_one_port_open_to_every_address_is_no_violation(render):
    manifests = render("dev")
    find(manifests, "NetworkPolicy", find(manifests, "StatefulSet")["metadata"]["name"])["spec"][
        "egress"].append({"ports": [{"port": 443, "protocol": "TCP"}]})
    assert violations("database-egress", stack_args(manifests)) == []


def test_rendered_database_pods_have_a_disruption_budget(render):
    assert violations("database-disruption-budget", stack_args(render("dev"))) == []


def test_database_statefulset_without_disruption_budget_is_a_violation(render):
    manifests = without(render("dev"), "PodDisruptionBudget")
    assert violations("database-disruption-budget", stack_args(manifests)) == [
        "StatefulSet mysql-dev/mysql has no PodDisruptionBudget that selects its pods"]


def test_disruption_budget_selecting_other_pods_is_a_violation(render):
    manifests = render("dev")
    find(manifests, "PodDisruptionBudget")["spec"]["selector"] = {"matchExpressions": [
        {"key": "app.kubernetes.io/instance", "operator": "NotIn", "values": ["mysql"]}]}
    assert violations("database-disruption-budget", stack_args(manifests)) == [
        "StatefulSet mysql-dev/mysql has no PodDisruptionBudget that selects its pods"]


def test_production_stack_with_three_spread_replicas_passes(render):
    assert violations("production-availability", stack_args(render("prod"), stack="prod")) == []


def test_production_stack_with_too_few_replicas_is_a_violation(render):
    manifests = render("prod", replicas=2)
    assert violations("production-availability", stack_args(manifests, stack="prod")) == [
        'stack "prod" is a production stack: StatefulSet orders/orders-db sets replicas: 2, '
        "below the minimum 3"]


def test_production_stack_with_preferred_anti_affinity_is_a_violation(render):
    manifests = render("prod", antiAffinity="preferred")
    assert violations("production-availability", stack_args(manifests, stack="prod")) == [
        'stack "prod" is a production stack: StatefulSet orders/orders-db has no required pod '
        "anti-affinity that keeps its pods apart"]


def test_non_production_stack_is_not_held_to_production_rules(render):
    assert violations("production-availability", stack_args(render("dev"), stack="dev")) == []


@pytest.mark.parametrize("stack", ["production", "prod-eu"])
def test_default_production_stacks_are_prod_and_production_and_their_variants(render, stack):
    assert violations("production-availability", stack_args(render("dev"), stack=stack)) == [
        f'stack "{stack}" is a production stack: StatefulSet mysql-dev/mysql sets replicas: 2, '
        "below the minimum 3",
        f'stack "{stack}" is a production stack: StatefulSet mysql-dev/mysql has no required pod '
        "anti-affinity that keeps its pods apart"]


def test_production_stacks_and_replica_minimum_come_from_the_pack_config(render):
    config = {"productionStacks": ["staging-*"], "minReplicas": 2}
    manifests = render("dev", antiAffinity="required")
    assert violations("production-availability",
                      stack_args(manifests, stack="staging-1", config=config)) == []
    assert violations("production-availability",
                      stack_args(manifests, stack="prod", config=config)) == []
    assert violations("production-availability", stack_args(
        render("dev", replicas=1, antiAffinity="required"), stack="staging-1", config=config)) == [
        'stack "staging-1" is a production stack: StatefulSet mysql-dev/mysql sets replicas: 1, '
        "below the minimum 2"]


def test_production_stack_keeping_its_primary_needs_no_confirmation(render):
    assert violations("primary-move-confirmed", stack_args(render("prod"), stack="prod")) == []


def test_production_stack_moving_its_primary_needs_the_new_ordinal_confirmed(render):
    manifests = render("prod", primaryOrdinal="1")
    assert violations("primary-move-confirmed", stack_args(manifests, stack="prod")) == [
        'stack "prod" is a production stack: Job orders/orders-db-primary-1 makes pod 1 the '
        "primary. If the current primary does not answer, this is a failover: the writes it "
        "committed but had not replicated are lost. Check that it runs, then confirm with "
        "expectedPrimaryOrdinal: 1 in the policy config"]
    assert violations("primary-move-confirmed", stack_args(
        manifests, stack="prod", config={"expectedPrimaryOrdinal": 1})) == []


def test_production_stack_with_the_stacks_own_certificate_passes(render):
    assert violations("production-tls", stack_args(render("prod"), stack="prod")) == []


def test_production_stack_with_a_cert_manager_certificate_passes(render):
    manifests = render("prod", tlsSource="cert-manager", tlsIssuer="orders-ca")
    assert violations("production-tls", stack_args(manifests, stack="prod")) == []


def test_production_stack_with_a_certificate_secret_of_its_own_passes(render):
    manifests = render("prod", tlsSource="secret", tlsSecret="orders-db-tls")
    assert violations("production-tls", stack_args(manifests, stack="prod")) == []


def test_production_stack_without_tls_is_a_violation(render):
    manifests = render("prod", tlsSource="none")
    assert violations("production-tls", stack_args(manifests, stack="prod")) == [
        'stack "prod" is a production stack: StatefulSet orders/orders-db mounts no TLS '
        "certificate (a Secret volume with tls.crt and tls.key), so its clients and replicas "
        "talk in plain text"]


def test_non_production_stack_may_run_without_tls(render):
    assert violations("production-tls", stack_args(render("dev", tlsSource="none"),
                                                   stack="dev")) == []


# --- exposure settings on production stacks (finding 10 of issue 22) -------------------------

S3 = {"flavor": "mariadb", "backupTarget": "s3", "backupS3Bucket": "db-backups", "backupS3Secret": "s3-keys"}


def test_production_backups_to_an_https_endpoint_pass(render):
    manifests = render("prod", **S3, backupS3Endpoint="https://minio.storage:9000")
    assert violations("production-backup-transport", stack_args(manifests, stack="prod")) == []


def test_production_backups_to_a_plain_http_endpoint_are_a_violation(render):
    manifests = render("prod", **S3, backupS3Endpoint="http://minio.storage:9000")
    found = violations("production-backup-transport", stack_args(manifests, stack="prod"))
    assert found and all("reaches the S3 endpoint http://minio.storage:9000 over plain http"
                         in message for message in found)
    assert 'stack "prod" is a production stack: StatefulSet orders/orders-db container ' \
        '"agent" reaches' in found[0]


def test_plain_http_backups_outside_production_are_not_held_to_it(render):
    manifests = render("dev", **S3, backupS3Endpoint="http://minio.storage:9000")
    assert violations("production-backup-transport", stack_args(manifests, stack="dev")) == []


def test_production_load_balancer_open_to_every_namespace_is_a_violation(render):
    manifests = render("prod", allowedClientNamespaces='["*"]', primaryServiceType="LoadBalancer")
    assert violations("production-exposure", stack_args(manifests, stack="prod")) == [
        'stack "prod" is a production stack: Service orders/orders-db-primary is a LoadBalancer '
        "Service of StatefulSet orders/orders-db, whose NetworkPolicy admits every namespace "
        '(allowedClientNamespaces: ["*"]); list the client namespaces, or keep the Service '
        "ClusterIP"]


def test_production_node_port_open_to_every_namespace_is_a_violation(render):
    manifests = render("prod", allowedClientNamespaces='["*"]', readServiceType="NodePort")
    found = violations("production-exposure", stack_args(manifests, stack="prod"))
    assert len(found) == 1
    assert "Service orders/orders-db-read is a NodePort Service of StatefulSet" in found[0]


@pytest.mark.parametrize("config", [
    {"allowedClientNamespaces": '["*"]'},
    {"primaryServiceType": "LoadBalancer"},
])
def test_production_exposure_needs_both_an_external_service_and_every_namespace(render, config):
    assert violations("production-exposure", stack_args(render("prod", **config),
                                                        stack="prod")) == []


@pytest.mark.parametrize("priority_class", ["system-node-critical", "system-cluster-critical"])
def test_production_pods_in_a_system_priority_class_are_a_violation(render, priority_class):
    manifests = render("prod", priorityClassName=priority_class)
    found = violations("production-priority-class", stack_args(manifests, stack="prod"))
    assert (f'stack "prod" is a production stack: StatefulSet orders/orders-db runs its pods in '
            f"the priority class {priority_class}, kept for Kubernetes' own components (they "
            "preempt the node's other pods and are the last evicted); use a priority class of "
            "your own") in found


def test_production_pods_in_a_priority_class_of_their_own_pass(render):
    manifests = render("prod", priorityClassName="databases")
    assert violations("production-priority-class", stack_args(manifests, stack="prod")) == []


@pytest.mark.parametrize("annotation", [
    "container.apparmor.security.beta.kubernetes.io/mysql",
    "seccomp.security.alpha.kubernetes.io/pod",
])
def test_production_pods_annotated_unconfined_are_a_violation(render, annotation):
    manifests = render("prod", podAnnotations=json.dumps({annotation: "unconfined"}))
    # podAnnotations reach every workload's pod (pod_spec.py): the switchover Job's too.
    assert violations("production-confinement", stack_args(manifests, stack="prod")) == [
        f"stack \"prod\" is a production stack: {workload}: annotation "
        f"{annotation}: unconfined, which lifts the kernel's confinement of containers that "
        "hold every password and the data; remove it"
        for workload in ("StatefulSet orders/orders-db", "Job orders/orders-db-primary-0")]


def test_production_pod_with_an_unconfined_seccomp_profile_is_a_violation(render):
    manifests = render("prod")
    find(manifests, "StatefulSet")["spec"]["template"]["spec"]["securityContext"][
        "seccompProfile"] = {"type": "Unconfined"}
    assert violations("production-confinement", stack_args(manifests, stack="prod")) == [
        'stack "prod" is a production stack: StatefulSet orders/orders-db: the pod sets '
        "seccompProfile Unconfined, which lifts the kernel's confinement of containers that hold "
        "every password and the data; remove it"]


def test_rendered_production_stack_is_confined(render):
    assert violations("production-confinement", stack_args(render("prod"), stack="prod")) == []
