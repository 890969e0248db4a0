"""The agent that runs beside each database server of a cluster and owns its control plane: the
role at start and the role watch, and what a role change runs on the server.

It is shipped into the pods alone (a content-addressed ConfigMap, run by the official Python
image), so it imports only the standard library, and PyMySQL in the one module that connects;
the component (mysql_cluster) imports from it, never the other way round."""
