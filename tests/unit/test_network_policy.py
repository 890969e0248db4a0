"""The NetworkPolicies as a user reads them: who may connect to the database pods, and whom the
database pods, the switchover Job and the backup jobs may connect to — the cluster's own pods,
the cluster's DNS pods and, with an s3 target, its endpoint's port; never an arbitrary address."""
from __future__ import annotations

from typing import Any

import pytest

from mysql_cluster import ConfigError

from .conftest import SERVER_IDS, SERVERS, find, server_config
from .test_schema_validation import VERSIONS, schema_problems

# Backups run on MariaDB; the endpoint is outside the cluster, on port 8333.
S3 = {"flavor": "mariadb", "backupTarget": "s3", "backupS3Endpoint": "https://s3.storage.example:8333",
      "backupS3Bucket": "db-backups", "backupS3Secret": "s3-keys", "backupSchedule": "30 2 * * *"}
S3_CIDRS = {**S3, "backupS3EgressCidrs": '["203.0.113.0/24", "2001:db8::/32"]'}
PVC = {"flavor": "mariadb", "backupTarget": "pvc", "backupClaim": "backups", "backupSchedule": "@daily"}
KUBE_DNS = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


@pytest.fixture(params=SERVERS, ids=SERVER_IDS)
def server_manifests(request, rendered):
    """The dev stack's manifests with each supported server."""
    return rendered(**server_config(*request.param))


def database_policy(manifests) -> dict[str, Any]:
    return find(manifests, "NetworkPolicy", find(manifests, "StatefulSet")["metadata"]["name"])["spec"]


def ingress(manifests, port: int) -> list[dict]:
    """The peers allowed to reach `port`."""
    return [peer for rule in database_policy(manifests)["ingress"]
            if port in [p["port"] for p in rule["ports"]] for peer in rule["from"]]


def cluster_pods(manifests) -> dict:
    return {"podSelector": {"matchLabels": find(manifests, "StatefulSet")["spec"]["selector"][
        "matchLabels"]}}


def tcp(*ports: int) -> list[dict]:
    return [{"port": port, "protocol": "TCP"} for port in ports]


def workload_pods(manifests) -> dict[str, dict[str, str]]:
    """The labels of each workload's pods, by the workload's kind and name."""
    pods = {}
    for manifest in manifests:
        spec = manifest.get("spec", {})
        if manifest["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if manifest["kind"] in ("StatefulSet", "Job", "CronJob"):
            pods[f"{manifest['kind']} {manifest['metadata']['name']}"] = spec["template"][
                "metadata"]["labels"]
    return pods


def egress_of(manifests, pod_labels: dict[str, str]) -> list[dict] | None:
    """What a pod with `pod_labels` may connect to, as Kubernetes reads the policies of its
    namespace: the union of the egress rules of every policy that selects it for egress, or None
    when none does (then it may connect anywhere)."""
    selecting = [m["spec"] for m in manifests if m["kind"] == "NetworkPolicy"
                 and "Egress" in m["spec"].get("policyTypes", [])
                 and m["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()]
    return [rule for spec in selecting for rule in spec.get("egress", [])] if selecting else None


def open_to_any_address(rule: dict) -> bool:
    """Whether the rule lets a pod connect to an address that no selector or range names: no
    `to` at all, every namespace, or the whole address space."""
    peers = rule.get("to") or [{}]
    return any(not peer or peer.get("namespaceSelector") == {}
               or peer.get("ipBlock", {}).get("cidr") in ("0.0.0.0/0", "::/0") for peer in peers)


# --- ingress ---------------------------------------------------------------------------------

def test_the_database_policy_selects_the_clusters_pods_for_ingress_and_egress(server_manifests):
    spec = database_policy(server_manifests)
    assert {"podSelector": spec["podSelector"]} == cluster_pods(server_manifests)
    assert spec["policyTypes"] == ["Ingress", "Egress"]


def test_network_policy_opens_nothing_but_the_server_backup_agent_and_primary_ports(server_manifests):
    rules = database_policy(server_manifests)["ingress"]
    assert sorted((p["port"], p["protocol"]) for rule in rules for p in rule["ports"]) == [
        (3306, "TCP"), (3307, "TCP"), (3308, "TCP"), (3310, "TCP")]


def test_the_agents_primary_port_admits_whoever_may_reach_the_server_port(rendered):
    manifests = rendered("prod")
    assert ingress(manifests, 3310) == ingress(manifests, 3306)


def test_agent_port_admits_only_the_clusters_own_pods_and_its_switchover_job(rendered):
    manifests = rendered(allowedClientNamespaces='["*"]')
    assert ingress(manifests, 3308) == [cluster_pods(manifests), {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "mysql-cluster-switchover", "app.kubernetes.io/instance": "mysql",
        "app.kubernetes.io/component": "switchover", "app.kubernetes.io/managed-by": "pulumi"}}}]


def test_backup_port_admits_only_the_clusters_own_pods_and_its_backup_jobs(rendered):
    manifests = rendered(allowedClientNamespaces='["*"]')
    assert ingress(manifests, 3307) == [cluster_pods(manifests), {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "mysql-cluster-backup", "app.kubernetes.io/instance": "mysql",
        "app.kubernetes.io/component": "backup", "app.kubernetes.io/managed-by": "pulumi"}}}]


