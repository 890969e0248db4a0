"""Every manifest of every stack, with every supported server, is valid Kubernetes: strictly
(no unknown fields) against the newest schema kubernetes-validate ships and one three minor
versions older; custom resources against the schemas shipped with the tests."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from .conftest import SERVERS, STACKS, find, server_config


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


def distinct_manifests(rendered, stack: str) -> list[dict]:
    """The manifests of `stack` with each supported server, each distinct one once (most do
    not depend on the server)."""
    distinct: dict[str, dict] = {}
    for flavor, version in SERVERS:
        for manifest in rendered(stack, **server_config(flavor, version)):
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
    assert schema_problems(rendered("prod", **EVERY_FIELD), kubernetes) == []


# Custom resources are checked against the schemas shipped in crd_schemas/ (kubernetes-validate
# knows only built-in kinds), named <group>_<version>_<Kind>.yaml.
CRD_SCHEMAS = Path(__file__).parent / "crd_schemas"
CERT_MANAGER = {"tlsSource": "cert-manager", "tlsIssuer": "cluster-ca",
                "tlsIssuerKind": "ClusterIssuer"}


def crd_schema_path(manifest: dict) -> Path:
    return CRD_SCHEMAS / f"{manifest['apiVersion'].replace('/', '_')}_{manifest['kind']}.yaml"


def crd_problems(manifest: dict) -> list[str]:
    schema = yaml.safe_load(crd_schema_path(manifest).read_text(encoding="utf-8"))
    return [f"{manifest['kind']} {manifest['metadata']['name']}: "
            f"{'.'.join(map(str, error.path))}: {error.message}"
            for error in jsonschema.Draft202012Validator(schema).iter_errors(manifest)]


@pytest.mark.parametrize("kubernetes", VERSIONS)
@pytest.mark.parametrize("stack", STACKS)
def test_manifests_with_a_cert_manager_certificate_validate_strictly(rendered, stack, kubernetes):
    manifests = rendered(stack, **CERT_MANAGER)
    custom = [manifest for manifest in manifests if crd_schema_path(manifest).exists()]
    built_in = [manifest for manifest in manifests if manifest not in custom]
    assert [m["kind"] for m in custom] == ["Certificate"]
    assert [problem for manifest in custom for problem in crd_problems(manifest)] == []
    assert schema_problems(built_in, kubernetes) == []


def test_the_certificate_schema_refuses_a_misspelt_field(rendered):
    certificate = find(rendered(**CERT_MANAGER), "Certificate")
    certificate["spec"]["dnsName"] = certificate["spec"].pop("dnsNames")
    assert crd_problems(certificate) != []
