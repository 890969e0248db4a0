"""Where the pods may run: node selector, tolerations of node taints, and priority class."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from pulumi_kubernetes.core import v1 as core

from .kubernetes_metadata import is_label_value, is_qualified_name

if TYPE_CHECKING:  # settings.py imports this module
    from .settings import ClusterSettings

_OPERATORS = ("Equal", "Exists")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")
_EXAMPLE = '[{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]'


def _toleration(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(item, f"give each toleration as a map, e.g. {_EXAMPLE}")
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        raise ValueError(item, f"a toleration has the fields {', '.join(_FIELDS)}; remove "
                         + ", ".join(map(str, unknown)))
    toleration = {"operator": "Equal", **item}
    key, operator = toleration.get("key", ""), toleration["operator"]
    if key and not is_qualified_name(key):
        raise ValueError(item, "use a taint key like 'dedicated' or 'example.com/dedicated'")
    if operator not in _OPERATORS:
        raise ValueError(item, "use the operator Equal or Exists")
    if not key and operator != "Exists":
        raise ValueError(item, "without a key, use the operator Exists (it tolerates every taint)")
    if operator == "Exists" and toleration.get("value"):
        raise ValueError(item, "the operator Exists matches any value; remove the value")
    if not is_label_value(toleration.get("value", "")):
        raise ValueError(item, "use a taint value of at most 63 letters, digits, '-', '_' or '.'")
    if toleration.get("effect", "") not in ("", *_EFFECTS):
        raise ValueError(item, "use the effect NoSchedule, PreferNoSchedule or NoExecute, or "
                         "leave it out to match every effect")
    if "tolerationSeconds" in toleration:
        seconds = toleration["tolerationSeconds"]
        if isinstance(seconds, float) and seconds.is_integer():
            seconds = toleration["tolerationSeconds"] = int(seconds)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValueError(item, "use a whole number of seconds, 0 or more, for "
                             "tolerationSeconds")
        if toleration.get("effect") != "NoExecute":
            raise ValueError(item, "tolerationSeconds only applies to the effect NoExecute")
    return toleration


def tolerations(value: Any) -> list[dict[str, Any]]:
    """Taints the pods tolerate, each a map of toleration fields; raises ValueError(shown, fix)."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(value, f"use a list of tolerations, e.g. {_EXAMPLE}")
    return [_toleration(item) for item in value]


def toleration_args(settings: ClusterSettings) -> Optional[list[core.TolerationArgs]]:
    return [core.TolerationArgs(key=toleration.get("key"), operator=toleration["operator"],
                                value=toleration.get("value"), effect=toleration.get("effect"),
                                toleration_seconds=toleration.get("tolerationSeconds"))
            for toleration in settings.tolerations] or None
