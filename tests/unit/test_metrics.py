"""Metrics: the exporter beside each server, its credentials, who may scrape it, and the
Prometheus Operator resources, which exist only when asked for."""
from __future__ import annotations

from typing import Any

import pytest

from mysql_cluster import ConfigError
from mysql_cluster.exporter import option_file
from mysql_cluster.settings import BY_KEY

from stack_manifests import mounted_secret_files

from .conftest import container, find

METRICS = {"metrics": "true", "metricsClientNamespaces": '["monitoring"]'}
TLS_DIR = "/etc/mysql-cluster/tls"
METRICS_DIR = "/etc/mysql-cluster/metrics"
MONITORED = {**METRICS, "serviceMonitor": "true", "prometheusRule": "true",
             "prometheusLabels": '["release=kube-prometheus-stack"]'}


def pod_spec(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return find(manifests, "StatefulSet")["spec"]["template"]["spec"]


def ingress_ports(manifests: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    return {rule["ports"][0]["port"]: rule["from"]
            for rule in find(manifests, "NetworkPolicy", find(manifests, "StatefulSet")["metadata"]["name"])["spec"]["ingress"]}


def test_without_metrics_there_is_no_exporter_metrics_port_or_monitoring_resource(rendered):
    manifests = rendered()
    assert [c["name"] for c in pod_spec(manifests)["containers"]] == ["mysql", "backup"]
    assert 9104 not in ingress_ports(manifests)
    assert not [m for m in manifests if m["kind"] in ("ServiceMonitor", "PrometheusRule")
                or m["metadata"]["name"].endswith("-metrics")]


def test_the_exporter_runs_the_pinned_upstream_image_beside_the_server(rendered):
    exporter = container(find(rendered(**METRICS), "StatefulSet"), "mysqld-exporter")
    assert exporter["image"] == "prom/mysqld-exporter:v0.18.0"
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9104}]


def test_metrics_image_replaces_the_default_exporter_image(rendered):
    manifests = rendered(**METRICS, metricsImage="registry.example.com/mysqld-exporter:v0.18.0")
    assert container(find(manifests, "StatefulSet"), "mysqld-exporter")["image"] == \
        "registry.example.com/mysqld-exporter:v0.18.0"


def test_the_exporter_reads_its_password_from_an_option_file_in_its_own_secret(rendered):
    manifests = rendered(**METRICS)
    spec = pod_spec(manifests)
    exporter = container(find(manifests, "StatefulSet"), "mysqld-exporter")
    assert "--config.my-cnf=/etc/mysql-cluster/metrics/my.cnf" in exporter["args"]
    assert "env" not in exporter and "envFrom" not in exporter
    assert mounted_secret_files(spec, "mysqld-exporter")[METRICS_DIR] == ("mysql-metrics", ["my.cnf"])
    assert sorted(find(manifests, "Secret", "mysql-metrics")["stringData"]) == \
        ["metrics-password", "my.cnf"]


def test_the_exporter_option_file_logs_the_metrics_user_into_the_local_server():
    assert option_file("Secret123", 3306, tls=False) == \
        "[client]\nuser=metrics\npassword=Secret123\nhost=127.0.0.1\nport=3306\n"


def test_with_tls_the_exporter_option_file_verifies_the_server_against_the_cluster_ca():
    assert option_file("Secret123", 3306, tls=True) == (
        "[client]\nuser=metrics\npassword=Secret123\nhost=127.0.0.1\nport=3306\n"
        "ssl-ca=/etc/mysql-cluster/tls/ca.crt\n")


def test_with_client_tls_required_the_exporter_names_the_ca_it_mounts(render):
    manifests = render(reveal_secrets=True, **METRICS, requireClientTls="true")
    options = find(manifests, "Secret", "mysql-metrics")["stringData"]["my.cnf"]
    assert "ssl-ca=/etc/mysql-cluster/tls/ca.crt" in options.splitlines()
    spec = pod_spec(manifests)
    assert mounted_secret_files(spec, "mysqld-exporter")[TLS_DIR] == ("mysql-tls", ["ca.crt"])


def test_without_tls_the_exporter_connects_in_plain_text_and_mounts_no_certificate(render):
    manifests = render(reveal_secrets=True, **METRICS, tlsSource="none")
    options = find(manifests, "Secret", "mysql-metrics")["stringData"]["my.cnf"]
    assert [line for line in options.splitlines() if line.startswith("ssl")] == []
    assert list(mounted_secret_files(pod_spec(manifests), "mysqld-exporter")) == [METRICS_DIR]


