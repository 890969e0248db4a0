"""The custom resources (Prometheus Operator, cert-manager) are valid against their CRD schemas,
as far as tests/unit/crd_schemas ships them, one file per API group and version
(kubernetes-validate knows no custom resources)."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from .conftest import SERVERS, STACKS, find, server_config

SCHEMA_FILES = {path.stem: yaml.safe_load(path.read_text())
                for path in sorted((Path(__file__).parent / "crd_schemas").glob("*.yaml"))}
# Each kind's schema, with the definitions of its file.
SCHEMAS = {kind: {**schema, "definitions": group["definitions"]}
           for group in SCHEMA_FILES.values() for kind, schema in group["kinds"].items()}
CUSTOM_KINDS = tuple(SCHEMAS)
MONITORING_KINDS = tuple(SCHEMA_FILES["monitoring.coreos.com_v1"]["kinds"])
CERT_MANAGER = {"tlsSource": "cert-manager", "tlsIssuer": "cluster-ca",
                "tlsIssuerKind": "ClusterIssuer"}
MONITORED = {"metrics": "true", "serviceMonitor": "true", "prometheusRule": "true",
             "prometheusLabels": '["release=kube-prometheus-stack"]'}


def schema_errors(manifest: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMAS[manifest["kind"]])
    return [f"{manifest['kind']}: {'.'.join(map(str, error.path))}: {error.message}"
            for error in validator.iter_errors(manifest)]


@pytest.mark.parametrize("flavor, version", SERVERS)
@pytest.mark.parametrize("stack", STACKS)
def test_monitoring_resources_of_every_stack_and_server_match_the_crd_schemas(
        rendered, stack, flavor, version):
    manifests = rendered(stack, **server_config(flavor, version), **MONITORED)
    custom = [m for m in manifests if m["kind"] in MONITORING_KINDS]
    assert sorted(m["kind"] for m in custom) == sorted(MONITORING_KINDS)
    assert [error for manifest in custom for error in schema_errors(manifest)] == []


def test_the_schemas_refuse_a_misspelt_field_and_a_bad_duration(rendered):
    rule = copy.deepcopy(find(rendered(**MONITORED), "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "1 minute"
    rule["spec"]["groups"][0]["rules"][0]["expresion"] = "up"
    assert len(schema_errors(rule)) == 2


@pytest.mark.parametrize("stack", STACKS)
def test_the_cert_manager_certificate_of_every_stack_matches_the_crd_schema(rendered, stack):
    certificate = find(rendered(stack, **CERT_MANAGER), "Certificate")
    assert schema_errors(certificate) == []


def test_the_certificate_schema_refuses_a_misspelt_field(rendered):
    certificate = copy.deepcopy(find(rendered(**CERT_MANAGER), "Certificate"))
    certificate["spec"]["dnsName"] = certificate["spec"].pop("dnsNames")
    assert len(schema_errors(certificate)) == 1
