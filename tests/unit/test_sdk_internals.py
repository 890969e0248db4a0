"""The SDK internals the mock runtime needs are checked when the package is imported."""
from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from mysql_cluster.sdk_internals import NEWEST_PULUMI, OLDEST_PULUMI


def test_an_sdk_release_without_a_needed_internal_fails_at_import_naming_the_supported_range():
    # An SDK release that dropped reset_options, as the import sees it.
    program = ("import pulumi.runtime.settings as settings; del settings.reset_options; "
               "import mysql_cluster.tooling.mock_runtime")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert result.stderr.splitlines()[-1] == (
        f"ImportError: mysql-cluster supports pulumi {OLDEST_PULUMI}–{NEWEST_PULUMI}; found "
        f"{version('pulumi')}: it has no pulumi.runtime.settings.reset_options")
