"""Growing the data volumes in place: each pod's claim is applied with the configured size, and the
StatefulSet ignores its volume claim template, which Kubernetes does not let change (Pulumi would
otherwise replace the StatefulSet and delete every pod)."""
from __future__ import annotations

from typing import Any

import pulumi
import pytest

from mysql_cluster import MySQLCluster

ORDERS = {"clusterName": "orders", "namespace": "shop"}


def claims(rendered, **config: Any) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in rendered(**ORDERS, **config)
            if m["kind"] == "PersistentVolumeClaim"}


def test_each_pod_has_its_claim_named_as_the_statefulset_controller_names_it(rendered):
    assert sorted(claims(rendered, replicas=3)) == ["data-orders-0", "data-orders-1",
                                                    "data-orders-2"]


def test_a_larger_storage_size_asks_every_claim_for_the_new_size(rendered):
    assert {name: claim["spec"]["resources"]["requests"]["storage"]
            for name, claim in claims(rendered, replicas=3, storageSize="200Gi").items()} == {
        "data-orders-0": "200Gi", "data-orders-1": "200Gi", "data-orders-2": "200Gi"}


def test_claims_match_the_volume_claim_template_so_a_new_replica_may_use_either(rendered):
    manifests = rendered(**ORDERS, replicas=3, storageSize="50Gi", storageClass="premium-rwo")
    template, = next(m for m in manifests if m["kind"] == "StatefulSet")["spec"][
        "volumeClaimTemplates"]
    found = [m for m in manifests if m["kind"] == "PersistentVolumeClaim"]
    assert len(found) == 3  # one per pod
    for claim in found:
        assert claim["spec"] == template["spec"]
        assert claim["metadata"]["labels"] == template["metadata"]["labels"]


def test_claims_take_over_the_size_from_the_statefulset_controller_that_created_them(rendered):
    found = claims(rendered, replicas=3)
    assert len(found) == 3  # one per pod
    for claim in found.values():
        assert claim["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}


def registered_options(mock_monitor, **args: Any) -> dict[str, dict[str, Any]]:
    """The resource options of every resource a cluster named `orders` registers, by name."""
    @pulumi.runtime.test
    def construct():
        MySQLCluster("orders", args)

    construct()
    return mock_monitor.options


def test_statefulset_ignores_changes_to_its_volume_claim_template(mock_monitor):
    assert registered_options(mock_monitor)["orders-statefulset"]["ignore_changes"] == [
        "spec.volumeClaimTemplates"]


@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_claims_are_left_in_place_when_pulumi_forgets_them(mock_monitor, ordinal):
    # Scaling in, the StatefulSet deletes the removed pod's claim itself.
    assert registered_options(mock_monitor)[f"orders-data-{ordinal}"]["retain_on_delete"] is True


def test_scaling_out_adds_the_claims_of_the_new_pods_only(mock_monitor):
    assert [name for name in registered_options(mock_monitor, replicas=5)
            if name.startswith("orders-data-")] == [f"orders-data-{n}" for n in range(5)]
