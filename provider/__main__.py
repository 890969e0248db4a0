"""Entry point of the plugin: the Python language host runs this file with the engine address."""
from mysql_cluster.provider_host import main

main()
