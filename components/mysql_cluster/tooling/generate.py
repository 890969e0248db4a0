"""The files written from SETTINGS: Pulumi.yaml's config block, the README's configuration table,
MySQLClusterArgs (args.py), whose annotations and docstrings are the multi-language schema, and the
type checker's view of ClusterSettings (cluster_settings.py).

    python -m mysql_cluster.tooling.generate [--check] [--project-dir DIR]

Rewrites all four; with --check it writes nothing and exits 1, printing a diff for every file
whose committed copy differs from what it would write.
"""
from __future__ import annotations

import argparse
import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..settings import SETTINGS, Setting, value_type

COMMAND = "python -m mysql_cluster.tooling.generate"
SOURCE = "components/mysql_cluster/settings.py"

_ANNOTATIONS = {"string": "str", "integer": "int", "boolean": "bool",
                "object": "Mapping[str, pulumi.Input[str]]"}
_ITEM_ANNOTATIONS = {"string": "str", "object": "Mapping[str, Any]"}


def _annotation(setting: Setting) -> str:
    if setting.type == "array":
        return f"Sequence[pulumi.Input[{_ITEM_ANNOTATIONS[setting.items]}]]"
    return _ANNOTATIONS[setting.type]


def _yaml_items(setting: Setting) -> list[str]:
    return ["    items:", f"      type: {setting.items}"] if setting.type == "array" else []


def _shown_default(setting: Setting) -> str:
    """The default as the reference shows it: JSON, as a stack file would give it."""
    return "(generated)" if setting.secret else f"`{json.dumps(setting.default)}`"


def documentation(setting: Setting) -> str:
    """The description of the setting's input in the multi-language schema."""
    if setting.secret:
        return setting.description  # which says that it is generated when unset
    return f"{setting.description} Default: {_shown_default(setting)}."


def _python_string(text: str) -> str:
    # The analyzer takes a docstring's value as it is: one line, no indentation to strip.
    if '"""' in text or text.endswith('"') or "\\" in text:
        return repr(text)
    return f'"""{text}"""'


def args_module(_current: str) -> str:
    fields = "".join(f"    {s.arg}: pulumi.Input[{_annotation(s)}]\n"
                     f"    {_python_string(documentation(s))}\n"
                     for s in SETTINGS if s.arg != "name")
    return f'''# Generated from {SOURCE} by `{COMMAND}`;
# do not edit.
"""MySQLClusterArgs: the inputs of a MySQLCluster.

No `from __future__ import annotations` here: Pulumi's component analyzer evaluates these
annotations, and reads the docstrings from this source, to infer the multi-language schema.
"""
from typing import Any, Mapping, Sequence, TypedDict

import pulumi


class MySQLClusterArgs(TypedDict, total=False):
    """Inputs of a MySQLCluster. Every field is optional. Fields that shape resources must be plain
    values; passwords may be Outputs (secrets)."""

{fields}'''


def cluster_settings_module(_current: str) -> str:
    fields = "".join(f"    {s.arg}: {value_type(s)}\n" for s in SETTINGS)
    return f'''# Generated from {SOURCE} by `{COMMAND}`;
# do not edit.
"""ClusterSettings as a type checker sees it.

settings.py makes the class at run time from SETTINGS (one attribute per row), which a type checker
cannot follow; it imports this declaration instead, and
`{COMMAND} --check` keeps the two equal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi


@dataclass(frozen=True)
class ClusterSettings:
    """Every setting of a cluster, validated, with defaults filled in."""

{fields}'''


def _config_block() -> list[str]:
    lines = ["config:"]
    for s in SETTINGS:
        if s.secret:
            continue  # so that no default or plain value of a password can be written there
        lines += [f"  {s.key}:", f"    type: {s.type}", *_yaml_items(s),
                  f"    default: {json.dumps(s.default)}",
                  f"    description: {json.dumps(s.description)}"]
    return lines


def _reference_table() -> list[str]:
    lines = ["| Key | Argument | Type | Default | Description |", "| --- | --- | --- | --- | --- |"]
    for s in SETTINGS:
        argument = "resource name" if s.arg == "name" else f"`{s.arg}`"
        kind = f"{s.type} (secret)" if s.secret else s.type
        lines.append(f"| `{s.key}` | {argument} | {kind} | {_shown_default(s)} | {s.description} |")
    return lines


def _between_markers(current: str, start: str, end: str, generated: list[str]) -> str:
    """`current` with the lines between the marker lines `start` and `end` replaced."""
    lines = current.splitlines()
    try:
        first = lines.index(start)
        last = lines.index(end, first)
    except ValueError:
        raise GenerateError(f"the lines {start!r} and {end!r} must mark where the generated "
                            "part goes") from None
    return "\n".join(lines[:first + 1] + generated + lines[last:]) + "\n"


def pulumi_yaml(current: str) -> str:
    return _between_markers(current, "# settings-config:start", "# settings-config:end",
                            _config_block())


def readme(current: str) -> str:
    return _between_markers(current, "<!-- settings-table:start -->",
                            "<!-- settings-table:end -->", _reference_table())


class GenerateError(Exception):
    """A file cannot take its generated part; the message says why."""


@dataclass(frozen=True)
class GeneratedFile:
    path: str  # relative to the project directory
    generate: Callable[[str], str]  # the file's text as it should be, from its current text


GENERATED_FILES = (
    GeneratedFile("Pulumi.yaml", pulumi_yaml),
    GeneratedFile("README.md", readme),
    GeneratedFile("components/mysql_cluster/args.py", args_module),
    GeneratedFile("components/mysql_cluster/cluster_settings.py", cluster_settings_module),
)


def _texts(project_dir: Path, generated: GeneratedFile) -> tuple[str, str]:
    """The file as committed ("" if missing) and as it should be."""
    path = project_dir / generated.path
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        return current, generated.generate(current)
    except GenerateError as error:
        raise GenerateError(f"{generated.path}: {error}") from None


def stale_diff(project_dir: Path, generated: GeneratedFile) -> str:
    """A diff from the committed copy of the file to what it should be; "" when they agree."""
    current, expected = _texts(project_dir, generated)
    return "".join(difflib.unified_diff(current.splitlines(keepends=True),
                                        expected.splitlines(keepends=True),
                                        f"{generated.path} (committed)",
                                        f"{generated.path} (generated)"))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff if a file is out of date")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(),
                        help="directory of Pulumi.yaml (default: the current directory)")
    args = parser.parse_args(argv)
    stale = False
    try:
        for generated in GENERATED_FILES:
            if args.check:
                diff = stale_diff(args.project_dir, generated)
                sys.stdout.write(diff)
                stale = stale or bool(diff)
                continue
            current, expected = _texts(args.project_dir, generated)
            if current != expected:
                (args.project_dir / generated.path).write_text(expected, encoding="utf-8")
                print(f"wrote {generated.path}", file=sys.stderr)
    except GenerateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if stale:
        print(f"out of date: run `{COMMAND}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
