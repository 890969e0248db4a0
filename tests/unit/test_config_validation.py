"""Every config key is checked before any resource is created; a bad value stops the program
with one message that names the key, the value and what is allowed.

The tests of each key render the stack with a bad value; the tests of each rule call the key's
check directly, except where a rule spans keys or lies outside the check."""
from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from mysql_cluster import ConfigError, MySQLCluster
from mysql_cluster.user_server_options import MANAGED_OPTIONS
from mysql_cluster.settings import BY_KEY, SETTINGS

from .conftest import find

# One bad value per config key, as a stack file or --config gives it; how the message shows it
# (after the key, before what is allowed); and a phrase of what is allowed.
BAD_VALUES: dict[str, tuple[str, str, str]] = {
    "clusterName": ("Orders", "'Orders'", "lower-case letters"),
    "namespace": ("shop_1", "'shop_1'", "lower-case letters"),
    "replicas": ("0", "0", "whole number from 1"),
    "flavor": ("postgres", "'postgres'", "use one of 'mysql', 'mariadb'"),
    "version": ("9.0", "'9.0'", "use one of"),
    "serverImage": ("mysql", "'mysql'", "pinned to a tag or digest"),
    "backupImage": ("percona/percona-xtrabackup", "'percona/percona-xtrabackup'",
                    "pinned to a tag or digest"),
    "storageSize": ("ten gigs", "'ten gigs'", "Kubernetes quantity"),
    "storageClass": ("Fast_SSD", "'Fast_SSD'", "lower-case letters"),
    "serverCpuRequest": ("two", "'two'", "Kubernetes quantity"),
    "serverMemoryRequest": ("1GB", "'1GB'", "Kubernetes quantity"),
    "serverCpuLimit": ("-1", "'-1'", "Kubernetes quantity"),
    "serverMemoryLimit": ("0", "'0'", "positive Kubernetes quantity"),
    "backupCpuRequest": ("100 m", "'100 m'", "Kubernetes quantity"),
    "backupMemoryRequest": ("256MiB", "'256MiB'", "Kubernetes quantity"),
    "backupCpuLimit": ("lots", "'lots'", "Kubernetes quantity"),
    "backupMemoryLimit": ("1 Gi", "'1 Gi'", "Kubernetes quantity"),
    "agentImage": ("python", "'python'", "pinned to a tag or digest"),
    "agentCpuRequest": ("20 m", "'20 m'", "Kubernetes quantity"),
    "agentMemoryRequest": ("-48Mi", "'-48Mi'", "Kubernetes quantity"),
    "agentCpuLimit": ("lots", "'lots'", "Kubernetes quantity"),
    "agentMemoryLimit": ("128 Mi", "'128 Mi'", "Kubernetes quantity"),
    "maxReplicationLagSeconds": ("0", "0", "whole number from 1"),
    "primaryOrdinal": ("-1", "'-1'", "whole number from 0"),
    "primaryDownReadSeconds": ("ten", "'ten'", "whole number from 0"),
    "automaticFailover": ("on", "'on'", "true or false"),
    "failoverGraceSeconds": ("5", "5", "whole number from 20 to 3600: a primary cut off from the other pods takes up to 10 s"),
    "backupParallel": ("0", "0", "whole number from 1 to 16"),
    "transferBufferBytes": ("1024", "1024", "whole number from 8192"),
    "binlogRetentionDays": ("0", "0", "whole number from 1 to 365"),
    "antiAffinity": ("always", "'always'", "use one of 'preferred', 'required'"),
    "zoneSpread": ("yes", "'yes'", "true or false"),
    "allowedClientNamespaces": ('["web", "Jobs"]', "['web', 'Jobs']", "'Jobs' is not a namespace"),
    "dnsNamespace": ("Kube_System", "'Kube_System'", "lower-case letters"),
    "dnsPodLabels": ('["k8s-app"]', "['k8s-app']", "'k8s-app' is not a Kubernetes label"),
    "appUser": ("app-user", "'app-user'", "letter followed by letters, digits or '_'"),
    "appDatabase": ("1app", "'1app'", "letter followed by letters, digits or '_'"),
    "existingSecret": ("My_Secret", "'My_Secret'", "lower-case letters"),
    "clusterDomain": ("cluster local", "'cluster local'", "lower-case letters"),
    "serverOptions": ('{"server_id": "7"}', "'server_id'", "server-id is managed by the cluster"),
    "nodeSelector": ('{"pool": "db pool"}', "{'pool': 'db pool'}", "label values"),
    "tolerations": ('[{"key": "dedicated", "operator": "In"}]',
                    "{'key': 'dedicated', 'operator': 'In'}", "operator Equal or Exists"),
    "priorityClassName": ("High", "'High'", "lower-case letters"),
    "podLabels": ('{"app.kubernetes.io/instance": "other"}', "'app.kubernetes.io/instance'",
                  "the cluster sets this itself"),
    "podAnnotations": ('{"mysql-cluster/config-checksum": "x"}',
                       "'mysql-cluster/config-checksum'", "the cluster sets this itself"),
    "primaryServiceType": ("ExternalName", "'ExternalName'",
                           "use one of 'ClusterIP', 'LoadBalancer', 'NodePort'"),
    "primaryServiceAnnotations": ('{"example.com/ttl": 60}', "{'example.com/ttl': 60}",
                                  "as text"),
    "readServiceType": ("Headless", "'Headless'",
                        "use one of 'ClusterIP', 'LoadBalancer', 'NodePort'"),
    "readServiceAnnotations": ('{"bad key": "x"}', "'bad key'", "use keys like"),
    "imagePullSecrets": ('["Registry"]', "['Registry']", "list of Secret names"),
    "serviceAccountName": ("Orders_DB", "'Orders_DB'", "lower-case letters"),
    "metrics": ("on", "'on'", "true or false"),
    "metricsImage": ("prom/mysqld-exporter", "'prom/mysqld-exporter'", "pinned to a tag or digest"),
    "metricsClientNamespaces": ('["Monitoring"]', "['Monitoring']",
                                "'Monitoring' is not a namespace"),
    "serviceMonitor": ("1", "'1'", "true or false"),
    "prometheusRule": ("no", "'no'", "true or false"),
    "prometheusLabels": ('["release"]', "['release']", "'release' is not a Kubernetes label"),
    "grafanaDashboard": ("yes", "'yes'", "true or false"),
    "grafanaDashboardLabels": ('["grafana_dashboard"]', "['grafana_dashboard']",
                               "'grafana_dashboard' is not a Kubernetes label"),
    "backupSchedule": ("daily", "'daily'", "cron schedule of five fields"),
    "restoreDrillSchedule": ("61 2 * * *", "'61 2 * * *'", "no scheduled restore drills"),
    "backupAlertSeconds": ("60", "60", "whole number from 600"),
    "backupTarget": ("gcs", "'gcs'", "use one of '', 's3', 'pvc'"),
    "backupS3Endpoint": ("minio:9000", "'minio:9000'", "https://s3.example.com:9000"),
    "backupS3Bucket": ("My_Bucket", "'My_Bucket'", "db-backups"),
    "backupS3EgressCidrs": ('["10.0.0.1/8"]', "['10.0.0.1/8']", "'10.0.0.1/8' is not a CIDR"),
    "backupS3Region": ("EU West", "'EU West'", "eu-west-1"),
    "backupS3Secret": ("S3 keys", "'S3 keys'", "lower-case letters"),
    "backupClaim": ("Backups", "'Backups'", "lower-case letters"),
    "backupPrefix": ("/orders/", "'/orders/'", "without a leading or trailing '/'"),
    "backupRetentionCount": ("-1", "'-1'", "whole number from 0"),
    "backupRetentionDays": ("forever", "'forever'", "whole number from 0"),
    "binlogArchiveIntervalSeconds": ("5", "5", "whole number from 10"),
    "backupThrottleBytesPerSecond": ("10MB", "'10MB'", "whole number from 0"),
    "rcloneImage": ("rclone/rclone:latest", "'rclone/rclone:latest'", "instead of 'latest'"),
    "restoreFrom": ("yesterday", "'yesterday'", "latest or a backup's name"),
    "restoreTo": ("noon", "'noon'", "a UTC time such as 2026-01-01T12:00:00Z"),
    "tlsSource": ("acme", "'acme'", "use one of 'self-signed', 'cert-manager', 'secret', 'none'"),
    "tlsIssuer": ("Ca_Issuer", "'Ca_Issuer'", "lower-case letters"),
    "tlsIssuerKind": ("Certificate", "'Certificate'", "use one of 'Issuer', 'ClusterIssuer'"),
    "tlsSecret": ("My_Tls", "'My_Tls'", "lower-case letters"),
    "requireClientTls": ("yes", "'yes'", "true or false"),
    "rootPassword": ("short", "'<secret>'", "at least 12 printable characters"),
    "replicationPassword": ("short", "'<secret>'", "at least 12 printable characters"),
    "backupPassword": ("short", "'<secret>'", "at least 12 printable characters"),
    "appPassword": ("short", "'<secret>'", "at least 12 printable characters"),
    "backupKey": ("short", "'<secret>'", "at least 12 printable characters"),
}
SECRET_KEYS = sorted(s.key for s in SETTINGS if s.secret)
PLAIN_KEYS = sorted(s.key for s in SETTINGS if not s.secret)
QUANTITY_KEYS = ["storageSize", "serverCpuRequest", "serverMemoryRequest", "serverCpuLimit",
                 "serverMemoryLimit", "backupCpuRequest", "backupMemoryRequest", "backupCpuLimit",
                 "backupMemoryLimit", "agentCpuRequest", "agentMemoryRequest", "agentCpuLimit",
                 "agentMemoryLimit"]
