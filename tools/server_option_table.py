"""Writes the table of a server's options (name, type, allowed values) that `serverOptions` is
checked against, from what the real server prints with `--no-defaults --verbose --help`.

    python tools/server_option_table.py [--root TREE] SERVER_COMMAND OUT.json

    python tools/server_option_table.py mariadbd components/mysql_cluster/server_option_tables/mariadb-10.11.json
    python tools/server_option_table.py --root /var/cache/mysql-cluster-e2e/trixie-<digest> \
        mariadbd components/mysql_cluster/server_option_tables/mariadb-11.8.json

The help lists every option with how it takes its argument (`=#` a number, `=name` text, in
brackets when the argument may be left out, nothing for a switch), its description (enumerations
say "One of: ..." and sets "Any combination of: ..."), and then every variable with its default
(booleans as TRUE/FALSE). A switch without a TRUE/FALSE default takes no value at all.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_OPTION = re.compile(r"^  (?:-\w, )?--([A-Za-z0-9_-]+)(\[?=[#a-z]+\]?)?(?:\s+(.*))?$")
_DESCRIPTION = re.compile(r"^ {20,}(\S.*)$")
_VARIABLES_HEADING = "Variables (--variable-name=value)"
_LIST = re.compile(r"(One of|Any combination of):\s*(.*?)(?:\.(?:\s|$)|$)", re.S)
_ARGUMENT_TYPES = {"=#": "number", "[=#]": "optional-number", "=name": "text",
                   "[=name]": "optional-text"}


def _descriptions(help_text: str) -> dict[str, tuple[str, str]]:
    """Each option's argument marker and description."""
    options: dict[str, tuple[str, str]] = {}
    current = None
    for line in help_text.split(_VARIABLES_HEADING)[0].splitlines():
        match = _OPTION.match(line)
        if match:
            current = match.group(1)
            options[current] = (match.group(2) or "", match.group(3) or "")
            continue
        more = _DESCRIPTION.match(line)
        if more and current:
            marker, text = options[current]
            options[current] = (marker, f"{text} {more.group(1)}".strip())
        else:
            current = None
    return options


def _defaults(help_text: str) -> dict[str, str]:
    """Each variable's value in the table after the options (the server's default)."""
    if _VARIABLES_HEADING not in help_text:
        return {}
    rows = help_text.split(_VARIABLES_HEADING, 1)[1].splitlines()[3:]
    defaults = {}
    for row in rows:
        if not row.strip():
            break
        name, _, value = row.partition(" ")
        defaults[name] = value.strip()
    return defaults


def _listed_values(description: str) -> tuple[str, list[str]]:
    """("enum" or "set", the values) when the description lists them, else ("", [])."""
    match = _LIST.search(description)
    if not match:
        return "", []
    # Each listed value is a word, perhaps followed by what it means in parentheses.
    words = [re.findall(r"^[A-Za-z0-9_.-]*", value.strip())[0]
             for value in re.split(r",\s*", re.sub(r"\([^)]*\)", "", " ".join(match.group(2).split())))]
    values = [word for word in words if word]
    if not values:
        return "", []
    return ("enum" if match.group(1) == "One of" else "set"), values


def option_table(help_text: str) -> dict[str, dict[str, Any]]:
    """The options of a server's help text, by name (words joined by '-')."""
    defaults = _defaults(help_text)
    table: dict[str, dict[str, Any]] = {}
    for name, (marker, description) in _descriptions(help_text).items():
        if not marker:
            kind = "boolean" if defaults.get(name) in ("TRUE", "FALSE") else "flag"
            table[name] = {"type": kind}
            continue
        kind = _ARGUMENT_TYPES[marker]
        listed, values = _listed_values(description)
        if kind in ("text", "optional-text") and listed:
            table[name] = {"type": listed, "values": values, "optional": kind == "optional-text"}
        else:
            table[name] = {"type": kind}
    # Variables that only the table lists are set like options too; their kind follows the value.
    for name, value in defaults.items():
        if name not in table:
            table[name] = {"type": "boolean" if value in ("TRUE", "FALSE") else "optional-text"}
    return dict(sorted(table.items()))


def _one_option_per_line(table: Mapping[str, Any]) -> str:
    """The table as JSON with each option on a line of its own, so that a regenerated table's
    diff shows the options that changed."""
    options = ",\n".join(f"  {json.dumps(name)}: {json.dumps(entry)}"
                         for name, entry in table["options"].items())
    return (f'{{"server": {json.dumps(table["server"])}, '
            f'"generator": {json.dumps(table["generator"])},\n "options": {{\n{options}\n}}}}\n')


def _server_version(help_text: str) -> str:
    match = re.search(r"Ver (\S+)", help_text)
    return match.group(1) if match else "unknown"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="/", help="file system tree the server runs from")
    parser.add_argument("server", help="server command, e.g. mariadbd or mysqld")
    parser.add_argument("out", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)
    command = [args.server, "--no-defaults", "--verbose", "--help"]
    if args.root != "/":
        command = ["chroot", args.root, *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if _VARIABLES_HEADING not in result.stdout:
        print(f"{' '.join(command)} printed no option table (exit {result.returncode}): "
              f"{result.stderr.strip()[:500]}", file=sys.stderr)
        return 1
    table = {"server": _server_version(result.stdout), "generator": "tools/server_option_table.py",
             "options": option_table(result.stdout)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(_one_option_per_line(table))
    print(f"{args.out}: {len(table['options'])} options of {table['server']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
