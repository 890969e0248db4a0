"""A replicated MySQL or MariaDB cluster on Kubernetes, as a Pulumi component."""
from .cluster import MySQLCluster, MySQLClusterArgs
from .settings import ConfigError

__all__ = ["MySQLCluster", "MySQLClusterArgs", "ConfigError"]