OPTIONAL_QUANTITY_KEYS = ["serverCpuLimit", "backupCpuLimit", "agentCpuLimit"]
IMAGE_KEYS = ["serverImage", "backupImage"]
IDENTIFIER_KEYS = ["appUser", "appDatabase"]


def rejection(render, **config: Any) -> ConfigError:
    """The error that rendering with `config` stops with."""
    with pytest.raises(ConfigError) as caught:
        render(**config)
    return caught.value


def refused(key: str, value: Any) -> ConfigError:
    """The error the check of config key `key` refuses `value` with."""
    with pytest.raises(ConfigError) as caught:
        BY_KEY[key].validate(value)
    return caught.value


def accepted(key: str, value: Any) -> Any:
    """The value the component gets for `value` of config key `key`."""
    return BY_KEY[key].validate(value)


# --- every key -------------------------------------------------------------------------------

def test_every_config_key_has_a_bad_value_case():
    assert set(BAD_VALUES) == {setting.key for setting in SETTINGS}


@pytest.mark.parametrize("key", PLAIN_KEYS)
def test_bad_value_message_names_the_key_the_value_and_what_is_allowed(render, key):
    text, shown, rule = BAD_VALUES[key]
    error = rejection(render, **{key: text})
    message = str(error)
    assert error.setting.key == key
    assert f"config key '{key}'" in message
    assert f": {shown}; " in message
    assert rule in message
    assert "\n" not in message


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_bad_password_message_names_the_key_but_not_the_password(render, key):
    message = str(rejection(render, **{key: "Tiny-Secret"}))
    assert f"config key '{key}'" in message
    assert "'<secret>'" in message
    assert "at least 12 printable characters" in message
    assert "Tiny-Secret" not in message


