"""What is built around the component rather than deployed with it: the offline render of a stack
(`python -m mysql_cluster.tooling.render`), the files generated from the settings
(`python -m mysql_cluster.tooling.generate`), and the Pulumi mock runtime both run the program
under, with its stand-ins for the TLS provider's certificates."""
