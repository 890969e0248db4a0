"""Every manifest of every stack, with every supported server, is valid Kubernetes: strictly
(no unknown fields) against the newest schema kubernetes-validate ships and one three minor
versions older; custom resources against the schemas shipped with the tests."""
from __future__ import annotations

import json

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from .conftest import SERVERS, STACKS, server_config
from .test_custom_resources import CERT_MANAGER, CUSTOM_KINDS


def major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


NEWEST = major_minor(kubernetes_validate.latest_version())
OLDER = (NEWEST[0], NEWEST[1] - 3)
VERSIONS = [f"{major}.{minor}" for major, minor in (NEWEST, OLDER)]


def test_both_kubernetes_versions_have_schemas_shipped():
    assert {NEWEST, OLDER} <= {major_minor(version) for version in all_versions()}


def test_stack_files_are_found():
    assert {"dev", "prod"} <= set(STACKS)


def built_in(manifests: list[dict]) -> list[dict]:
    """The manifests of Kubernetes' own kinds: kubernetes-validate ships no schema for custom
    resources, which test_custom_resources.py checks instead."""
    return [manifest for manifest in manifests if manifest["kind"] not in CUSTOM_KINDS]


def distinct_manifests(rendered, stack: str) -> list[dict]:
    """The manifests of `stack` with each supported server, each distinct one once (most do
    not depend on the server)."""
    distinct: dict[str, dict] = {}
    for flavor, version in SERVERS:
        for manifest in built_in(rendered(stack, **server_config(flavor, version))):
            distinct.setdefault(json.dumps(manifest, sort_keys=True), manifest)
    return list(distinct.values())


def schema_problems(manifests: list[dict], kubernetes: str) -> list[str]:
    """What strict validation against `kubernetes`'s schema finds wrong, one line a manifest."""
    problems = []
    for manifest in manifests:
        try:
            validated = kubernetes_validate.validate(manifest, kubernetes, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{manifest['kind']} {manifest['metadata']['name']}: "
                            f"{'.'.join(map(str, error.path))}: {error.message}")
            continue
        # The library falls back to an older schema when it lacks the one asked for.
        assert validated == kubernetes
    return problems


@pytest.mark.parametrize("kubernetes", VERSIONS)
@pytest.mark.parametrize("stack", STACKS)
def test_manifests_of_every_server_validate_strictly(rendered, stack, kubernetes):
    assert schema_problems(distinct_manifests(rendered, stack), kubernetes) == []


# Every key that adds fields to the manifests, set: the fields they add are valid too.
EVERY_FIELD = {
    "serverOptions": '{"max_connections": 500}',
    "nodeSelector": '{"node-pool": "databases"}',
    "tolerations": '[{"key": "dedicated", "operator": "Equal", "value": "db", '
                   '"effect": "NoExecute", "tolerationSeconds": 60}, {"operator": "Exists"}]',
    "priorityClassName": "databases",
    "podLabels": '{"team": "shop"}',
    "podAnnotations": '{"example.com/owner": "shop"}',
    "primaryServiceType": "LoadBalancer",
    "primaryServiceAnnotations": '{"networking.gke.io/load-balancer-type": "Internal"}',
    "readServiceType": "NodePort",
    "readServiceAnnotations": '{"example.com/owner": "shop"}',
    "imagePullSecrets": '["registry-credentials"]',
    "serviceAccountName": "orders-db",
}


@pytest.mark.parametrize("kubernetes", VERSIONS)
def test_manifests_with_every_optional_field_set_validate_strictly(rendered, kubernetes):
    assert schema_problems(built_in(rendered("prod", **EVERY_FIELD)), kubernetes) == []


@pytest.mark.parametrize("kubernetes", VERSIONS)
@pytest.mark.parametrize("stack", STACKS)
def test_manifests_with_a_cert_manager_certificate_validate_strictly(rendered, stack, kubernetes):
    manifests = rendered(stack, **CERT_MANAGER)
    assert "Certificate" in {m["kind"] for m in manifests} - {m["kind"] for m in built_in(manifests)}
    assert schema_problems(built_in(manifests), kubernetes) == []
