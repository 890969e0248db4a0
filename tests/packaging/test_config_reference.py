"""Pulumi.yaml's config block, the README's configuration table and MySQLClusterArgs (args.py) are
what `python -m mysql_cluster.tooling.generate` writes from settings.py.

On a mismatch the failure shows a diff from the committed copy (-) to the generated one (+).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from mysql_cluster.tooling.generate import COMMAND, GENERATED_FILES, GeneratedFile, stale_diff

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("generated", GENERATED_FILES, ids=lambda generated: generated.path)
def test_the_committed_copy_is_what_the_settings_generate(generated: GeneratedFile):
    diff = stale_diff(PROJECT_DIR, generated)
    if diff:
        pytest.fail(f"{generated.path} is out of date; run `{COMMAND}`:\n{diff}", pytrace=False)
