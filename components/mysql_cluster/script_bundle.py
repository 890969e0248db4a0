"""The shell scripts of scripts/, made into self-contained container commands.

A script sources its helpers with `source "$(dirname "${BASH_SOURCE[0]}")/<file>.sh"` so it runs
and lints as a file; here each such line is replaced by the helper's text, because a container
command is a single string.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

_SOURCE_LINE = re.compile(r'^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)/([\w.-]+\.sh)"$', re.M)


def script_text(name: str) -> str:
    return resources.files("mysql_cluster.scripts").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def bundled_script(name: str) -> str:
    """The script `name` with every helper it sources inlined."""
    return _SOURCE_LINE.sub(lambda match: bundled_script(match.group(1)).rstrip("\n"),
                            script_text(name))


def bash_command(name: str) -> list[str]:
    return ["bash", "-c", bundled_script(name)]
