"""How long Pulumi waits for the StatefulSet, and how long Kubernetes gives a pod to stop."""
from __future__ import annotations

import pulumi

from mysql_cluster import MySQLCluster

from .conftest import find


def test_pulumi_waits_an_hour_for_the_statefulset_to_be_created_or_updated(mock_monitor):
    # New replicas clone the whole database before they are ready.
    @pulumi.runtime.test
    def construct():
        MySQLCluster("orders", {})

    construct()
    assert mock_monitor.custom_timeouts["orders-statefulset"] == {
        "create": "60m", "update": "60m", "delete": ""}


def test_a_pod_has_a_minute_to_stop_before_it_is_killed(rendered):
    statefulset = find(rendered(), "StatefulSet")
    assert statefulset["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60