def name_and_args(key: str, text: str) -> tuple[str, dict[str, Any]]:
    """A config key's text as the component's name and arguments (arrays and objects are lists
    and dicts there)."""
    setting = BY_KEY[key]
    if setting.arg == "name":
        return text, {}
    structured = setting.type in ("array", "object")
    return "orders", {setting.arg: json.loads(text) if structured else text}


def registered_before_failing(mock_monitor, name: str, args: dict[str, Any]) -> list:
    """Builds a cluster, expecting a ConfigError, and lists what was registered: the runtime
    waits for every registration the construction started before it passes the error on."""
    @pulumi.runtime.test
    def construct():
        MySQLCluster(name, args)

    with pytest.raises(ConfigError):
        construct()
    return mock_monitor.mocks.resources


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_bad_value_stops_the_component_before_any_resource_is_registered(mock_monitor, key):
    assert registered_before_failing(mock_monitor, *name_and_args(key, BAD_VALUES[key][0])) == []


def test_mysql_57_stops_the_component_before_any_resource(mock_monitor):
    assert registered_before_failing(mock_monitor, "orders",
                                     {"flavor": "mysql", "version": "5.7"}) == []


def test_version_of_another_flavor_stops_the_component_before_any_resource(mock_monitor):
    assert registered_before_failing(mock_monitor, "orders",
                                     {"flavor": "mariadb", "version": "8.4"}) == []


def test_unknown_config_key_is_rejected_with_the_closest_key(render):
    with pytest.raises(pulumi.RunError) as caught:
        render(replica="3")
    assert str(caught.value) == \
        "unknown config key 'replica' in stack config; did you mean 'replicas'?"


def test_the_retired_admin_password_key_is_rejected_with_why_and_the_fix(render):
    with pytest.raises(pulumi.RunError) as caught:
        render(adminPassword="admin-Secret-0005")
    assert str(caught.value) == (
        "config key 'adminPassword' is no longer used: the switchover Job asks the pods' agents and has "
        "no SQL account any more; remove adminPassword from the stack config")


# --- replicas --------------------------------------------------------------------------------

def test_replicas_accepts_a_single_pod():
    assert accepted("replicas", "1") == 1


@pytest.mark.parametrize("text", ["0", "-1"])
def test_replicas_rejects_fewer_than_one_pod(text):
    refused("replicas", text)


@pytest.mark.parametrize("text", ["1.5", "three", "", "2 pods", "true"])
def test_replicas_rejects_what_is_not_a_whole_number(text):
    refused("replicas", text)


def test_replicas_argument_rejects_a_boolean():
    refused("replicas", True)


# --- quantities ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["500m", "2", "0.5", "512Mi", "20Gi", "1e3", "1.5G"])
@pytest.mark.parametrize("key", QUANTITY_KEYS)
def test_quantity_keys_accept_kubernetes_quantities(key, text):
    assert accepted(key, text) == text


@pytest.mark.parametrize("text", ["lots", "1GB", "1 Gi", "-1Gi", "Gi", "1.5.0", "1gi"])
@pytest.mark.parametrize("key", QUANTITY_KEYS)
def test_quantity_keys_reject_what_kubernetes_cannot_parse(key, text):
    refused(key, text)


@pytest.mark.parametrize("text", ["0", "0Gi", "0.0"])
@pytest.mark.parametrize("key", QUANTITY_KEYS)
def test_quantity_keys_reject_zero(key, text):
    refused(key, text)


@pytest.mark.parametrize("key", OPTIONAL_QUANTITY_KEYS)
def test_cpu_limits_accept_empty_for_no_limit(key):
    assert accepted(key, "") == ""


@pytest.mark.parametrize("key", sorted(set(QUANTITY_KEYS) - set(OPTIONAL_QUANTITY_KEYS)))
def test_sizes_requests_and_memory_limits_reject_empty(key):
    refused(key, "")


@pytest.mark.parametrize("request_key, limit_key", [("serverMemoryRequest", "serverMemoryLimit"),
                                                    ("backupCpuRequest", "backupCpuLimit"),
                                                    ("agentMemoryRequest", "agentMemoryLimit")])
def test_request_above_its_limit_is_rejected(render, request_key, limit_key):
    assert rejection(render, **{request_key: "4", limit_key: "2"}).setting.key in (request_key,
                                                                                    limit_key)


# --- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["orders", "orders-db", "db2", "a" * 52])
def test_cluster_name_accepts_dns_labels_of_up_to_52_characters(text):
    assert accepted("clusterName", text) == text


@pytest.mark.parametrize("text", ["Orders", "orders_db", "orders.db", "-orders", "orders-", "",
                                  "orders db"])
def test_cluster_name_rejects_what_is_not_a_dns_label(text):
    refused("clusterName", text)


def test_cluster_name_rejects_a_leading_digit_because_service_names_need_a_letter():
    refused("clusterName", "2orders")


def test_cluster_name_rejects_53_characters():
    refused("clusterName", "a" * 53)


@pytest.mark.parametrize("text", ["orders-read", "orders-primary", "orders-credentials",
                                  "orders-topology", "orders-switchover", "orders-primary-2",
                                  "orders-backup", "orders-metrics", "orders-tls",
                                  "orders-scripts-0a1b2c"])
def test_cluster_name_rejects_the_suffixes_of_another_clusters_objects(text):
    assert "a cluster names its own objects that way" in str(refused("clusterName", text))


@pytest.mark.parametrize("text", ["orders-readonly", "primary", "db-2", "orders-tlsa"])
def test_cluster_name_accepts_names_that_merely_contain_a_suffix(text):
    assert accepted("clusterName", text) == text


