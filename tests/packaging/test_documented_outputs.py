"""The outputs docs/reuse.md and the README name are the ones the component and the stack have."""
from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pulumi

from mysql_cluster import MySQLCluster

PROJECT_DIR = Path(__file__).resolve().parents[2]
REUSE = (PROJECT_DIR / "docs" / "reuse.md").read_text(encoding="utf-8")
README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")

# The component's outputs, by their Python names (the class annotates each as an Output).
PYTHON_OUTPUTS = {name for name, annotation in MySQLCluster.__annotations__.items()
                  if typing.get_origin(annotation) is pulumi.Output}


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _stack_exports() -> set[str]:
    program = ast.parse((PROJECT_DIR / "__main__.py").read_text(encoding="utf-8"))
    return {call.args[0].value for call in ast.walk(program)
            if isinstance(call, ast.Call) and ast.unparse(call.func) == "pulumi.export"}


def _names(text: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", text))


def _passage(text: str, start: str, end: str) -> str:
    """The text from `start` up to the next `end` (both regular expressions)."""
    match = re.search(f"{start}(.*?){end}", text, flags=re.DOTALL)
    assert match, f"the docs no longer say {start!r}: update this test with them"
    return match.group(1)


def test_reuse_lists_every_python_output_of_the_component_by_its_attribute_name():
    assert _names(_passage(REUSE, r"\n- Outputs: ", r"\.\n")) == PYTHON_OUTPUTS


def test_reuse_names_outputs_of_other_languages_as_the_schema_does():
    documented = _names(_passage(REUSE, "outputs like ", r"\. "))
    assert documented <= {_camel_case(name) for name in PYTHON_OUTPUTS}


def test_reuse_table_of_stack_outputs_lists_what_the_stack_exports():
    table = _passage(REUSE, "## From another stack's outputs", r"\n\n\[")
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    assert _names("".join(rows)) == _stack_exports()


def test_readme_lists_what_the_stack_exports():
    assert _names(_passage(README, "The stack exports ", r"\n\(")) == _stack_exports()


def test_the_stack_exports_every_output_of_the_component_in_camel_case():
    assert _stack_exports() == {_camel_case(name) for name in PYTHON_OUTPUTS}
