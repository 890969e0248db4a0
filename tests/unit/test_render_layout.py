"""The render's YAML reads like `helm template` output: keys in the conventional order, text of
several lines as block scalars, and it loads back to exactly the rendered manifests."""
from __future__ import annotations

import pytest
import yaml

from mysql_cluster.tooling.render import manifests_yaml

from stack_manifests import server_config_map

from .conftest import STACKS, find


@pytest.fixture(scope="module", params=STACKS)
def printed(request, rendered) -> str:
    return manifests_yaml(rendered(request.param))


def test_printed_yaml_loads_back_to_the_rendered_manifests(rendered):
    assert STACKS
    for stack in STACKS:
        assert list(yaml.safe_load_all(manifests_yaml(rendered(stack)))) == rendered(stack)


def test_cnf_files_of_the_configmap_print_as_block_scalars(printed):
    config_map = server_config_map(list(yaml.safe_load_all(printed)))
    assert config_map["data"]
    for name, text in config_map["data"].items():
        assert f"  {name}: |\n    {text.splitlines()[0]}\n" in printed


def test_every_manifest_starts_with_api_version_kind_and_metadata(printed):
    assert {tuple(manifest)[:3] for manifest in yaml.safe_load_all(printed)} == {
        ("apiVersion", "kind", "metadata")}


def test_every_metadata_starts_with_name_then_namespace(printed):
    assert {tuple(manifest["metadata"])[:2] for manifest in yaml.safe_load_all(printed)} == {
        ("name", "namespace")}


def test_every_container_starts_with_its_name_then_image(printed):
    spec = find(list(yaml.safe_load_all(printed)), "StatefulSet")["spec"]["template"]["spec"]
    containers = spec["initContainers"] + spec["containers"]
    assert {tuple(container)[:2] for container in containers} == {("name", "image")}


def test_every_port_volume_mount_and_env_entry_starts_with_its_name(printed):
    spec = find(list(yaml.safe_load_all(printed)), "StatefulSet")["spec"]["template"]["spec"]
    entries = [entry for container in spec["initContainers"] + spec["containers"]
               for field in ("ports", "volumeMounts", "env") for entry in container.get(field, ())]
    entries += spec["volumes"]
    assert {next(iter(entry)) for entry in entries} == {"name"}