def test_no_two_clusters_in_a_namespace_share_an_object_name(rendered):
    """Every name cluster "x" gives its objects is refused as the name of another cluster, so the
    reserved suffixes cover what the cluster creates (they are derived from names.py)."""
    manifests = rendered(clusterName="x", metrics="true", flavor="mariadb", backupTarget="pvc",
                         backupClaim="backups", backupSchedule="@daily", primaryOrdinal="1")
    derived = {manifest["metadata"]["name"] for manifest in manifests
               if manifest["metadata"]["name"].startswith("x-")}
    assert {"x-topology", "x-switchover", "x-primary-1", "x-backup", "x-read"} <= derived
    for name in derived:
        assert "a cluster names its own objects that way" in str(refused("clusterName", name))


def test_longest_cluster_name_leaves_room_for_every_derived_name(rendered):
    manifests = rendered(clusterName="a" * 52, replicas="99")
    statefulset = find(manifests, "StatefulSet")
    label_values = [value for manifest in manifests
                    for value in manifest["metadata"].get("labels", {}).values()]
    selector_values = [value for manifest in manifests if manifest["kind"] == "Service"
                       for value in manifest["spec"]["selector"].values()]
    service_names = [m["metadata"]["name"] for m in manifests if m["kind"] == "Service"]
    # The controller names the last pod "<statefulset>-<replicas - 1>", which is also its
    # hostname, and labels pods with "<statefulset>-<10 character revision hash>".
    last_pod = f"{statefulset['metadata']['name']}-{statefulset['spec']['replicas'] - 1}"
    revision_label = f"{statefulset['metadata']['name']}-{'x' * 10}"
    names = label_values + selector_values + service_names + [last_pod, revision_label]
    assert [name for name in names if len(name) > 63] == []


@pytest.mark.parametrize("text", ["shop", "orders-jobs", "a" * 63])
def test_namespace_accepts_dns_labels_of_up_to_63_characters(text):
    assert accepted("namespace", text) == text


@pytest.mark.parametrize("text", ["Shop", "shop_1", "shop.eu", "-shop", "", "a" * 64])
def test_namespace_rejects_what_is_not_a_dns_label(text):
    refused("namespace", text)


def test_namespace_accepts_a_leading_digit():
    assert accepted("namespace", "1shop") == "1shop"


# --- images ----------------------------------------------------------------------------------

PINNED_REFERENCES = [
    "mysql:8.4.6",
    "docker.io/library/mysql:8.4",
    "localhost:5000/team/mysql:8.4",
    "ghcr.io/org/mysql:8.4-oracle",
    "mysql@sha256:" + "a" * 64,
    "mysql:8.4@sha256:" + "0" * 64,
]


@pytest.mark.parametrize("reference", PINNED_REFERENCES)
@pytest.mark.parametrize("key", IMAGE_KEYS)
def test_image_keys_accept_references_pinned_to_a_tag_or_digest(key, reference):
    assert accepted(key, reference) == reference


@pytest.mark.parametrize("key", IMAGE_KEYS)
def test_image_keys_accept_empty_for_the_servers_default_image(key):
    assert accepted(key, "") == ""


@pytest.mark.parametrize("reference", ["mysql", "MySQL:8.4", "mysql:8.4 ", " ", "mysql:",
                                       "https://docker.io/mysql:8.4", "mysql:8.4:1"])
@pytest.mark.parametrize("key", IMAGE_KEYS)
def test_image_keys_reject_what_is_not_a_pinned_image_reference(key, reference):
    refused(key, reference)


@pytest.mark.parametrize("key", IMAGE_KEYS)
def test_image_keys_reject_the_latest_tag(key):
    assert "instead of 'latest'" in str(refused(key, "mysql:latest"))


@pytest.mark.parametrize("reference", ["registry.example.com/my__team/mysql:8.4",
                                       "registry.example.com/my--team/mysql:8.4"])
def test_image_keys_accept_double_underscore_and_repeated_dash_separators(reference):
    assert accepted("serverImage", reference) == reference


# --- server ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["mysql", "mariadb"])
def test_flavor_accepts_mysql_and_mariadb(text):
    assert accepted("flavor", text) == text


@pytest.mark.parametrize("text", ["postgres", "MySQL", ""])
def test_flavor_rejects_other_servers(text):
    refused("flavor", text)


@pytest.mark.parametrize("text", ["9.0", "8", "5.6", "11"])
def test_version_rejects_lines_no_flavor_supports(text):
    refused("version", text)


@pytest.mark.parametrize("flavor, version", [("mariadb", "8.4"), ("mariadb", "9.7"),
                                             ("mysql", "11.4"), ("mysql", "10.11")])
def test_version_must_be_a_line_of_the_chosen_flavor(render, flavor, version):
    error = rejection(render, flavor=flavor, version=version)
    assert error.setting.key == "version"
    assert f"flavor '{flavor}' supports versions" in str(error)


def test_mysql_57_is_refused_in_one_line_naming_the_upgrade_path(render):
    error = rejection(render, flavor="mysql", version="5.7")
    assert error.setting.key == "version"
    assert "\n" not in str(error)
    assert "upgrade it in place to 8.0, then to 8.4 (and from 8.4 to 9.7)" in str(error)


# --- storage class, lag, spreading -----------------------------------------------------------

@pytest.mark.parametrize("text", ["", "premium-rwo", "fast.ssd"])
def test_storage_class_accepts_dns_subdomains_or_empty_for_the_default(text):
    assert accepted("storageClass", text) == text


@pytest.mark.parametrize("text", ["Premium", "fast_ssd", "fast ssd"])
def test_storage_class_rejects_what_is_not_a_dns_subdomain(text):
    refused("storageClass", text)