def test_server_port_admits_the_clusters_pods_and_its_namespace_by_default(server_manifests):
    assert ingress(server_manifests, 3306) == [cluster_pods(server_manifests),
                                               {"podSelector": {}}]


def test_server_port_admits_the_allowed_client_namespaces(rendered):
    peers = ingress(rendered("prod"), 3306)
    assert {"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In",
         "values": ["orders", "orders-jobs"]}]}} in peers


def test_star_admits_every_namespace_to_the_server_port(rendered):
    assert {"namespaceSelector": {}} in ingress(rendered(allowedClientNamespaces='["*"]'), 3306)


def test_nothing_may_connect_to_the_switchover_or_backup_jobs_pods(rendered):
    manifests = rendered(**S3)
    jobs = {workload: labels for workload, labels in workload_pods(manifests).items()
            if workload.startswith(("Job", "CronJob"))}
    assert sorted(jobs) == ["CronJob mysql-backup", "CronJob mysql-restore-drill", "Job mysql-primary-0"]
    for workload, labels in jobs.items():
        (policy,) = [m["spec"] for m in manifests if m["kind"] == "NetworkPolicy"
                     and m["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        assert "Ingress" in policy["policyTypes"] and not policy.get("ingress"), workload


# --- egress ----------------------------------------------------------------------------------

def test_every_workloads_pods_have_their_egress_restricted(rendered):
    manifests = rendered(**S3)
    pods = workload_pods(manifests)
    assert sorted(pods) == ["CronJob mysql-backup", "CronJob mysql-restore-drill", "Job mysql-primary-0",
                            "StatefulSet mysql"]
    assert {workload: egress_of(manifests, labels) is not None
            for workload, labels in pods.items()} == dict.fromkeys(pods, True)


def test_database_pods_reach_only_their_peers_server_backup_and_agent_ports_and_the_dns_pods(
        server_manifests):
    assert egress_of(server_manifests, find(server_manifests, "StatefulSet")["spec"]["template"][
        "metadata"]["labels"]) == [
        {"to": [cluster_pods(server_manifests)], "ports": tcp(3306, 3307, 3308)}, KUBE_DNS]


def test_the_switchover_job_reaches_only_the_pods_agent_port_and_the_dns_pods(server_manifests):
    labels = workload_pods(server_manifests)["Job mysql-primary-0"]
    assert egress_of(server_manifests, labels) == [
        {"to": [cluster_pods(server_manifests)], "ports": tcp(3308)}, KUBE_DNS]


def test_a_backup_job_reaches_the_donors_backup_port_the_dns_pods_and_the_s3_endpoint(rendered):
    manifests = rendered(**S3_CIDRS)
    labels = workload_pods(manifests)["CronJob mysql-backup"]
    assert egress_of(manifests, labels) == [
        {"to": [cluster_pods(manifests)], "ports": tcp(3307)}, KUBE_DNS,
        {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}, {"ipBlock": {"cidr": "2001:db8::/32"}}],
         "ports": tcp(8333)}]


def test_a_mysql_backup_job_reaches_the_donors_server_port_for_its_clone(rendered):
    manifests = rendered(**{**S3_CIDRS, "flavor": "mysql"})
    labels = workload_pods(manifests)["CronJob mysql-backup"]
    assert egress_of(manifests, labels)[0] == {"to": [cluster_pods(manifests)], "ports": tcp(3306)}


def test_the_restore_drill_reaches_only_the_dns_pods_and_the_s3_endpoint(rendered):
    manifests = rendered(**S3_CIDRS)
    labels = workload_pods(manifests)["CronJob mysql-restore-drill"]
    assert egress_of(manifests, labels) == [
        KUBE_DNS,
        {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}, {"ipBlock": {"cidr": "2001:db8::/32"}}],
         "ports": tcp(8333)}]


