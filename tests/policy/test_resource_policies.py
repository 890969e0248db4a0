"""Each resource policy of the pack: a rendered resource that passes and changed ones that violate
it, with the message the user sees."""
from __future__ import annotations

import pytest

from stack_manifests import container, find
from .policy_args import resource_args, violations

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture
def statefulset(render):
    """The dev stack's StatefulSet, a fresh copy for each test to change."""
    return find(render("dev"), "StatefulSet")


def as_kind(statefulset: dict, kind: str) -> dict:
    """The StatefulSet's pod as another workload kind would carry it."""
    template = statefulset["spec"]["template"]
    specs = {
        "Pod": {"apiVersion": "v1", "spec": template["spec"]},
        "Deployment": {"apiVersion": "apps/v1", "spec": {"template": template}},
        "CronJob": {"apiVersion": "batch/v1", "spec": {"schedule": "@daily", "jobTemplate": {
            "spec": {"template": template}}}},
    }
    return {"kind": kind, "metadata": {"name": "other"}, **specs[kind]}


def test_rendered_images_are_pinned(statefulset):
    assert violations("image-pinned", resource_args(statefulset)) == []


@pytest.mark.parametrize("image", [f"mysql@{DIGEST}", f"registry.example:5000/db/mysql:8.4@{DIGEST}",
                                   "registry.example:5000/mysql:8.4.6"])
def test_images_pinned_by_digest_or_behind_a_registry_port_pass(statefulset, image):
    container(statefulset, "mysql")["image"] = image
    assert violations("image-pinned", resource_args(statefulset)) == []


@pytest.mark.parametrize("image, problem", [
    ("mysql", "has neither a tag nor a digest"),
    ("registry.example:5000/mysql", "has neither a tag nor a digest"),
    ("mysql:latest", "uses the tag latest, which moves with every release"),
    ("mysql@sha256:abc", "has a malformed digest 'sha256:abc'"),
    (f"mysql@{DIGEST}\n", f"has a malformed digest {DIGEST + chr(10)!r}"),
])
def test_unpinned_image_is_a_violation(statefulset, image, problem):
    container(statefulset, "mysql")["image"] = image
    assert violations("image-pinned", resource_args(statefulset)) == [
        f'container "mysql": image "{image}" {problem}; pin it to a release tag or a digest']


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "CronJob"])
def test_container_rules_read_the_pods_of_every_workload_kind(statefulset, kind):
    container(statefulset, "agent")["image"] = "mariadb:latest"
    assert violations("image-pinned", resource_args(as_kind(statefulset, kind))) == [
        'container "agent": image "mariadb:latest" uses the tag latest, which moves with every '
        "release; pin it to a release tag or a digest"]


def test_rendered_containers_request_cpu_and_memory_and_limit_memory(statefulset):
    assert violations("container-resources", resource_args(statefulset)) == []


def test_container_without_cpu_request_or_memory_limit_is_a_violation(statefulset):
    resources = container(statefulset, "init-mysql")["resources"]
    del resources["requests"]["cpu"]
    del resources["limits"]["memory"]
    assert violations("container-resources", resource_args(statefulset)) == [
        'container "init-mysql" sets no resources requests.cpu, limits.memory']


def test_container_without_resources_is_a_violation(statefulset):
    del container(statefulset, "agent")["resources"]
    assert violations("container-resources", resource_args(statefulset)) == [
        'container "agent" sets no resources requests.cpu, requests.memory, limits.memory']


def test_rendered_containers_set_no_empty_password_switch(statefulset):
    assert violations("no-empty-password", resource_args(statefulset)) == []


@pytest.mark.parametrize("switch", ["MYSQL_ALLOW_EMPTY_PASSWORD",
                                    "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"])
def test_empty_password_switch_is_a_violation_whatever_its_value(statefulset, switch):
    container(statefulset, "mysql")["env"].append({"name": switch, "value": "no"})
    assert violations("no-empty-password", resource_args(statefulset)) == [
        f'container "mysql" sets {switch}: the server would let root in without a password']


def test_rendered_database_pod_runs_as_non_root_without_privilege_escalation(statefulset):
    assert violations("database-pod-hardened", resource_args(statefulset)) == []


def test_a_non_zero_user_id_alone_counts_as_non_root(statefulset):
    del statefulset["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
    for name in ("init-mysql", "mysql"):
        del container(statefulset, name)["securityContext"]["runAsNonRoot"]
    assert violations("database-pod-hardened", resource_args(statefulset)) == []


def test_database_container_that_may_run_as_root_is_a_violation(statefulset):
    container(statefulset, "init-mysql")["securityContext"].update(runAsUser=0)
    assert violations("database-pod-hardened", resource_args(statefulset)) == [
        'container "init-mysql" may run as root: set runAsNonRoot: true or a non-zero '
        "runAsUser in its or the pod's securityContext"]


def test_database_pod_without_any_user_setting_is_a_violation(statefulset):
    for settings in [statefulset["spec"]["template"]["spec"]["securityContext"],
                     container(statefulset, "mysql")["securityContext"]]:
        settings.pop("runAsUser", None)
        settings.pop("runAsNonRoot")
    assert violations("database-pod-hardened", resource_args(statefulset)) == [
        'container "mysql" may run as root: set runAsNonRoot: true or a non-zero runAsUser '
        "in its or the pod's securityContext"]


def test_database_container_allowing_privilege_escalation_is_a_violation(statefulset):
    del container(statefulset, "agent")["securityContext"]["allowPrivilegeEscalation"]
    assert violations("database-pod-hardened", resource_args(statefulset)) == [
        'container "agent" does not set allowPrivilegeEscalation: false']


def test_database_pod_is_recognised_by_the_mysql_port_whatever_the_image(statefulset):
    for name in ("init-mysql", "mysql"):
        container(statefulset, name)["image"] = "registry.example/team/db-server:2.1"
    del container(statefulset, "agent")["securityContext"]["allowPrivilegeEscalation"]
    assert violations("database-pod-hardened", resource_args(statefulset)) == [
        'container "agent" does not set allowPrivilegeEscalation: false']


def test_pods_without_a_database_are_not_held_to_the_database_rule(statefulset):
    spec = statefulset["spec"]["template"]["spec"]
    spec["initContainers"] = []
    spec["containers"] = [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]
    assert violations("database-pod-hardened", resource_args(statefulset)) == []


def test_rendered_storage_is_within_the_default_bounds(statefulset):
    assert violations("storage-bounds", resource_args(statefulset)) == []


@pytest.mark.parametrize("size, problem", [
    ("512Mi", "requests 512Mi, below the minimum 1Gi"),
    ("2Ti", "requests 2Ti, above the maximum 1Ti"),
    ("1.5e12", "requests 1.5e12, above the maximum 1Ti"),
    ("lots", 'requests "lots", which is not a quantity'),
    ("1e999999999", 'requests "1e999999999", which is not a quantity'),
])
def test_storage_outside_the_default_bounds_is_a_violation(statefulset, size, problem):
    statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = size
    assert violations("storage-bounds", resource_args(statefulset)) == [
        f'volumeClaimTemplate "data" {problem}']


def test_storage_bounds_come_from_the_pack_config(statefulset):
    config = {"minStorage": "5G", "maxStorage": "100Gi"}
    assert violations("storage-bounds", resource_args(statefulset, config=config)) == [
        'volumeClaimTemplate "data" requests 2Gi, below the minimum 5G']


def test_volume_claim_template_without_a_size_is_a_violation(statefulset):
    del statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]
    assert violations("storage-bounds", resource_args(statefulset)) == [
        'volumeClaimTemplate "data" requests no storage size']
