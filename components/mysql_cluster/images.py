"""Container image references (registry/repository[:tag][@digest]): split and checked.

Shared by the component's settings and the policy pack. Imports nothing from Pulumi.
"""
from __future__ import annotations

import re
from typing import Optional

# The reference grammar of the distribution project, with sha256 the only digest algorithm.
_IMAGE = re.compile(
    r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?"
)
# algorithm:hex, any registered algorithm.
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}")


def is_image_reference(text: str) -> bool:
    return _IMAGE.fullmatch(text) is not None


def is_digest(text: str) -> bool:
    return _DIGEST.fullmatch(text) is not None


def split_image(image: str) -> tuple[str, Optional[str], Optional[str]]:
    """An image reference's repository, tag and digest (None when absent)."""
    rest, _, digest = image.partition("@")
    # A colon before the last slash belongs to a registry port, not to a tag.
    colon, slash = rest.rfind(":"), rest.rfind("/")
    repository, tag = (rest[:colon], rest[colon + 1:]) if colon > slash else (rest, "")
    return repository, tag or None, digest or None
