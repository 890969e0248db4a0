"""Metrics: the exporter beside each server, its credentials, who may scrape it, and the
Prometheus Operator resources, which exist only when asked for."""
from __future__ import annotations

import json
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
    assert [c["name"] for c in pod_spec(manifests)["containers"]] == ["mysql", "agent"]
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


def test_the_agent_learns_the_metrics_user_and_where_its_password_is(rendered):
    manifests = rendered(**METRICS)
    agent = container(find(manifests, "StatefulSet"), "agent")
    env = {e["name"]: e.get("value") for e in agent["env"]}
    assert env["METRICS_USER"] == "metrics"
    assert env["METRICS_SECRETS_DIR"] == METRICS_DIR
    assert mounted_secret_files(pod_spec(manifests), "agent")[METRICS_DIR] == (
        "mysql-metrics", ["metrics-password"])


def test_without_metrics_the_agent_creates_no_metrics_user(rendered):
    agent = container(find(rendered(), "StatefulSet"), "agent")
    assert "METRICS_USER" not in {e["name"] for e in agent["env"]}


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


def test_the_exporter_reads_the_heartbeat_through_the_view_in_pt_heartbeat_layout(rendered):
    exporter = container(find(rendered(**METRICS), "StatefulSet"), "mysqld-exporter")
    assert exporter["args"][-4:] == [
        "--collect.heartbeat", "--collect.heartbeat.database=mysql_cluster",
        "--collect.heartbeat.table=exporter_heartbeat", "--collect.heartbeat.utc"]


def alert_names(manifests: list[dict[str, Any]]) -> list[str]:
    return [rule["alert"] for rule in find(manifests, "PrometheusRule")["spec"]["groups"][0]["rules"]]


BACKUPS = {"flavor": "mariadb", "backupTarget": "pvc", "backupClaim": "backups", "backupSchedule": "@daily"}


def test_backup_and_restore_drill_alerts_exist_only_with_scheduled_backups(rendered):
    without = alert_names(rendered(**MONITORED))
    with_backups = alert_names(rendered(**MONITORED, **BACKUPS))
    drills = {"MySQLClusterBackupTooOld", "MySQLClusterRestoreDrillTooOld",
              "MySQLClusterRestoreDrillFailed", "MySQLClusterRecoveryPointBehind"}
    assert not drills & set(without)
    assert set(with_backups) == set(without) | drills


def test_the_recovery_point_alert_allows_the_archive_interval_plus_slack(rendered):
    rule = find(rendered(**MONITORED, **BACKUPS, binlogArchiveIntervalSeconds=120),
                "PrometheusRule")
    behind = next(r for r in rule["spec"]["groups"][0]["rules"]
                  if r["alert"] == "MySQLClusterRecoveryPointBehind")
    assert "mysql_cluster_binlog_archive_newest_timestamp_seconds" in behind["expr"]
    assert behind["expr"].endswith("> 420")


def test_backup_alert_seconds_is_the_time_a_scheduled_backup_has_to_succeed(rendered):
    rule = find(rendered(**MONITORED, **BACKUPS, backupAlertSeconds=7200), "PrometheusRule")
    too_old = next(r for r in rule["spec"]["groups"][0]["rules"]
                   if r["alert"] == "MySQLClusterBackupTooOld")
    assert 'cronjob="mysql-backup"' in too_old["expr"]
    assert "offset 7200s" in too_old["expr"] and too_old["expr"].endswith("> 7200)")


def certificate_alert(manifests: list[dict[str, Any]]) -> str:
    return next(r["expr"] for r in find(manifests, "PrometheusRule")["spec"]["groups"][0]["rules"]
                if r["alert"] == "MySQLClusterCertificateExpiresSoon")


def test_the_certificate_alert_reads_the_servers_loaded_certificates_with_any_tls(rendered):
    assert "MySQLClusterCertificateExpiresSoon" not in alert_names(
        rendered(**MONITORED, tlsSource="none"))
    expr = certificate_alert(rendered(**MONITORED))
    assert "mysql_cluster_tls_certificate_expiry_timestamp_seconds" in expr
    assert "certmanager_" not in expr


def test_with_cert_manager_the_certificate_alert_also_reads_its_certificate(rendered):
    expr = certificate_alert(rendered(**MONITORED, tlsSource="cert-manager",
                                      tlsIssuer="cluster-ca"))
    assert expr.startswith("min by (namespace) (certmanager_certificate_expiration_timestamp_"
                           'seconds{namespace="mysql-dev", name="mysql"} or '
                           "mysql_cluster_tls_certificate_expiry_timestamp_seconds{")


def test_the_agent_serves_metrics_on_its_own_port_only_with_metrics(rendered):
    without = container(find(rendered(), "StatefulSet"), "agent")
    assert [p["name"] for p in without["ports"]] == ["agent", "readiness", "primary"]
    assert "AGENT_METRICS_PORT" not in {e["name"] for e in without["env"]}
    agent = container(find(rendered(**METRICS), "StatefulSet"), "agent")
    assert {"name": "agent-metrics", "containerPort": 9105} in agent["ports"]
    assert {"name": "AGENT_METRICS_PORT", "value": "9105"} in agent["env"]
    assert "RECOVERY_POINT_FILE" not in {e["name"] for e in agent["env"]}


