"""How the pods and client Services fit a Kubernetes cluster: the nodes they run on, the taints
they tolerate, their priority, extra labels and annotations, registry credentials, service account,
and the Services' type and annotations, as the stack config shapes them."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import find

TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute",
              "tolerationSeconds": 60}


def pod_spec(rendered, **config: Any) -> dict[str, Any]:
    return find(rendered(**config), "StatefulSet")["spec"]["template"]["spec"]


def pod_metadata(rendered, **config: Any) -> dict[str, Any]:
    return find(rendered(**config), "StatefulSet")["spec"]["template"]["metadata"]


def service(rendered, name: str, **config: Any) -> dict[str, Any]:
    return find(rendered(**config), "Service", name)


def test_node_selector_limits_the_pods_to_nodes_with_those_labels(rendered):
    assert pod_spec(rendered, nodeSelector='{"node-pool": "databases"}')["nodeSelector"] == {
        "node-pool": "databases"}


def test_without_node_selector_pods_may_run_on_any_node(rendered):
    assert "nodeSelector" not in pod_spec(rendered)


def test_tolerations_reach_the_pods_as_given(rendered):
    assert pod_spec(rendered, tolerations=json.dumps([TOLERATION]))["tolerations"] == [TOLERATION]


def test_toleration_without_operator_uses_equal(rendered):
    toleration, = pod_spec(rendered, tolerations='[{"key": "dedicated", "value": "db"}]')[
        "tolerations"]
    assert toleration == {"key": "dedicated", "operator": "Equal", "value": "db"}


def test_without_tolerations_pods_tolerate_no_taint(rendered):
    assert "tolerations" not in pod_spec(rendered)


def test_priority_class_names_the_pods_priority(rendered):
    assert pod_spec(rendered, priorityClassName="databases")["priorityClassName"] == "databases"


def test_without_priority_class_pods_have_the_default_priority(rendered):
    assert "priorityClassName" not in pod_spec(rendered)


def test_pod_labels_are_added_to_the_clusters_own(rendered):
    labels = pod_metadata(rendered, clusterName="orders", podLabels='{"team": "shop"}')["labels"]
    assert labels == {"team": "shop", "app.kubernetes.io/name": "mysql-cluster",
                      "app.kubernetes.io/instance": "orders",
                      "app.kubernetes.io/component": "database",
                      "app.kubernetes.io/managed-by": "pulumi"}


def test_pod_annotations_are_added_beside_the_config_checksum(rendered):
    annotations = pod_metadata(rendered, podAnnotations='{"example.com/owner": "shop"}')[
        "annotations"]
    assert annotations["example.com/owner"] == "shop"
    assert "mysql-cluster/config-checksum" in annotations


def test_image_pull_secrets_are_referenced_by_the_pods(rendered):
    assert pod_spec(rendered, imagePullSecrets='["registry-a", "registry-b"]')[
        "imagePullSecrets"] == [{"name": "registry-a"}, {"name": "registry-b"}]


def test_without_image_pull_secrets_pods_pull_anonymously(rendered):
    assert "imagePullSecrets" not in pod_spec(rendered)


def test_service_account_runs_the_pods_without_mounting_its_token(rendered):
    spec = pod_spec(rendered, serviceAccountName="orders-db")
    assert (spec["serviceAccountName"], spec["automountServiceAccountToken"]) == ("orders-db",
                                                                                  False)


def test_without_service_account_pods_run_as_the_namespaces_default(rendered):
    assert "serviceAccountName" not in pod_spec(rendered)


@pytest.mark.parametrize("which", ["primary", "read"])
@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_client_service_type_comes_from_the_config(rendered, which, service_type):
    spec = service(rendered, f"orders-{which}", clusterName="orders",
                   **{f"{which}ServiceType": service_type})["spec"]
    assert spec["type"] == service_type


@pytest.mark.parametrize("which", ["primary", "read"])
def test_client_services_are_cluster_ip_by_default_without_naming_the_type(rendered, which):
    assert "type" not in service(rendered, f"orders-{which}", clusterName="orders")["spec"]


@pytest.mark.parametrize("which, other", [("primary", "read"), ("read", "primary")])
def test_client_service_annotations_reach_that_service_only(rendered, which, other):
    internal = {"networking.gke.io/load-balancer-type": "Internal"}
    config = {"clusterName": "orders", f"{which}ServiceAnnotations": json.dumps(internal)}
    assert service(rendered, f"orders-{which}", **config)["metadata"]["annotations"] == internal
    assert "annotations" not in service(rendered, f"orders-{other}", **config)["metadata"]


def test_headless_service_stays_headless_whatever_the_client_services_are(rendered):
    spec = service(rendered, "orders", clusterName="orders", readServiceType="LoadBalancer",
                   primaryServiceType="LoadBalancer")["spec"]
    assert (spec["clusterIP"], "type" in spec) == ("None", False)
