"""A replicated MySQL or MariaDB cluster on Kubernetes, as a Pulumi component."""
from .args import MySQLClusterArgs
from .cluster import MySQLCluster
from .settings import ConfigError

__all__ = ["MySQLCluster", "MySQLClusterArgs", "ConfigError"]