@pytest.mark.parametrize("text, value", [("1", 1), ("86400", 86400)])
def test_max_replication_lag_accepts_one_second_to_one_day(text, value):
    assert accepted("maxReplicationLagSeconds", text) == value


@pytest.mark.parametrize("text", ["0", "-5", "ten", "1.5", "86401"])
def test_max_replication_lag_rejects_other_values(text):
    refused("maxReplicationLagSeconds", text)


@pytest.mark.parametrize("text, value", [("1", 1), ("16", 16)])
def test_backup_parallel_accepts_one_to_sixteen_files_at_once(text, value):
    assert accepted("backupParallel", text) == value


@pytest.mark.parametrize("text", ["0", "17", "two"])
def test_backup_parallel_rejects_other_values(text):
    refused("backupParallel", text)


@pytest.mark.parametrize("text, value", [("8192", 8192), ("16777216", 16777216)])
def test_transfer_buffer_accepts_8_kib_to_16_mib(text, value):
    assert accepted("transferBufferBytes", text) == value


@pytest.mark.parametrize("text", ["8191", "16777217", "1M"])
def test_transfer_buffer_rejects_other_values(text):
    refused("transferBufferBytes", text)


@pytest.mark.parametrize("text", ["preferred", "required"])
def test_anti_affinity_accepts_preferred_and_required(text):
    assert accepted("antiAffinity", text) == text


@pytest.mark.parametrize("text", ["always", "Required", ""])
def test_anti_affinity_rejects_other_values(text):
    refused("antiAffinity", text)


@pytest.mark.parametrize("text, value", [("true", True), ("false", False), ("True", True)])
def test_zone_spread_accepts_booleans(text, value):
    assert accepted("zoneSpread", text) is value


@pytest.mark.parametrize("text", ["yes", "1", ""])
def test_zone_spread_rejects_other_values(text):
    refused("zoneSpread", text)


# --- client namespaces -----------------------------------------------------------------------

@pytest.mark.parametrize("value", [[], ["orders", "orders-jobs"], ["*"]])
def test_allowed_client_namespaces_accepts_namespace_names_or_star(value):
    assert accepted("allowedClientNamespaces", value) == value


def test_allowed_client_namespaces_rejects_text_that_is_not_a_yaml_list(render):
    error = rejection(render, allowedClientNamespaces="web")
    assert error.setting.key == "allowedClientNamespaces"
    assert "YAML list" in str(error)


@pytest.mark.parametrize("text", ['"web"', '{"web": 1}', '["Web"]', '["web_1"]', '[""]'])
def test_allowed_client_namespaces_rejects_other_lists_and_values(text):
    refused("allowedClientNamespaces", json.loads(text))


# --- users and secrets -----------------------------------------------------------------------

@pytest.mark.parametrize("text", ["app", "orders_rw", "A1", "a" * 32])
@pytest.mark.parametrize("key", IDENTIFIER_KEYS)
def test_app_user_and_database_accept_identifiers_of_up_to_32_characters(key, text):
    assert accepted(key, text) == text


@pytest.mark.parametrize("text", ["app-user", "1app", "", "app user", "a" * 33, "app`"])
@pytest.mark.parametrize("key", IDENTIFIER_KEYS)
def test_app_user_and_database_reject_other_names(key, text):
    refused(key, text)


@pytest.mark.parametrize("text", ["root", "replicator"])
def test_app_user_rejects_the_names_of_the_clusters_own_users(render, text):
    assert rejection(render, appUser=text).setting.key == "appUser"


@pytest.mark.parametrize("text", ["mysql", "sys"])
def test_app_database_rejects_system_schemas(render, text):
    assert rejection(render, appDatabase=text).setting.key == "appDatabase"


@pytest.mark.parametrize("text", ["", "orders-db-passwords", "team.secret"])
def test_existing_secret_accepts_secret_names_or_empty_to_create_one(text):
    assert accepted("existingSecret", text) == text


@pytest.mark.parametrize("text", ["Orders", "orders_db", "orders db"])
def test_existing_secret_rejects_what_is_not_a_secret_name(text):
    refused("existingSecret", text)


@pytest.mark.parametrize("text", ["cluster.local", "k8s.example.com"])
def test_cluster_domain_accepts_dns_subdomains(text):
    assert accepted("clusterDomain", text) == text


@pytest.mark.parametrize("text", ["", "Cluster.Local", "cluster_local", "cluster.local."])
def test_cluster_domain_rejects_other_values(text):
    refused("clusterDomain", text)


@pytest.mark.parametrize("text", ["a" * 12, "it's \"q\\uoted\" ok", "päßwörd-ünïcödé"])
@pytest.mark.parametrize("key", SECRET_KEYS)
def test_passwords_accept_twelve_or_more_printable_characters(key, text):
    assert accepted(key, text) == text


@pytest.mark.parametrize("text", ["a" * 11, "twelve chars\n", "tab\tseparated-pw"])
@pytest.mark.parametrize("key", SECRET_KEYS)
def test_passwords_reject_short_or_control_characters(key, text):
    refused(key, text)


# --- rules found by the bad-input and security probe -----------------------------------------

@pytest.mark.parametrize("text", ["kube-system", "kube-public", "kube-node-lease"])
def test_namespace_rejects_kubernetes_system_namespaces(render, text):
    error = rejection(render, namespace=text)
    assert error.setting.key == "namespace"
    assert "choose a namespace of your own" in str(error)


