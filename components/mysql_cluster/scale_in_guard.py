"""Refuses one `pulumi up` that lowers `replicas` below the pod that was the primary.

Pulumi updates the StatefulSet before the switchover Job (the Job waits for every pod, so it
depends on the StatefulSet). A scale-in that removes the primary's pod therefore deletes the
acting primary first, and the Job then fails over to whatever the replicas hold (issue 22,
finding 6). The program sees only the new config, and stack policies only the new resources; so
the StatefulSet carries the primary's ordinal in an annotation of its own metadata (no pod rolls
for it), and a `before_update` hook of the StatefulSet, which receives its previous inputs,
refuses the update before it reaches the API server, in `pulumi preview` too. The user then
moves the primary first, and lowers `replicas` in a second `pulumi up`.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi

from .names import OWN_ANNOTATION_PREFIX
from .settings import BY_KEY, ConfigError

# The StatefulSet's annotation with the ordinal of the primary it was last applied with.
PRIMARY_ANNOTATION = f"{OWN_ANNOTATION_PREFIX}primary-ordinal"


def primary_annotation(primary_ordinal: int) -> dict[str, str]:
    return {PRIMARY_ANNOTATION: str(primary_ordinal)}


def previous_primary(old_inputs: Optional[Mapping[str, Any]]) -> Optional[int]:
    """The primary's ordinal the StatefulSet was last applied with, None if unknown (a
    StatefulSet applied before this annotation existed)."""
    metadata = (old_inputs or {}).get("metadata") or {}
    value = (metadata.get("annotations") or {}).get(PRIMARY_ANNOTATION)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def check_scale_in(replicas: int, primary_ordinal: int,
                   old_inputs: Optional[Mapping[str, Any]]) -> None:
    """Raises ConfigError when `replicas` pods would not include the previous primary's."""
    previous = previous_primary(old_inputs)
    if previous is None or previous < replicas:
        return
    raise ConfigError(
        BY_KEY["replicas"], replicas,
        f"pod {previous} is the primary, and lowering replicas would delete it before the "
        f"switchover Job moves the primary to pod {primary_ordinal} (a failover, losing what "
        f"pod {previous} had not replicated); first apply primaryOrdinal {primary_ordinal} "
        f"with replicas unchanged, then lower replicas")


def scale_in_guard(resource_name: str, replicas: int,
                   primary_ordinal: int) -> pulumi.ResourceOptions:
    """Options for the StatefulSet that refuse its update when `replicas` drops the pod it was
    last applied with as primary."""
    def before_update(args: pulumi.ResourceHookArgs) -> None:
        check_scale_in(replicas, primary_ordinal, args.old_inputs)

    hook = pulumi.ResourceHook(f"{resource_name}-scale-in-guard", before_update,
                               pulumi.ResourceHookOptions(on_dry_run=True))
    return pulumi.ResourceOptions(hooks=pulumi.ResourceHookBinding(before_update=[hook]))
