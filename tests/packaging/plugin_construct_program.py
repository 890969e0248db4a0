"""A Pulumi program that declares a cluster the way the plugin receives one from a program in
another language: the inputs carry the schema's names, numbers arrive as floats and passwords as
secrets; the plugin's ComponentProvider maps them onto MySQLClusterArgs."""
import pulumi
from pulumi.provider.experimental.component import ComponentProvider

from mysql_cluster import MySQLCluster
from mysql_cluster.provider_host import PACKAGE

provider = ComponentProvider([MySQLCluster], PACKAGE)
result = provider.construct("orders", f"{PACKAGE}:index:MySQLCluster", {
    "namespace": "shop",
    "replicas": 2.0,
    "maxReplicationLagSeconds": 10.0,
    "allowedClientNamespaces": ["web"],
    "appPassword": pulumi.Output.secret("an-app-password"),
}, None)
pulumi.export("primaryHost", result.state["primaryHost"])
