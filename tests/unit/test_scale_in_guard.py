"""Lowering `replicas` below the pod that is the primary, in the same `pulumi up` that moves the
primary, would delete the acting primary before the switchover Job runs (issue 22, finding 6):
the StatefulSet, which carries the primary it was applied with in an annotation, refuses that
update in a hook that also runs in `pulumi preview`, naming both keys."""
from __future__ import annotations

from typing import Any, Optional

import pulumi
import pytest

from mysql_cluster import ConfigError, MySQLCluster
from mysql_cluster.scale_in_guard import check_scale_in, scale_in_guard


def statefulset_inputs(primary: int, replicas: int) -> dict[str, Any]:
    """The StatefulSet's inputs as the engine hands them to a hook (abridged)."""
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "orders", "annotations": {
                "mysql-cluster/primary-ordinal": str(primary)}},
            "spec": {"replicas": replicas}}


def test_lowering_replicas_below_the_previous_primary_is_refused_naming_both_keys():
    with pytest.raises(ConfigError) as caught:
        check_scale_in(2, 0, statefulset_inputs(primary=2, replicas=3))
    assert str(caught.value) == (
        "invalid value for config key 'replicas' (argument 'replicas'): 2; pod 2 is the primary, "
        "and lowering replicas would delete it before the switchover Job moves the primary to "
        "pod 0 (a failover, losing what pod 2 had not replicated); first apply primaryOrdinal 0 "
        "with replicas unchanged, then lower replicas")


@pytest.mark.parametrize("replicas, primary, old", [
    (2, 0, statefulset_inputs(primary=0, replicas=3)),  # scale-in that keeps the primary's pod
    (2, 1, statefulset_inputs(primary=1, replicas=3)),
    (4, 3, statefulset_inputs(primary=0, replicas=3)),  # scale-out and move to the new pod
    (3, 0, statefulset_inputs(primary=2, replicas=3)),  # a move alone
    (1, 0, None),                                    # a first deployment: no old inputs
    (1, 0, {"metadata": {"name": "orders"}}),      # applied before the annotation existed
])
def test_updates_that_keep_the_previous_primarys_pod_pass(replicas, primary, old):
    check_scale_in(replicas, primary, old)


def _before_update_hook(replicas: int, primary: int) -> pulumi.ResourceHook:
    hooks: list[pulumi.ResourceHook] = []

    @pulumi.runtime.test
    def build():
        hooks.extend(scale_in_guard("orders-statefulset", replicas, primary).hooks.before_update)

    build()
    (hook,) = hooks
    return hook


def _run(hook: pulumi.ResourceHook, old_inputs: Optional[dict[str, Any]]) -> None:
    hook(pulumi.ResourceHookArgs(urn="urn", id="orders/orders", name="orders-statefulset",
                                 type="kubernetes:apps/v1:StatefulSet",
                                 new_inputs=statefulset_inputs(0, 2), old_inputs=old_inputs))


def test_the_guard_is_a_before_update_hook_that_refuses_in_preview_too(mock_monitor):
    hook = _before_update_hook(replicas=2, primary=0)
    assert hook.opts.on_dry_run is True
    with pytest.raises(ConfigError):
        _run(hook, statefulset_inputs(primary=2, replicas=3))
    _run(hook, statefulset_inputs(primary=1, replicas=3))


def test_the_statefulset_carries_the_guard_and_the_primary_it_is_applied_with(mock_monitor):
    @pulumi.runtime.test
    def construct():
        MySQLCluster("orders", {"replicas": 3, "primary_ordinal": 2})

    construct()
    assert mock_monitor.options["orders-statefulset"]["before_update_hooks"] == [
        "orders-statefulset-scale-in-guard"]
    statefulset = next(r for r in mock_monitor.mocks.resources if r.name == "orders-statefulset")
    assert statefulset.inputs["metadata"]["annotations"] == {"mysql-cluster/primary-ordinal": "2"}
    # Not in the pod template: a move rolls no pod.
    assert "mysql-cluster/primary-ordinal" not in (
        statefulset.inputs["spec"]["template"]["metadata"].get("annotations") or {})