def test_star_with_other_namespaces_is_rejected_rather_than_ignoring_them(render):
    error = rejection(render, allowedClientNamespaces='["*", "web"]')
    assert error.setting.key == "allowedClientNamespaces"
    assert "give it alone" in str(error)


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_a_password_beside_an_existing_secret_is_rejected_rather_than_ignored(render, key):
    error = rejection(render, existingSecret="orders-passwords", **{key: "a-long-password-1"})
    assert error.setting.key == key
    assert str(error) == (
        f"invalid value for config key '{key}' (argument '{BY_KEY[key].arg}'): '<secret>'; "
        f"existingSecret (orders-passwords) already holds the passwords; remove {key} or "
        "existingSecret")


def test_mysql_replication_password_longer_than_32_characters_is_rejected(render):
    error = rejection(render, flavor="mysql", replicationPassword="p" * 33)
    assert error.setting.key == "replicationPassword"
    assert "MySQL refuses replication passwords longer than 32 characters" in str(error)
    assert "p" * 33 not in str(error)


def test_mysql_replication_password_of_32_characters_is_accepted(render):
    render(flavor="mysql", replicationPassword="p" * 32)


def test_mariadb_replication_password_may_be_longer_than_32_characters(render):
    render(flavor="mariadb", replicationPassword="p" * 64)


def test_too_long_replication_password_stops_the_component_before_any_resource(mock_monitor):
    assert registered_before_failing(mock_monitor, "orders", {
        "flavor": "mysql", "replication_password": "p" * 33}) == []


@pytest.mark.parametrize("text, value", [("1", 1), ("365", 365)])
def test_binlog_retention_accepts_one_day_to_a_year(text, value):
    assert accepted("binlogRetentionDays", text) == value


@pytest.mark.parametrize("text", ["0", "366", "7d", "1.5"])
def test_binlog_retention_rejects_other_values(text):
    refused("binlogRetentionDays", text)


# --- backups: schedule and restore ------------------------------------------------------------

@pytest.mark.parametrize("text, problem", [
    ("61 25 * * *", "its minute field '61' is not in 0-59"),
    ("0 24 * * *", "its hour field '24' is not in 0-23"),
    ("0 0 0 * *", "its day of month field '0' is not in 1-31"),
    ("0 0 1 13 *", "its month field '13' is not in 1-12 or JAN-DEC"),
    ("0 0 * * 8", "its day of week field '8' is not in 0-7 or SUN-SAT"),
    ("0 0 * * FUN", "its day of week field 'FUN' is not in 0-7 or SUN-SAT"),
    ("*/0 * * * *", "its minute field '*/0' is not in 0-59"),
    ("0 5-2 * * *", "its hour field '5-2' is not in 0-23"),
    ("0 0 31 2 *", "no month of it has that day, so it never fires"),
    ("0 0 31 4,6,9,11 *", "no month of it has that day, so it never fires"),
    ("0 0 30 FEB *", "no month of it has that day, so it never fires"),
    ("0 0 * *", "a schedule has five fields"),
])
def test_backup_schedule_refuses_fields_out_of_range_and_schedules_that_never_fire(text, problem):
    message = str(refused("backupSchedule", text))
    assert f"{text!r}; {problem}; use a cron schedule of five fields" in message


@pytest.mark.parametrize("text", ["30 2 * * *", "@daily", "@weekly", "@hourly", "@yearly",
                                  "*/15 1-5 * JAN-MAR,dec mon-fri", "0 0 29 2 *",
                                  "0 0 31 2 MON", "5 4 * * 7", "0 0 ? * SUN", "0 3 1,15 * *",
                                  "0 0-23/6 * * *"])
def test_backup_schedule_accepts_schedules_that_fire(text):
    assert accepted("backupSchedule", text) == text


@pytest.mark.parametrize("text", ["2026-13-45T99:99:99Z", "2026-02-29T00:00:00Z",
                                  "2026-04-31T12:00:00Z", "2026-01-01T24:00:00Z",
                                  "2026-01-01T12:60:00Z"])
def test_restore_to_refuses_a_time_that_is_no_real_moment(text):
    assert "a real date and time" in str(refused("restoreTo", text))


@pytest.mark.parametrize("text", ["2028-02-29T23:59:59Z", "2026-12-31T00:00:00Z"])
def test_restore_to_accepts_real_utc_times(text):
    assert accepted("restoreTo", text) == text


@pytest.mark.parametrize("text", ["0-1-5,0-2-6", "0-4294967296-1", "4294967296-1-1",
                                  "0-1-18446744073709551616"])
def test_restore_to_refuses_a_gtid_position_mariadb_cannot_hold(text):
    refused("restoreTo", text)


@pytest.mark.parametrize("text", ["0-100-4711", "0-1-5,1-2-6", "4294967295-4294967295-1"])
def test_restore_to_accepts_a_gtid_position_per_domain(text):
    assert accepted("restoreTo", text) == text


@pytest.mark.parametrize("text", ["3e11fa47-71ca-11e1-9e33-c80aa9000100:23",
                                  "3E11FA47-71CA-11E1-9E33-C80AA9000100:1",
                                  "3e11fa47-71ca-11e1-9e33-c80aa9000100:999999999999999999"])
def test_restore_to_accepts_one_mysql_gtid(text):
    assert accepted("restoreTo", text) == text


@pytest.mark.parametrize("text", ["3e11fa47-71ca-11e1-9e33-c80aa9000100:0",
                                  "3e11fa47-71ca-11e1-9e33-c80aa9000100:007",
                                  "3e11fa47-71ca-11e1-9e33-c80aa9000100:1-23",
                                  "3e11fa47-71ca-11e1-9e33-c80aa9000100:23,"
                                  "4e11fa47-71ca-11e1-9e33-c80aa9000100:5",
                                  "3e11fa47-71ca-11e1-9e33-c80aa9000100:1000000000000000000",
                                  "3e11fa47-71ca-11e1-9e33-c80aa9000100:tag:5",
                                  "3e11fa47-71ca-11e1-9e33-c80aa90001:23"])
