"""MySQLCluster as a multi-language package: the plugin in provider/ (what `pulumi package add`
runs) serves the schema the Pulumi SDK infers from the component's annotations, and builds
clusters from inputs as programs in other languages send them."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from mysql_cluster.tooling.generate import documentation
from mysql_cluster.tooling.mock_runtime import run_program
from mysql_cluster.settings import SETTINGS

PROJECT_DIR = Path(__file__).resolve().parents[2]
PLUGIN_DIR = PROJECT_DIR / "provider"
TYPE_TOKEN = "mysql-cluster:index:MySQLCluster"

@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    # The language host runs `python <plugin dir> <engine address>`; the engine is only dialled
    # to construct resources, so the schema is served without one.
    plugin = subprocess.Popen([sys.executable, str(PLUGIN_DIR), "127.0.0.1:1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = plugin.stdout.readline().strip()
        assert port, "the plugin exited before it served (see its traceback above)"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            response = provider_pb2_grpc.ResourceProviderStub(channel).GetSchema(
                provider_pb2.GetSchemaRequest(version=0), timeout=60)
        return json.loads(response.schema)
    finally:
        plugin.terminate()
        plugin.wait(timeout=30)


def test_the_plugin_serves_mysql_cluster_as_a_component_of_the_installed_version(schema):
    assert schema["name"] == "mysql-cluster"
    assert schema["version"] == metadata.version("mysql-cluster")
    assert list(schema["resources"]) == [TYPE_TOKEN]
    assert schema["resources"][TYPE_TOKEN]["isComponent"] is True


def test_every_setting_but_the_cluster_name_is_an_optional_input_named_as_its_config_key(schema):
    component = schema["resources"][TYPE_TOKEN]
    inputs = {key: spec["type"] for key, spec in component["inputProperties"].items()}
    assert inputs == {s.key: s.type for s in SETTINGS if s.arg != "name"}
    assert component["inputProperties"]["allowedClientNamespaces"]["items"]["type"] == "string"
    assert not component.get("requiredInputs")


def test_every_input_is_described_by_its_settings_description_and_default(schema):
    inputs = schema["resources"][TYPE_TOKEN]["inputProperties"]
    assert {key: spec.get("description") for key, spec in inputs.items()} == \
        {s.key: documentation(s) for s in SETTINGS if s.arg != "name"}


def test_the_outputs_are_the_names_and_hosts_that_clients_need(schema):
    component = schema["resources"][TYPE_TOKEN]
    outputs = {key: spec["type"] for key, spec in component["properties"].items()}
    assert outputs == {
        "primaryHost": "string", "readHost": "string", "port": "integer", "namespace": "string",
        "statefulSetName": "string", "headlessServiceName": "string",
        "readServiceName": "string", "primaryServiceName": "string",
        "credentialsSecretName": "string",
    }
    assert sorted(component["required"]) == sorted(outputs)


def test_a_cluster_declared_in_another_language_is_built_from_its_wire_form_inputs():
    resources = run_program(PROJECT_DIR / "tests" / "packaging" / "plugin_construct_program.py",
                            "shop", "test", {})
    statefulset = next(r.inputs for r in resources if r.type == "kubernetes:apps/v1:StatefulSet")
    assert statefulset["metadata"]["namespace"] == "shop"
    assert statefulset["spec"]["replicas"] == 2
    env = {var["name"]: var.get("value")
           for var in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MAX_REPLICATION_LAG_SECONDS"] == "10"