def test_with_backups_the_agent_serves_its_own_archives_recovery_point_from_memory(rendered):
    statefulset = find(rendered(**METRICS, **BACKUPS), "StatefulSet")
    agent = container(statefulset, "agent")
    assert "ARCHIVE_INTERVAL_SECONDS" in {e["name"] for e in agent["env"]}
    assert "RECOVERY_POINT_FILE" not in {e["name"] for e in agent["env"]}
    assert "tmp" not in {m["name"] for m in agent["volumeMounts"]}

def test_the_agent_metrics_port_is_scraped_and_open_like_the_exporters(rendered):
    manifests = rendered(**MONITORED)
    ports = find(manifests, "Service", "mysql-metrics")["spec"]["ports"]
    assert {"name": "agent-metrics", "port": 9105, "targetPort": "agent-metrics"} in ports
    endpoints = find(manifests, "ServiceMonitor")["spec"]["endpoints"]
    assert [e["port"] for e in endpoints] == ["metrics", "agent-metrics"]
    rule = next(rule for rule in find(manifests, "NetworkPolicy", "mysql")["spec"]["ingress"]
                if {"port": 9104, "protocol": "TCP"} in rule["ports"])
    assert {"port": 9105, "protocol": "TCP"} in rule["ports"]


def dashboard_config_maps(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == "ConfigMap"
            and m["metadata"]["name"] == "mysql-dashboard"]


def test_the_dashboard_config_map_exists_only_when_asked_for(rendered):
    assert dashboard_config_maps(rendered(**METRICS)) == []
    (config_map,) = dashboard_config_maps(rendered(**METRICS, grafanaDashboard="true"))
    assert list(config_map["data"]) == ["mysql-cluster.json"]


def test_the_grafana_sidecar_finds_the_dashboard_by_its_default_label(rendered):
    (config_map,) = dashboard_config_maps(rendered(**METRICS, grafanaDashboard="true"))
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["labels"]["app.kubernetes.io/instance"] == "mysql"


def test_grafana_dashboard_labels_replace_the_default_label(rendered):
    (config_map,) = dashboard_config_maps(rendered(
        **METRICS, grafanaDashboard="true", grafanaDashboardLabels='["dashboards=mysql"]'))
    assert config_map["metadata"]["labels"]["dashboards"] == "mysql"
    assert "grafana_dashboard" not in config_map["metadata"]["labels"]


def dashboard_panels(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (config_map,) = dashboard_config_maps(manifests)
    model = json.loads(config_map["data"]["mysql-cluster.json"])
    return {panel["title"]: panel for panel in model["panels"]}


def test_the_dashboard_shows_the_cluster_from_any_prometheus_data_source(rendered):
    (config_map,) = dashboard_config_maps(rendered(**METRICS, grafanaDashboard="true"))
    model = json.loads(config_map["data"]["mysql-cluster.json"])
    assert model["title"] == "MySQL cluster mysql-dev/mysql"
    assert model["templating"]["list"][0]["type"] == "datasource"
    assert model["panels"]
    for panel in model["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert all('namespace="mysql-dev"' in target["expr"] for target in panel["targets"])


def test_the_dashboard_shows_backup_and_drill_age_only_with_scheduled_backups(rendered):
    title = "Newest successful backup and restore drill"
    assert title not in dashboard_panels(rendered(**METRICS, grafanaDashboard="true"))
    panel = dashboard_panels(rendered(**METRICS, **BACKUPS, grafanaDashboard="true"))[title]
    assert [target["legendFormat"] for target in panel["targets"]] == ["backup", "restore drill"]


def test_the_dashboard_shows_a_mysql_clones_progress_from_the_pods_agents(rendered):
    panels = dashboard_panels(rendered(**METRICS, grafanaDashboard="true"))
    assert "Pods cloning" not in panels
    (target,) = panels["Clone progress"]["targets"]
    assert "mysql_cluster_clone_copied_bytes" in target["expr"]
    assert "mysql_cluster_clone_estimated_bytes" in target["expr"]
    assert panels["Clone progress"]["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_the_dashboard_shows_which_mariadb_pods_run_their_clone_init_container(rendered):
    panels = dashboard_panels(rendered(**METRICS, grafanaDashboard="true", flavor="mariadb"))
    assert "Clone progress" not in panels
    (target,) = panels["Pods cloning"]["targets"]
    assert 'container="clone-mysql"' in target["expr"]


def test_the_dashboards_of_two_clusters_have_distinct_uids(rendered):
    uids = {json.loads(dashboard_config_maps(rendered(**METRICS, grafanaDashboard="true",
                                                      namespace=namespace))[0]["data"][
        "mysql-cluster.json"])["uid"] for namespace in ("orders", "billing")}
    assert len(uids) == 2 and all(len(uid) <= 40 for uid in uids)


def test_a_dashboard_without_the_exporters_is_refused(render):
    with pytest.raises(ConfigError) as caught:
        render(grafanaDashboard="true")
    assert caught.value.setting.key == "grafanaDashboard"
    assert "set metrics to true" in str(caught.value)


def test_a_cluster_name_ending_in_dashboard_is_refused(render):
    # It would collide with the dashboard ConfigMap of the cluster named before it.
    with pytest.raises(ConfigError) as caught:
        render(clusterName="orders-dashboard")
    assert caught.value.setting.key == "clusterName"
