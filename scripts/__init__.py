"""The cluster's shell scripts, shipped as package data of mysql_cluster (read with importlib.resources)."""