def test_restore_to_refuses_what_is_not_one_mysql_gtid_naming_the_forms(text):
    message = str(refused("restoreTo", text))
    assert "'restoreTo'" in message and "a MySQL GTID such as" in message
    assert "a MariaDB GTID position such as" in message and "\n" not in message


@pytest.mark.parametrize("text", ["/latest", "/20260101T023000Z", "orders/", "latest/",
                                  "20261345T999999Z", "orders/20260230T000000Z", "a//latest"])
def test_restore_from_refuses_what_is_not_as_documented(text):
    refused("restoreFrom", text)


@pytest.mark.parametrize("text", ["latest", "20260101T023000Z", "orders/latest",
                                  "shop/orders/20260101T023000Z"])
def test_restore_from_accepts_latest_or_a_backup_optionally_after_a_prefix(text):
    assert accepted("restoreFrom", text) == text


# --- server options --------------------------------------------------------------------------

def test_server_options_accept_text_numbers_booleans_and_empty_for_a_bare_flag():
    assert accepted("serverOptions", {"max_connections": 500, "long_query_time": 0.5,
                                      "log_slow_extra": True, "sql_mode": "STRICT_ALL_TABLES",
                                      "skip-log-error": ""}) == {
        "max-connections": "500", "long-query-time": "0.5", "log-slow-extra": "ON",
        "sql-mode": "STRICT_ALL_TABLES", "skip-log-error": ""}


def test_server_options_reject_text_that_is_not_a_yaml_map(render):
    error = rejection(render, serverOptions="max_connections=500")
    assert error.setting.key == "serverOptions"
    assert "YAML map" in str(error)


@pytest.mark.parametrize("value", [["max_connections"], "max_connections"])
def test_server_options_reject_what_is_not_a_map(value):
    assert "use a map of option to value" in str(refused("serverOptions", value))


@pytest.mark.parametrize("name", ["max connections", "1st", "max_connections=", "-port", "a" * 65,
                                  "skip-", "max.connections"])
def test_server_option_names_are_letters_digits_dashes_and_underscores(name):
    assert "name each option" in str(refused("serverOptions", {name: "1"}))


@pytest.mark.parametrize("value", ["1\n[client]", "500 # connections", "[client]", "x" * 1025,
                                   "a\tb"])
def test_server_option_values_are_one_line_without_comments_or_sections(value):
    assert "write each value on one line" in str(refused("serverOptions", {"optimizer_switch": value}))


@pytest.mark.parametrize("value", [{"a": 1}, [1], None])
def test_server_option_values_are_text_or_numbers(value):
    assert "as text or a number" in str(refused("serverOptions", {"optimizer_switch": value}))


def test_server_option_given_twice_in_two_spellings_is_rejected():
    error = refused("serverOptions", {"max_connections": "5", "max-connections": "6"})
    assert "max-connections is given twice" in str(error)


@pytest.mark.parametrize("option", sorted(MANAGED_OPTIONS))
def test_server_options_refuse_every_option_the_cluster_manages_saying_why(option):
    message = str(refused("serverOptions", {option.replace("-", "_"): "1"}))
    assert f"{option} is managed by the cluster ({MANAGED_OPTIONS[option]}); remove it" in message
    assert "\n" not in message


@pytest.mark.parametrize("spelling, option", [
    ("loose-server-id", "server-id"), ("skip-log-bin", "log-bin"), ("disable_log_bin", "log-bin"),
    ("loose_skip_log_bin", "log-bin"), ("server-i", "server-id"), ("SYNC_BINLOG", "sync-binlog"),
    ("skip-grant-tables", "skip-grant-tables"), ("enable-read-only", "read-only"),
])
def test_server_options_refuse_managed_options_in_every_spelling_the_server_reads(spelling, option):
    assert f"{option} is managed by the cluster" in str(refused("serverOptions", {spelling: ""}))


@pytest.mark.parametrize("option", ["sync_binlog", "innodb_flush_log_at_trx_commit"])
def test_server_options_refuse_durability_options_saying_durability_is_managed(option):
    assert "durability is managed" in str(refused("serverOptions", {option: "0"}))


@pytest.mark.parametrize("option", ["log_bin_trust_function_creators", "relay_log_space_limit",
                                    "innodb_buffer_pool_size", "character_set_server",
                                    "replica_parallel_workers", "port_open_timeout"])
def test_server_options_accept_options_whose_names_merely_begin_like_managed_ones(option):
    assert accepted("serverOptions", {option: "1"}) == {option.replace("_", "-"): "1"}


# --- scheduling and integration --------------------------------------------------------------

MAP_KEYS = ["nodeSelector", "podLabels", "podAnnotations", "primaryServiceAnnotations",
            "readServiceAnnotations"]


@pytest.mark.parametrize("key", MAP_KEYS)
def test_map_keys_reject_text_that_is_not_a_yaml_map(render, key):
    error = rejection(render, **{key: "team=orders"})
    assert error.setting.key == key
    assert "YAML map" in str(error)


@pytest.mark.parametrize("key", MAP_KEYS)
@pytest.mark.parametrize("name", ["team", "example.com/team", "a" * 63, "team_1.x-y"])
def test_map_keys_accept_qualified_names(key, name):
    assert accepted(key, {name: "x"}) == {name: "x"}


@pytest.mark.parametrize("key", MAP_KEYS)
@pytest.mark.parametrize("name", ["", "team name", "-team", "a" * 64, "Example.com/team",
                                  "example.com/", "/team", "a/b/c"])
def test_map_keys_reject_what_is_not_a_qualified_name(key, name):
    assert "use keys like" in str(refused(key, {name: "x"}))


