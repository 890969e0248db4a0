"""A Pulumi program with `clusters` MySQLClusters of `replicas` pods each, for render_cost.py."""
import pulumi

from mysql_cluster import MySQLCluster, MySQLClusterArgs

config = pulumi.Config()
for index in range(config.require_int("clusters")):
    MySQLCluster(f"db{index}", MySQLClusterArgs(namespace="bench",
                                                replicas=config.require_int("replicas")))
