"""Growing the data volumes without an outage.

Kubernetes refuses any change to a StatefulSet's volume claim templates, so Pulumi would replace the
StatefulSet for a new `storageSize`: every pod deleted at once. Instead the StatefulSet ignores its
template after creation, and the component applies each pod's claim itself, `data-<name>-<n>`,
with a server-side apply patch: it grows a claim that exists (where the StorageClass allows
expansion) and creates, at the current size, one a new replica will use. A smaller size is refused
by the API server, also in the server-side dry run of `pulumi preview`: the program cannot read the
live size, so that refusal is the check.
"""
from __future__ import annotations

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from .names import ClusterNames
from .settings import ClusterSettings, optional_text

# Fixed once the StatefulSet exists; the claims carry the size from then on. The path is the
# Kubernetes field's, as pulumi-kubernetes compares inputs.
STATEFULSET_IGNORED_CHANGES = ["spec.volumeClaimTemplates"]
ACCESS_MODES = ["ReadWriteOnce"]


def data_claim_patches(name: str, names: ClusterNames, settings: ClusterSettings,
                       parent: pulumi.Resource) -> list[core.PersistentVolumeClaimPatch]:
    """One patch per pod's claim, with the configured size and class."""
    return [
        core.PersistentVolumeClaimPatch(
            f"{name}-data-{ordinal}",
            metadata=meta.ObjectMetaPatchArgs(
                name=names.data_claim(ordinal), namespace=names.namespace, labels=names.labels,
                # The StatefulSet controller created the claims it made, and so owns their size.
                annotations={"pulumi.com/patchForce": "true"}),
            spec=core.PersistentVolumeClaimSpecPatchArgs(
                access_modes=ACCESS_MODES,
                storage_class_name=optional_text(settings.storage_class),
                resources=core.VolumeResourceRequirementsPatchArgs(
                    requests={"storage": settings.storage_size})),
            # Deleting a patch would take the size off the claim, which the API refuses; a claim
            # goes with its pod (scale-in) or stays (the cluster is deleted), as the StatefulSet's
            # retention policy says.
            opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
        )
        for ordinal in range(settings.replicas)
    ]
