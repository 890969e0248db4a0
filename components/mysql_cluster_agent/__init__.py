"""The agent that runs beside each database server of a cluster, in a container of its own.

It imports the Python standard library only, and PyMySQL in local_server.py: the component ships
this package and PyMySQL's source into the pods in a content-addressed ConfigMap, run by the
official python image (docs/agent.md).
"""