@pytest.mark.parametrize("key", ["nodeSelector", "podLabels"])
@pytest.mark.parametrize("value", ["db pool", "a" * 64, "-db", 5])
def test_label_maps_reject_what_is_not_a_label_value(key, value):
    assert "label values" in str(refused(key, {"pool": value}))


@pytest.mark.parametrize("key", ["nodeSelector", "podLabels"])
def test_label_maps_accept_an_empty_label_value(key):
    assert accepted(key, {"pool": ""}) == {"pool": ""}


@pytest.mark.parametrize("label", ["app.kubernetes.io/name", "app.kubernetes.io/instance",
                                   "app.kubernetes.io/component", "app.kubernetes.io/managed-by"])
def test_pod_labels_refuse_the_clusters_own_labels(label):
    assert "the cluster sets this itself" in str(refused("podLabels", {label: "x"}))


def test_pod_labels_accept_other_app_kubernetes_io_labels():
    assert accepted("podLabels", {"app.kubernetes.io/part-of": "shop"}) == {
        "app.kubernetes.io/part-of": "shop"}


def test_pod_annotations_refuse_the_clusters_own_annotation_prefix():
    assert "the cluster sets this itself" in str(refused("podAnnotations",
                                                         {"mysql-cluster/anything": "x"}))


def test_annotations_accept_any_text_value():
    text = "multi\nline: {json: true} # anything"
    assert accepted("readServiceAnnotations", {"example.com/note": text}) == {
        "example.com/note": text}


def test_annotations_of_more_than_256_kib_are_rejected():
    assert "under 256 KiB" in str(refused("podAnnotations", {"example.com/big": "x" * 262144}))


@pytest.mark.parametrize("toleration", [
    {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"},
    {"key": "dedicated", "operator": "Exists"},
    {"operator": "Exists"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 30},
    {"key": "dedicated", "value": "db", "effect": "PreferNoSchedule"},
])
def test_tolerations_accept_what_kubernetes_accepts(toleration):
    assert accepted("tolerations", [toleration]) == [{"operator": "Equal", **toleration}]


@pytest.mark.parametrize("toleration, rule", [
    ({"key": "dedicated", "operator": "In"}, "operator Equal or Exists"),
    ({"key": "dedicated", "effect": "NoRun"}, "effect NoSchedule, PreferNoSchedule or NoExecute"),
    ({"value": "db"}, "without a key, use the operator Exists"),
    ({"key": "dedicated", "operator": "Exists", "value": "db"}, "remove the value"),
    ({"key": "dedicated", "effect": "NoSchedule", "tolerationSeconds": 30},
     "only applies to the effect NoExecute"),
    ({"key": "dedicated", "effect": "NoExecute", "tolerationSeconds": "30s"}, "whole number"),
    ({"key": "dedicated", "effect": "NoExecute", "tolerationSeconds": -1}, "whole number"),
    ({"key": "bad key"}, "taint key like"),
    ({"key": "dedicated", "value": "db pool"}, "taint value"),
    ({"key": "dedicated", "seconds": 5}, "remove seconds"),
    ("dedicated", "give each toleration as a map"),
])
def test_tolerations_reject_what_kubernetes_refuses_saying_what_to_change(toleration, rule):
    error = refused("tolerations", [toleration])
    assert rule in str(error)
    assert "\n" not in str(error)


def test_tolerations_reject_a_map_instead_of_a_list():
    assert "use a list of tolerations" in str(refused("tolerations", {"key": "dedicated"}))


@pytest.mark.parametrize("value", [[], ["registry-credentials", "team.registry"]])
def test_image_pull_secrets_accept_secret_names(value):
    assert accepted("imagePullSecrets", value) == value


@pytest.mark.parametrize("value", ["registry", ["Registry"], [""], [5]])
def test_image_pull_secrets_reject_what_is_not_a_list_of_secret_names(value):
    refused("imagePullSecrets", value)


@pytest.mark.parametrize("key", ["priorityClassName", "serviceAccountName"])
@pytest.mark.parametrize("text", ["", "databases", "system-cluster-critical"])
def test_priority_class_and_service_account_accept_names_or_empty_for_the_default(key, text):
    assert accepted(key, text) == text


@pytest.mark.parametrize("key", ["primaryServiceType", "readServiceType"])
@pytest.mark.parametrize("text", ["ClusterIP", "LoadBalancer", "NodePort"])
def test_service_types_accept_cluster_ip_load_balancer_and_node_port(key, text):
    assert accepted(key, text) == text


def test_primary_ordinal_names_a_pod_of_the_cluster(render):
    error = rejection(render, replicas="3", primaryOrdinal="3")
    assert (error.setting.key, str(error).split("; ", 1)[1]) == (
        "primaryOrdinal", "there are only pods 0 to 2 (replicas 3); name one of them, or raise replicas")


@pytest.mark.parametrize("text, value", [("0", 0), ("2", 2)])
def test_primary_ordinal_accepts_any_pod(text, value):
    assert accepted("primaryOrdinal", text) == value


@pytest.mark.parametrize("text, value", [("0", 0), ("300", 300)])
def test_primary_down_read_seconds_accepts_zero_for_todays_behaviour(text, value):
    assert accepted("primaryDownReadSeconds", text) == value


def test_automatic_failover_needs_three_pods_so_that_a_majority_survives_the_primary(render):
    error = rejection(render, replicas="2", automaticFailover="true")
    assert (error.setting.key, str(error).split("; ", 1)[1]) == (
        "automaticFailover", "a failover needs a majority of the pods to survive, which replicas 2 never has; "
        "set replicas to 3 or more, or automaticFailover false")


def test_automatic_failover_is_off_by_default_with_a_30_second_grace_period():
    assert (BY_KEY["automaticFailover"].default, BY_KEY["failoverGraceSeconds"].default) == (False, 30)
