"""The arguments the Pulumi engine passes to policies, built from rendered manifests.

The engine sends a resource's properties and a policy's config as protobuf Structs (so every
number arrives as a float); the policy SDK hands the properties to the validators deserialized
and wrapped in its unknown-checking proxies. The helpers here take the same path.
"""
from __future__ import annotations

from typing import Any, Optional

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from cluster_policies import POLICIES

Manifest = dict[str, Any]
PROJECT = "mysql-cluster"
BY_NAME = {policy.name: policy for policy in POLICIES}


def resource_type(manifest: Manifest) -> str:
    """The Pulumi type token of a Kubernetes object: apps/v1 StatefulSet ->
    kubernetes:apps/v1:StatefulSet, v1 Service -> kubernetes:core/v1:Service."""
    group, _, version = manifest["apiVersion"].rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{manifest['kind']}"


def _urn(stack: str, manifest: Manifest) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{resource_type(manifest)}::{manifest['metadata']['name']}"


def _through_struct(value: dict[str, Any]) -> dict[str, Any]:
    struct = struct_pb2.Struct()
    struct.update(value)
    return json_format.MessageToDict(struct)


def _as_engine_sends(manifest: Manifest) -> Any:
    return unknown_checking_proxy(deserialize_properties(_through_struct(manifest)))


def _config(config: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    # The engine sends a policy's config as a Struct too; the SDK only converts it to a dict.
    return None if config is None else _through_struct(config)


_OPTIONS = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None,
                                 aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                 additional_secret_outputs=[])


def resource_args(manifest: Manifest, stack: str = "dev",
                  config: Optional[dict[str, Any]] = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(resource_type(manifest), _as_engine_sends(manifest),
                                  _urn(stack, manifest), manifest["metadata"]["name"], _OPTIONS,
                                  provider=None, config=_config(config))


def stack_args(manifests: list[Manifest], stack: str = "dev",
               config: Optional[dict[str, Any]] = None) -> StackValidationArgs:
    resources = [PolicyResource(resource_type(m), _as_engine_sends(m), _urn(stack, m),
                                m["metadata"]["name"], _OPTIONS, provider=None, parent=None,
                                dependencies=[], property_dependencies={})
                 for m in manifests]
    return StackValidationArgs(resources, _config(config))


def violations(policy_name: str, args: ResourceValidationArgs | StackValidationArgs) -> list[str]:
    """The messages `policy_name` reports for `args`."""
    found: list[str] = []
    BY_NAME[policy_name].validate(args, lambda message, urn=None: found.append(message))
    return found


def stack_violations(manifests: list[Manifest], stack: str) -> list[str]:
    """Every violation of a mandatory policy in a stack made of `manifests`, with defaults."""
    found = []
    for policy in POLICIES:
        if policy.enforcement_level != EnforcementLevel.MANDATORY:
            continue
        if isinstance(policy, ResourceValidationPolicy):
            for manifest in manifests:
                found += [f"{policy.name} on {manifest['kind']} {manifest['metadata']['name']}: "
                          f"{message}"
                          for message in violations(policy.name, resource_args(manifest, stack))]
        else:
            found += [f"{policy.name}: {message}"
                      for message in violations(policy.name, stack_args(manifests, stack))]
    return found
