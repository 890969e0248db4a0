"""Offline render: the Kubernetes manifests a stack would deploy, without a cluster or Pulumi CLI.

    python -m mysql_cluster.tooling.render --stack dev [--config KEY=VALUE ...] [--out DIR]

Runs the project's real `__main__.py` under the Pulumi SDK's mock runtime with the stack's
config (Pulumi.yaml defaults, then Pulumi.<stack>.yaml, then --config) and prints every
Kubernetes resource as multi-document YAML, like `helm template`. Values stored encrypted in the
stack file (`secure:`) cannot be decrypted here and appear as a placeholder; Secret values are
redacted.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml

from .mock_runtime import RecordedResource, run_program

REDACTED = "<redacted>"
SECURE_PLACEHOLDER = "<secure-value-from-stack-file>"


class RenderError(Exception):
    """The project or stack cannot be rendered; the message says why."""


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise RenderError(f"{path} does not exist") from None
    except yaml.YAMLError as error:
        raise RenderError(f"{path} is not valid YAML: {error}") from None


def _config_string(value: Any) -> str:
    """Config values reach a program as strings: scalars as text, lists and maps as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def stack_config(project_dir: Path, stack: str,
                 overrides: Optional[dict[str, str]] = None) -> tuple[str, dict[str, str], list[str]]:
    """The project name, the config a deployment of `stack` would see, and its secret keys."""
    project = _load_yaml(project_dir / "Pulumi.yaml")
    name = project.get("name")
    if not name:
        raise RenderError(f"{project_dir / 'Pulumi.yaml'} has no project name")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, declaration in (project.get("config") or {}).items():
        if isinstance(declaration, dict) and "default" in declaration:
            config[f"{name}:{key}"] = _config_string(declaration["default"])
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    for key, value in (_load_yaml(stack_file).get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        if isinstance(value, dict) and "secure" in value:
            value = SECURE_PLACEHOLDER
            secret_keys.append(full_key)
        config[full_key] = _config_string(value)
    for key, value in (overrides or {}).items():
        config[f"{name}:{key}"] = value
    return name, config, secret_keys


def _as_manifest(resource: RecordedResource, reveal_secrets: bool) -> dict[str, Any]:
    manifest = _integral(resource.inputs)
    if manifest.get("kind") == "Secret" and not reveal_secrets:
        for field in ("stringData", "data"):
            if field in manifest:
                manifest[field] = dict.fromkeys(manifest[field], REDACTED)
    ordered: dict[str, Any] = _in_conventional_order(manifest, _MANIFEST_KEYS)
    return ordered


# The keys that lead, in the order `helm template` and Kubernetes' own examples print them; the
# others follow alphabetically, so the text does not depend on the order the SDK passes keys in.
_MANIFEST_KEYS = ("apiVersion", "kind", "metadata", "spec", "data", "stringData", "type")
_METADATA_KEYS = ("name", "namespace", "labels", "annotations")
# Containers, ports, volumes, volume mounts and env entries: name first.
_NESTED_KEYS = ("name", "image", "command", "args", "env")


def _in_conventional_order(value: Any, leading: tuple[str, ...] = _NESTED_KEYS) -> Any:
    if isinstance(value, list):
        return [_in_conventional_order(item) for item in value]
    if not isinstance(value, dict):
        return value
    keys = [key for key in leading if key in value]
    keys += sorted(key for key in value if key not in leading)
    return {key: _in_conventional_order(value[key],
                                        _METADATA_KEYS if key == "metadata" else _NESTED_KEYS)
            for key in keys}


def _integral(value: Any) -> Any:
    """The mock runtime hands numbers over as floats; Kubernetes wants integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


# Dependencies first, as `kubectl apply` and `helm template` would order them.
_KIND_ORDER = ["Namespace", "Secret", "ConfigMap", "Service", "StatefulSet",
               "PodDisruptionBudget", "NetworkPolicy"]


def _apply_order(manifest: dict[str, Any]) -> tuple[int, str, str, str]:
    kind = manifest.get("kind", "")
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    metadata = manifest.get("metadata", {})
    return rank, kind, metadata.get("namespace", ""), metadata.get("name", "")


def render_stack(project_dir: Path, stack: str, overrides: Optional[dict[str, str]] = None,
                 reveal_secrets: bool = False) -> list[dict[str, Any]]:
    """The Kubernetes manifests of `stack`, in a stable order (by kind, then name)."""
    project, config, secret_keys = stack_config(project_dir, stack, overrides)
    resources = run_program(project_dir / "__main__.py", project, stack, config, secret_keys)
    manifests = [_as_manifest(r, reveal_secrets) for r in resources
                 if r.type.startswith("kubernetes:")]
    return sorted(manifests, key=_apply_order)


class _ManifestDumper(yaml.SafeDumper):
    """Prints text of several lines (scripts, .cnf files) as a block scalar, as written."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        # PyYAML falls back to a quoted scalar where a block cannot hold the text exactly.
        return self.represent_scalar("tag:yaml.org,2002:str", data,
                                     style="|" if "\n" in data else None)


_ManifestDumper.add_representer(str, _ManifestDumper.represent_str)


def manifests_yaml(manifests: list[dict[str, Any]]) -> str:
    return yaml.dump_all(manifests, Dumper=_ManifestDumper, sort_keys=False,
                         default_flow_style=False, width=100)


def _file_name(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def _parse_override(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.split(":", 1)[-1], value


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mysql_cluster.tooling.render",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--config", action="append", default=[], type=_parse_override,
                        metavar="KEY=VALUE", help="override a config key for this run")
    parser.add_argument("--out", type=Path, help="write one file per resource into this directory")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(),
                        help="directory of Pulumi.yaml (default: the current directory)")
    args = parser.parse_args(argv)
    try:
        manifests = render_stack(args.project_dir, args.stack, dict(args.config))
    except (pulumi.RunError, RenderError) as error:
        # Invalid config (ConfigError is a RunError) is the user's to fix: one line, no traceback.
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for manifest in manifests:
            (args.out / _file_name(manifest)).write_text(manifests_yaml([manifest]), encoding="utf-8")
        print(f"wrote {len(manifests)} manifests to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(manifests_yaml(manifests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
