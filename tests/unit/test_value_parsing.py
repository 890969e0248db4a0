"""Quantities and names are read whole and within what Kubernetes can hold: a value with a
trailing newline, or a quantity too large to count, stops the render with one line."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mysql_cluster.quantities import quantity_value
from mysql_cluster.tooling.render import main

from .conftest import PROJECT_DIR


def test_a_quantity_too_large_for_kubernetes_stops_the_render_in_one_line_naming_the_key():
    result = subprocess.run(
        [sys.executable, "-m", "mysql_cluster.tooling.render", "--stack", "dev",
         "--config", "serverMemoryLimit=1e999999999"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "error: invalid value for config key 'serverMemoryLimit' (argument "
        "'server_memory_limit'): '1e999999999'; ")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("key, value", [
    ("clusterName", "x-read\n"), ("namespace", "default\n"), ("storageSize", "1Gi\n"),
    ("serverImage", "mysql:8.4.6\n"), ("storageClass", "fast\n"), ("clusterDomain", "cluster.local\n"),
])
def test_a_value_ending_in_a_newline_is_refused(capsys, key, value):
    assert main(["--project-dir", str(PROJECT_DIR), "--stack", "dev",
                 "--config", f"{key}={value}"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: invalid value for config key '{key}' ")
    assert error.count("\n") == 1


def test_the_largest_quantity_is_what_int64_milli_units_hold():
    assert quantity_value("9223372036854775807m") == quantity_value("9223372036854775.807")
    with pytest.raises(ValueError, match="larger than a Kubernetes quantity can be"):
        quantity_value("9223372036854775808m")
