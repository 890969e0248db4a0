"""Read access to rendered Kubernetes manifests and the kubelet's value resolution.

The input is a list of dicts as ``yaml.safe_load_all`` yields them from the
rendered stack. Anything the harness does not emulate raises ``ManifestError``
instead of being ignored, so a gap shows up as a clear failure.
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml
from stack_manifests import matching

from mysql_cluster.quantities import quantity_value


class ManifestError(Exception):
    """The manifests ask for something missing or not emulated by the harness."""


class RenderedManifests:
    def __init__(self, documents: Iterable[dict | None]):
        # safe_load_all yields None for empty documents (a trailing '---').
        self.objects = [document for document in documents if document]

    @classmethod
    def from_yaml_file(cls, path: Path) -> RenderedManifests:
        with open(path, encoding="utf-8") as stream:
            return cls(yaml.safe_load_all(stream))

    def find(self, kind: str, name: str) -> dict | None:
        return next(iter(matching(self.objects, kind, name)), None)

    def get(self, kind: str, name: str) -> dict:
        obj = self.find(kind, name)
        if obj is None:
            raise ManifestError(f"no {kind} named {name!r} in the rendered manifests")
        return obj

    def only(self, kind: str) -> dict:
        matches = matching(self.objects, kind)
        if len(matches) != 1:
            raise ManifestError(f"expected exactly one {kind}, found {len(matches)}")
        return matches[0]

    def secret_data(self, name: str) -> dict[str, bytes]:
        secret = self.get("Secret", name)
        values = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
        # The API server merges stringData over data when it stores a Secret.
        values.update({key: str(value).encode() for key, value in (secret.get("stringData") or {}).items()})
        return values

    def configmap_data(self, name: str) -> dict[str, bytes]:
        configmap = self.get("ConfigMap", name)
        values = {key: str(value).encode() for key, value in (configmap.get("data") or {}).items()}
        values.update(
            {key: base64.b64decode(value) for key, value in (configmap.get("binaryData") or {}).items()}
        )
        return values


@dataclass(frozen=True)
class PodFacts:
    """What the downward API can tell a container about its pod."""

    name: str
    namespace: str
    ip: str
    node_name: str


_VARIABLE_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_references(text: str, variables: dict[str, str]) -> str:
    """Expand ``$(NAME)`` like the kubelet does in env values, command and args.

    Unknown names stay as written and ``$$`` stands for a literal ``$``.
    """

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return variables.get(match.group(1), match.group(0))

    return _VARIABLE_REFERENCE.sub(replace, text)


def container_environment(
    container: dict, pod_spec: dict, pod: PodFacts, manifests: RenderedManifests
) -> dict[str, str]:
    """The env a container gets from its spec (envFrom first, then env, in order)."""
    variables: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = manifests.configmap_data(source["configMapRef"]["name"])
        elif "secretRef" in source:
            data = manifests.secret_data(source["secretRef"]["name"])
        else:
            raise ManifestError(f"unsupported envFrom entry {source}")
        variables.update({prefix + key: value.decode() for key, value in data.items()})
    for entry in container.get("env") or []:
        if "valueFrom" in entry:
            value = _value_from(entry["valueFrom"], container, pod_spec, pod, manifests)
        else:
            value = expand_references(str(entry.get("value", "")), variables)
        variables[entry["name"]] = value
    return variables


def _value_from(
    source: dict, container: dict, pod_spec: dict, pod: PodFacts, manifests: RenderedManifests
) -> str:
    if "fieldRef" in source:
        field_values = {
            "metadata.name": pod.name,
            "metadata.namespace": pod.namespace,
            "status.podIP": pod.ip,
            "spec.nodeName": pod.node_name,
        }
        path = source["fieldRef"]["fieldPath"]
        if path not in field_values:
            raise ManifestError(f"fieldRef {path!r} is not emulated")
        return field_values[path]
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return manifests.secret_data(ref["name"])[ref["key"]].decode()
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return manifests.configmap_data(ref["name"])[ref["key"]].decode()
    if "resourceFieldRef" in source:
        return _resource_field(source["resourceFieldRef"], container, pod_spec)
    raise ManifestError(f"unsupported valueFrom {source}")


def parse_quantity(text: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("512Mi", "250m", "2") as a number, read as the component
    reads it."""
    try:
        return quantity_value(str(text).strip())
    except ValueError as error:
        raise ManifestError(f"cannot parse resource quantity {text!r}: {error}") from None


def _node_capacity(resource: str) -> Decimal:
    if resource == "cpu":
        return Decimal(os.cpu_count() or 1)
    if resource == "memory":
        return Decimal(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    raise ManifestError(f"resourceFieldRef for {resource!r} is not emulated")


def _resource_field(ref: dict, container: dict, pod_spec: dict) -> str:
    """Downward API resource value: limits fall back to the node's capacity like the kubelet."""
    if "containerName" in ref:
        container = next(
            c for c in pod_spec.get("containers", []) + pod_spec.get("initContainers", [])
            if c["name"] == ref["containerName"]
        )
    bound, _, resource = ref["resource"].partition(".")
    resources = container.get("resources") or {}
    limit = (resources.get("limits") or {}).get(resource)
    request = (resources.get("requests") or {}).get(resource)
    if bound == "limits":
        amount = parse_quantity(limit) if limit is not None else _node_capacity(resource)
    elif bound == "requests":
        chosen = request if request is not None else limit
        amount = parse_quantity(chosen) if chosen is not None else Decimal(0)
    else:
        raise ManifestError(f"unsupported resourceFieldRef {ref}")
    divisor = parse_quantity(ref.get("divisor", "1"))
    return str(math.ceil(amount / divisor))
