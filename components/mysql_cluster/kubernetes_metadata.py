"""Labels and annotations a user adds to the cluster's objects: well-formed keys and values, and
none that would replace the cluster's own."""
from __future__ import annotations

import re
from typing import Any

# A qualified name: an optional DNS subdomain prefix and '/', then a name of at most 63 characters.
_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_PREFIX = 253
# What Kubernetes accepts for all annotations of one object together.
MAX_ANNOTATIONS_BYTES = 256 * 1024

_KEY_RULE = ("use keys like 'team' or 'example.com/team': a DNS subdomain prefix and '/' if "
             "any, then at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
             "letter or digit")


def is_qualified_name(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if "/" in key and not (_PREFIX.fullmatch(prefix) and len(prefix) <= MAX_PREFIX):
        return False
    return bool(_NAME.fullmatch(name))


def is_label_value(value: Any) -> bool:
    return isinstance(value, str) and (value == "" or bool(_NAME.fullmatch(value)))


def _checked_keys(value: Any, what: str, reserved: tuple[str, ...]) -> dict[str, Any]:
    """`value` as a map with well-formed keys, none of them `reserved` (an entry ending in '/'
    reserves every key with that prefix)."""
    if not isinstance(value, dict):
        raise ValueError(value, f'use a map of {what}, e.g. {{"team": "orders"}}')
    for key in value:
        if not is_qualified_name(key):
            raise ValueError(key, _KEY_RULE)
        if key in reserved or key.startswith(tuple(r for r in reserved if r.endswith("/"))):
            raise ValueError(key, "the cluster sets this itself (its selectors and rollouts rely "
                             "on it); choose another key")
    return dict(value)


def label_map(value: Any, reserved: tuple[str, ...] = ()) -> dict[str, str]:
    """A map of label keys to label values; raises ValueError(what to show, what to do)."""
    checked = _checked_keys(value, "label to value", reserved)
    for key, label_value in checked.items():
        if not is_label_value(label_value):
            raise ValueError({key: label_value}, "use label values of at most 63 letters, digits, "
                             "'-', '_' or '.', starting and ending with a letter or digit, or \"\"")
    return checked


def annotation_map(value: Any, reserved: tuple[str, ...] = ()) -> dict[str, str]:
    """A map of annotation keys to text; raises ValueError(what to show, what to do)."""
    checked = _checked_keys(value, "annotation to text", reserved)
    for key, text in checked.items():
        if not isinstance(text, str):
            raise ValueError({key: text}, "give annotation values as text (quote numbers and "
                             "booleans)")
    if sum(len(key) + len(text.encode()) for key, text in checked.items()) > MAX_ANNOTATIONS_BYTES:
        raise ValueError(f"{len(checked)} annotations", "keep the annotations of an object under "
                         "256 KiB together, as Kubernetes requires")
    return checked
