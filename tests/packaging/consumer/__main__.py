"""Another team's stack: two clusters side by side in one namespace, deployed through the
program's own Kubernetes provider rather than the ambient kubeconfig context."""
import pulumi
import pulumi_kubernetes as kubernetes

from mysql_cluster import MySQLCluster, MySQLClusterArgs

shop_cluster = kubernetes.Provider("shop-cluster", context="shop")

for name in ("orders", "billing"):
    cluster = MySQLCluster(name, MySQLClusterArgs(namespace="shop", replicas=2),
                           opts=pulumi.ResourceOptions(providers=[shop_cluster]))
    pulumi.export(f"{name}PrimaryHost", cluster.primary_host)
