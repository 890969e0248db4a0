"""Runs a program under the mock runtime of the mysql_cluster that this interpreter imports,
and prints as JSON where that package was found and what the program registered.

    python record_consumer.py <program file>
"""
import dataclasses
import json
import sys
from pathlib import Path

import mysql_cluster
from mysql_cluster.tooling.mock_runtime import run_program

resources = run_program(Path(sys.argv[1]), project="shop", stack="test", config={})
json.dump({"package": mysql_cluster.__file__,
           "resources": [dataclasses.asdict(resource) for resource in resources]}, sys.stdout)
