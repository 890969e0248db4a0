"""Kubernetes resource quantities ("500m", "2", "512Mi", "1e9"), read as the API server reads them.

Shared by the component's settings and the policy pack. Imports nothing from Pulumi.
"""
from __future__ import annotations

import re
from decimal import Decimal

# resource.Quantity's syntax: a signed decimal number, then a binary or decimal SI suffix or a
# decimal exponent.
_QUANTITY = re.compile(
    r"([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?"
)
_SUFFIX_FACTORS = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
# The scheduler and the kubelet compare amounts as int64 milli-units (Quantity.MilliValue), which
# a larger amount overflows: it is refused like malformed text.
LARGEST = Decimal(2**63 - 1) / 1000


def quantity_value(text: str) -> Decimal:
    """The amount a quantity stands for, in base units (cores, bytes). ValueError for text that
    is not a quantity, or an amount beyond what Kubernetes can count."""
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    sign, number, exponent, suffix = match.groups()
    # Built from the text, a Decimal is exact whatever its exponent; arithmetic on one of
    # 1e999999999 would overflow, so the size is checked by comparison first.
    amount = Decimal(sign + number + (exponent or ""))
    factor = _SUFFIX_FACTORS[suffix or ""]
    if amount.copy_abs() > LARGEST / factor:
        raise ValueError(f"{text!r} is larger than a Kubernetes quantity can be")
    return amount * factor


def is_positive_quantity(text: str) -> bool:
    try:
        return quantity_value(text) > 0
    except ValueError:
        return False
