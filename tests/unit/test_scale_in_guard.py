"""Lowering `replicas` below the pod that is the primary, in the same `pulumi up` that moves the
primary, would delete the acting primary before the switchover Job runs (issue 22, finding 6):
the topology ConfigMap, updated before the StatefulSet, refuses that update in a hook that also
runs in `pulumi preview`, naming both keys."""
from __future__ import annotations

from typing import Any, Optional

import pulumi
import pytest

from mysql_cluster import ConfigError, MySQLCluster
from mysql_cluster.scale_in_guard import check_scale_in, scale_in_guard


def topology_inputs(primary: int, replicas: int) -> dict[str, Any]:
    """The topology ConfigMap's inputs as the engine hands them to a hook."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "data": {"primary-ordinal": str(primary), "replicas": str(replicas)}}


def test_lowering_replicas_below_the_previous_primary_is_refused_naming_both_keys():
    with pytest.raises(ConfigError) as caught:
        check_scale_in(2, 0, topology_inputs(primary=2, replicas=3))
    assert str(caught.value) == (
        "invalid value for config key 'replicas' (argument 'replicas'): 2; pod 2 is the primary, "
        "and lowering replicas would delete it before the switchover Job moves the primary to "
        "pod 0 (a failover, losing what pod 2 had not replicated); first apply primaryOrdinal 0 "
        "with replicas unchanged, then lower replicas")


@pytest.mark.parametrize("replicas, primary, old", [
    (2, 0, topology_inputs(primary=0, replicas=3)),  # scale-in that keeps the primary's pod
    (2, 1, topology_inputs(primary=1, replicas=3)),
    (4, 3, topology_inputs(primary=0, replicas=3)),  # scale-out and move to the new pod
    (3, 0, topology_inputs(primary=2, replicas=3)),  # a move alone
    (1, 0, None),                                    # a first deployment: no old inputs
    (1, 0, {"data": {}}),
])
def test_updates_that_keep_the_previous_primarys_pod_pass(replicas, primary, old):
    check_scale_in(replicas, primary, old)


def _before_update_hook(replicas: int, primary: int) -> pulumi.ResourceHook:
    hooks: list[pulumi.ResourceHook] = []

    @pulumi.runtime.test
    def build():
        hooks.extend(scale_in_guard("orders-topology", replicas, primary).hooks.before_update)

    build()
    (hook,) = hooks
    return hook


def _run(hook: pulumi.ResourceHook, old_inputs: Optional[dict[str, Any]]) -> None:
    hook(pulumi.ResourceHookArgs(urn="urn", id="orders/orders-topology", name="orders-topology",
                                 type="kubernetes:core/v1:ConfigMap",
                                 new_inputs=topology_inputs(0, 2), old_inputs=old_inputs))


def test_the_guard_is_a_before_update_hook_that_refuses_in_preview_too(mock_monitor):
    hook = _before_update_hook(replicas=2, primary=0)
    assert hook.opts.on_dry_run is True
    with pytest.raises(ConfigError):
        _run(hook, topology_inputs(primary=2, replicas=3))
    _run(hook, topology_inputs(primary=1, replicas=3))


def test_the_topology_config_map_carries_the_guard_and_the_statefulset_follows_it(mock_monitor):
    @pulumi.runtime.test
    def construct():
        MySQLCluster("orders", {"replicas": 2})

    construct()
    assert mock_monitor.options["orders-topology"]["before_update_hooks"] == [
        "orders-topology-scale-in-guard"]
    # The StatefulSet is updated after the ConfigMap: the refusal comes before any pod is deleted.
    assert any(urn.endswith("kubernetes:core/v1:ConfigMap::orders-topology")
               for urn in mock_monitor.dependencies["orders-statefulset"])
