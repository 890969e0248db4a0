"""Whatever a user writes for a config key, the stack either renders or stops with one line that
names the key: never a traceback. Values chosen from what the bad-input probe found and what
YAML, JSON and shells make easy to write by accident."""
from __future__ import annotations

import pytest

from mysql_cluster.tooling import render
from mysql_cluster.settings import SETTINGS

from .conftest import PROJECT_DIR

ODD_VALUES = ["", " ", "\n", "x\n", "1e999999999", "-1", "9" * 400, "[", "{}", '["*", "x"]',
              "ünïcödé", "null", "true", "0x10"]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize("key", [setting.key for setting in SETTINGS])
def test_any_value_renders_or_stops_with_one_line_naming_the_key(capsys, key, value):
    status = render.main(["--stack", "dev", "--project-dir", str(PROJECT_DIR),
                          "--config", f"{key}={value}"])
    err = capsys.readouterr().err
    if status == 0:
        return
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert f"'{key}'" in err
