"""The Prometheus Operator resources are valid against the operator's CRD schemas, as far as
tests/unit/crd_schemas ships them (kubernetes-validate knows no custom resources)."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from .conftest import SERVERS, STACKS, find, server_config

SCHEMAS = yaml.safe_load(
    (Path(__file__).parent / "crd_schemas" / "monitoring.coreos.com_v1.yaml").read_text())
CUSTOM_KINDS = tuple(SCHEMAS["kinds"])
MONITORED = {"metrics": "true", "serviceMonitor": "true", "prometheusRule": "true",
             "prometheusLabels": '["release=kube-prometheus-stack"]'}


def schema_errors(manifest: dict) -> list[str]:
    schema = {**SCHEMAS["kinds"][manifest["kind"]], "definitions": SCHEMAS["definitions"]}
    validator = jsonschema.Draft7Validator(schema)
    return [f"{manifest['kind']}: {'.'.join(map(str, error.path))}: {error.message}"
            for error in validator.iter_errors(manifest)]


@pytest.mark.parametrize("flavor, version", SERVERS)
@pytest.mark.parametrize("stack", STACKS)
def test_monitoring_resources_of_every_stack_and_server_match_the_crd_schemas(
        rendered, stack, flavor, version):
    manifests = rendered(stack, **server_config(flavor, version), **MONITORED)
    custom = [m for m in manifests if m["kind"] in CUSTOM_KINDS]
    assert sorted(m["kind"] for m in custom) == sorted(CUSTOM_KINDS)
    assert [error for manifest in custom for error in schema_errors(manifest)] == []


def test_the_schemas_refuse_a_misspelt_field_and_a_bad_duration(rendered):
    rule = copy.deepcopy(find(rendered(**MONITORED), "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "1 minute"
    rule["spec"]["groups"][0]["rules"][0]["expresion"] = "up"
    assert len(schema_errors(rule)) == 2