def test_with_an_s3_target_the_database_pods_reach_its_endpoint_for_the_binlog_archive(rendered):
    manifests = rendered(**S3_CIDRS)
    rules = egress_of(manifests, workload_pods(manifests)["StatefulSet mysql"])
    assert rules[2:] == [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}},
                                 {"ipBlock": {"cidr": "2001:db8::/32"}}], "ports": tcp(8333)}]


def test_without_cidrs_the_s3_endpoints_port_alone_is_open_to_any_address(rendered):
    manifests = rendered(**S3)
    workloads = workload_pods(manifests)
    assert len(workloads) == 4  # the StatefulSet, the switchover Job and two CronJobs
    for workload, labels in workloads.items():
        wide = [rule for rule in egress_of(manifests, labels) if open_to_any_address(rule)]
        assert wide == ([] if workload.startswith("Job") else [{"ports": tcp(8333)}]), workload


def test_aws_s3_without_an_endpoint_is_reached_on_443(rendered):
    manifests = rendered(**{**S3, "backupS3Endpoint": ""})
    rules = egress_of(manifests, workload_pods(manifests)["CronJob mysql-backup"])
    assert rules[-1] == {"ports": tcp(443)}


@pytest.mark.parametrize("config", [{}, {"metrics": "true"}, S3_CIDRS, PVC],
                         ids=["default", "metrics", "s3-with-cidrs", "pvc"])
def test_no_workload_can_reach_an_arbitrary_address(rendered, config):
    manifests = rendered(**config)
    workloads = workload_pods(manifests)
    assert "StatefulSet mysql" in workloads
    for workload, labels in workloads.items():
        rules = egress_of(manifests, labels)
        assert rules is not None, f"{workload} may connect anywhere"
        assert [rule for rule in rules if open_to_any_address(rule)] == [], workload
        assert all(rule.get("ports") for rule in rules), f"{workload} may use every port"


def test_a_claim_target_adds_no_egress(rendered):
    manifests = rendered(**PVC)
    assert egress_of(manifests, workload_pods(manifests)["StatefulSet mysql"]) == [
        {"to": [cluster_pods(manifests)], "ports": tcp(3306, 3307, 3308)}, KUBE_DNS]


def test_the_dns_pods_are_the_ones_the_settings_name(rendered):
    manifests = rendered(dnsNamespace="dns", dnsPodLabels='["app.kubernetes.io/name=coredns"]')
    rules = egress_of(manifests, workload_pods(manifests)["StatefulSet mysql"])
    assert rules[1]["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": "coredns"}}}]


@pytest.mark.parametrize("kubernetes", VERSIONS)
@pytest.mark.parametrize("config", [S3, S3_CIDRS, PVC], ids=["s3", "s3-with-cidrs", "pvc"])
def test_the_policies_validate_strictly(rendered, config, kubernetes):
    policies = [m for m in rendered(**config) if m["kind"] == "NetworkPolicy"]
    # The database pods', the switchover Job's, the backup's and the restore drill's.
    assert len(policies) == 4
    assert schema_problems(policies, kubernetes) == []


# --- settings --------------------------------------------------------------------------------

def refusal(rendered, **config) -> str:
    with pytest.raises(ConfigError) as caught:
        rendered(**config)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_cidrs_without_an_s3_target_are_refused_naming_the_key(rendered):
    message = refusal(rendered, **{**PVC, "backupS3EgressCidrs": '["203.0.113.0/24"]'})
    assert message.startswith("invalid value for config key 'backupS3EgressCidrs'")
    assert "set backupTarget s3" in message


@pytest.mark.parametrize("cidr", ["203.0.113.7/24", "203.0.113.7", "s3.example.com", "10.0.0.0/33"])
def test_what_is_not_a_network_address_and_prefix_is_refused_with_an_example(rendered, cidr):
    message = refusal(rendered, **{**S3, "backupS3EgressCidrs": f'["{cidr}"]'})
    assert f"'{cidr}' is not a CIDR" in message and "no host bits set" in message


def test_an_endpoint_port_out_of_range_is_refused(rendered):
    message = refusal(rendered, **{**S3, "backupS3Endpoint": "https://s3.example.com:70000"})
    assert message.startswith("invalid value for config key 'backupS3Endpoint'")
    assert "port from 1 to 65535" in message


def test_no_dns_pod_labels_are_refused(rendered):
    message = refusal(rendered, dnsPodLabels="[]")
    assert message.startswith("invalid value for config key 'dnsPodLabels'")
    assert "k8s-app=kube-dns" in message
