"""The pack as users get it: the project's own stacks pass it, its entry point serves the tested
policies over the analyzer protocol the Pulumi CLI speaks, and the README documents them."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from stack_manifests import STACKS, find
from .conftest import POLICY_DIR
from .policy_args import resource_type, stack_violations
from cluster_policies import POLICIES


@pytest.mark.parametrize("stack", STACKS)
def test_project_stack_passes_every_mandatory_policy(render, stack):
    assert stack_violations(render(stack), stack) == []


@pytest.fixture
def pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack's entry point serving on loopback, as the Pulumi CLI starts it."""
    server = subprocess.Popen([sys.executable, "__main__.py"], cwd=POLICY_DIR,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        server.kill()
        server.wait()


def test_pack_serves_every_policy_mandatory_by_default(pack):
    info = pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert {policy.name: policy.enforcementLevel for policy in info.policies} == {
        policy.name: proto.MANDATORY for policy in POLICIES}


def test_pack_applies_its_config_to_what_the_engine_sends(pack, render):
    statefulset = find(render("dev"), "StatefulSet")
    properties = struct_pb2.Struct()
    properties.update(statefulset)
    pack.Configure(proto.ConfigureAnalyzerRequest(policyConfig={"storage-bounds": proto.PolicyConfig(
        enforcementLevel=proto.ADVISORY, properties=json_format.ParseDict(
            {"maxStorage": "1Gi"}, struct_pb2.Struct()))}))
    response = pack.Analyze(proto.AnalyzeRequest(
        type=resource_type(statefulset), properties=properties, name="mysql",
        urn=f"urn:pulumi:dev::mysql-cluster::{resource_type(statefulset)}::mysql"))
    assert [(d.policyName, d.enforcementLevel, d.message) for d in response.diagnostics] == [
        ("storage-bounds", proto.ADVISORY, "Every volumeClaimTemplate requests storage within the "
         'pack\'s bounds.\nvolumeClaimTemplate "data" requests 2Gi, above the maximum 1Gi')]


def test_readme_documents_every_policy_and_its_settings_defaults():
    readme = (POLICY_DIR / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines()
            if line.startswith("| `")}
    assert sorted(rows) == sorted(policy.name for policy in POLICIES)
    documented = [(policy.name, key, f"`{key}` (`{json.dumps(spec['default'])}`)")
                  for policy in POLICIES if policy.config_schema
                  for key, spec in policy.config_schema.properties.items()]
    assert [(name, key) for name, key, text in documented if text not in rows[name]] == []
