"""Serves MySQLCluster to Pulumi programs written in other languages (TypeScript, Go, YAML, ...).

`pulumi package add` starts the plugin in provider/ (PulumiPlugin.yaml), whose entry point calls
`main()`. The Pulumi SDK infers the package schema from the annotations and docstrings of
MySQLClusterArgs (args.py, generated from the settings) and of MySQLCluster's outputs, and builds
each cluster the calling program declares, in this process.
"""
from importlib import metadata

from pulumi.provider.experimental import component_provider_host

from .cluster import MySQLCluster

# The package part of the component's type token, mysql-cluster:index:MySQLCluster; the
# distribution has the same name, so the schema carries the version that is installed.
PACKAGE = "mysql-cluster"


def main() -> None:
    """Runs the provider until the Pulumi engine stops it (the engine address is in argv)."""
    component_provider_host([MySQLCluster], name=PACKAGE, version=metadata.version(PACKAGE))
