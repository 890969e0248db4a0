"""What clients need to connect is registered as the component's outputs and exported by the
stack: hosts, port, namespace and the names of the StatefulSet, Services and Secret."""
from __future__ import annotations

import runpy
from typing import Any

import pulumi

from mysql_cluster import MySQLCluster
from mysql_cluster.tooling.render import stack_config

from .conftest import PROJECT_DIR

ORDERS_IN_SHOP = {
    "primary_host": "orders-primary.shop.svc.cluster.local",
    "read_host": "orders-read.shop.svc.cluster.local",
    "port": 3306,
    "namespace": "shop",
    "stateful_set_name": "orders",
    "headless_service_name": "orders",
    "read_service_name": "orders-read",
    "primary_service_name": "orders-primary",
    "credentials_secret_name": "orders-credentials",
}


def component_outputs(mock_monitor, args: dict[str, Any]) -> dict[str, Any]:
    """The outputs a cluster named `orders` registers."""
    @pulumi.runtime.test
    def construct():
        MySQLCluster("orders", args)

    construct()
    registered = {urn: outputs for urn, outputs in mock_monitor.registered_outputs.items()
                  if urn.endswith("mysql-cluster:index:MySQLCluster::orders")}
    assert len(registered) == 1
    # The mock runtime passes numbers as floats.
    return {key: int(value) if isinstance(value, float) else value
            for key, value in next(iter(registered.values())).items()}


def stack_exports(mock_monitor, stack: str) -> dict[str, Any]:
    """What the stack program exports with `stack`'s config."""
    _, config, secret_keys = stack_config(PROJECT_DIR, stack)
    pulumi.runtime.set_all_config(config, secret_keys)
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
        return pulumi.Output.all(**pulumi.runtime.get_root_resource().outputs).apply(
            exports.update)

    program()
    return exports


def test_cluster_registers_the_connection_details_as_outputs(mock_monitor):
    assert component_outputs(mock_monitor, {"namespace": "shop"}) == ORDERS_IN_SHOP


def test_cluster_hosts_use_the_configured_cluster_domain(mock_monitor):
    outputs = component_outputs(mock_monitor, {"namespace": "shop",
                                               "cluster_domain": "k8s.example.com"})
    assert (outputs["primary_host"], outputs["read_host"]) == (
        "orders-primary.shop.svc.k8s.example.com", "orders-read.shop.svc.k8s.example.com")


def test_cluster_with_an_existing_secret_names_that_secret(mock_monitor):
    outputs = component_outputs(mock_monitor, {"existing_secret": "orders-passwords"})
    assert outputs["credentials_secret_name"] == "orders-passwords"


def test_stack_exports_the_connection_details(mock_monitor):
    assert stack_exports(mock_monitor, "prod") == {
        "primaryHost": "orders-db-primary.orders.svc.cluster.local",
        "readHost": "orders-db-read.orders.svc.cluster.local",
        "port": 3306,
        "namespace": "orders",
        "statefulSetName": "orders-db",
        "headlessServiceName": "orders-db",
        "readServiceName": "orders-db-read",
        "primaryServiceName": "orders-db-primary",
        "credentialsSecretName": "orders-db-credentials",
    }