def test_the_exporter_is_hardened_and_sized_like_every_other_container(rendered):
    exporter = container(find(rendered(**METRICS), "StatefulSet"), "mysqld-exporter")
    assert exporter["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert set(exporter["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in exporter["resources"]["limits"]


def test_the_exporter_is_probed_on_its_listener_not_through_the_server(rendered):
    exporter = container(find(rendered(**METRICS), "StatefulSet"), "mysqld-exporter")
    for probe in ("livenessProbe", "readinessProbe"):
        assert exporter[probe]["tcpSocket"] == {"port": "metrics"}


def test_the_backup_sidecar_learns_the_metrics_user_and_where_its_password_is(rendered):
    manifests = rendered(**METRICS)
    sidecar = container(find(manifests, "StatefulSet"), "backup")
    env = {e["name"]: e.get("value") for e in sidecar["env"]}
    assert env["METRICS_USER"] == "metrics"
    assert env["METRICS_SECRETS_DIR"] == METRICS_DIR
    assert mounted_secret_files(pod_spec(manifests), "backup")[METRICS_DIR] == (
        "mysql-metrics", ["metrics-password"])


def test_without_metrics_the_sidecar_creates_no_metrics_user(rendered):
    sidecar = container(find(rendered(), "StatefulSet"), "backup")
    assert "METRICS_USER" not in {e["name"] for e in sidecar["env"]}


def test_the_metrics_port_admits_the_cluster_namespace_and_the_allowed_ones(rendered):
    peers = ingress_ports(rendered(**METRICS))[9104]
    assert peers == [{"podSelector": {}}, {"namespaceSelector": {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring"]}]}}]


def test_the_metrics_service_targets_every_pod_ready_or_not(rendered):
    manifests = rendered(**METRICS)
    service = find(manifests, "Service", "mysql-metrics")
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == \
        find(manifests, "StatefulSet")["spec"]["selector"]["matchLabels"]


def test_the_service_monitor_selects_the_metrics_service_and_no_other(rendered):
    manifests = rendered(**MONITORED)
    selector = find(manifests, "ServiceMonitor")["spec"]["selector"]["matchLabels"]
    selected = [m["metadata"]["name"] for m in manifests if m["kind"] == "Service"
                and selector.items() <= m["metadata"]["labels"].items()]
    assert selected == ["mysql-metrics"]


def test_monitoring_resources_exist_only_when_asked_for(rendered):
    kinds = [m["kind"] for m in rendered(**METRICS, serviceMonitor="true")]
    assert "ServiceMonitor" in kinds and "PrometheusRule" not in kinds


def test_prometheus_labels_label_the_service_monitor_and_the_prometheus_rule(rendered):
    manifests = rendered(**MONITORED)
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert find(manifests, kind)["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_lag_alert_uses_max_replication_lag_seconds(rendered):
    rule = find(rendered(**MONITORED, maxReplicationLagSeconds=45), "PrometheusRule")
    lag = next(r for r in rule["spec"]["groups"][0]["rules"]
               if r["alert"] == "MySQLClusterReplicationLag")
    assert lag["expr"].endswith("> 45")


def test_the_primary_down_alert_watches_the_pod_primary_ordinal_names(rendered):
    rule = find(rendered(**MONITORED, primaryOrdinal="1"), "PrometheusRule")
    down = next(r for r in rule["spec"]["groups"][0]["rules"]
                if r["alert"] == "MySQLClusterPrimaryDown")
    assert 'pod="mysql-1"' in down["expr"] and down["labels"]["pod"] == "mysql-1"


def test_with_an_existing_secret_the_metrics_password_is_still_generated_apart(rendered):
    manifests = rendered(**METRICS, existingSecret="my-credentials")
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "Secret"] == [
        "mysql-metrics", "mysql-tls"]


@pytest.mark.parametrize("key, needs", [
    ("serviceMonitor", "metrics"),
    ("prometheusRule", "serviceMonitor"),
])
def test_a_monitoring_switch_without_the_one_it_builds_on_is_refused(render, key, needs):
    config = {"metrics": "true"} if needs == "serviceMonitor" else {}
    with pytest.raises(ConfigError) as caught:
        render(**config, **{key: "true"})
    assert caught.value.setting.key == key
    assert f"set {needs} to true" in str(caught.value)


@pytest.mark.parametrize("key, value", [
    ("prometheusLabels", '["release=kps"]'),
    ("metricsClientNamespaces", '["monitoring"]'),
])
def test_a_monitoring_list_without_its_resources_is_refused(render, key, value):
    with pytest.raises(ConfigError) as caught:
        render(**{key: value})
    assert caught.value.setting.key == key


@pytest.mark.parametrize("labels", [["release"], ["=x"], ["a b=c"], ["x=" + "v" * 64],
                                    ["release=a", "release=b"], "release=a"])
def test_prometheus_labels_must_be_distinct_kubernetes_labels(labels):
    with pytest.raises(ConfigError):
        BY_KEY["prometheusLabels"].validate(labels)


def test_prometheus_labels_accept_prefixed_keys_and_empty_values():
    labels = ["example.com/team=db", "release=kube-prometheus-stack", "monitored="]
    assert BY_KEY["prometheusLabels"].validate(labels) == labels


def test_the_metrics_user_is_not_available_to_the_application(render):
    with pytest.raises(ConfigError) as caught:
        render(appUser="metrics")
    assert caught.value.setting.key == "appUser"


def test_a_cluster_name_ending_in_metrics_is_refused(render):
    # It would collide with the metrics Service and Secret of the cluster named before it.
    with pytest.raises(ConfigError) as caught:
        render(clusterName="orders-metrics")
    assert caught.value.setting.key == "clusterName"
