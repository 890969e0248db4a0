"""The stack: one MySQLCluster shaped by this stack's config (Pulumi.<stack>.yaml)."""
import pulumi

from mysql_cluster import MySQLCluster
from mysql_cluster.stack_config import cluster_from_config

name, args = cluster_from_config(pulumi.get_project())
cluster = MySQLCluster(name, args)

pulumi.export("primaryHost", cluster.primary_host)
pulumi.export("readHost", cluster.read_host)
pulumi.export("port", cluster.port)
pulumi.export("namespace", cluster.namespace)
pulumi.export("statefulSetName", cluster.stateful_set_name)
pulumi.export("headlessServiceName", cluster.headless_service_name)
pulumi.export("readServiceName", cluster.read_service_name)
pulumi.export("primaryServiceName", cluster.primary_service_name)
pulumi.export("credentialsSecretName", cluster.credentials_secret_name)
