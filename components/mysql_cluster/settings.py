"""Every setting of a cluster: its stack config key, its argument name, type, default and rule.

This table is the single source for reading stack config (`stack_config.py`) and validating the
arguments of a MySQLCluster (`cluster.py`); `python -m mysql_cluster.tooling.generate` writes
from it Pulumi.yaml's config block, the README's configuration table, MySQLClusterArgs (`args.py`)
and ClusterSettings as the type checker sees it (`cluster_settings.py`).
"""
from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field, make_dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Optional

import pulumi

from mysql_cluster_agent.accounts import RETIRED_SWITCHOVER_USER
from mysql_cluster_agent.backup_manifest import is_backup_name, is_utc_time
from mysql_cluster_agent.peers import ANSWER_SECONDS

from .cron import MACROS as _CRON_MACROS
from .cron import schedule_problem
from .images import is_image_reference, split_image
from .kubernetes_metadata import annotation_map, label_map
from .names import OWN_ANNOTATION_PREFIX, OWN_LABELS, has_reserved_suffix, reserved_name_suffixes
from .quantities import is_positive_quantity, quantity_value
from .scheduling import tolerations
from .user_server_options import extra_server_options


class ConfigError(pulumi.RunError):
    """A setting has a value the cluster cannot be built from.

    A `pulumi.RunError` so that `pulumi up`/`preview` print the message without a traceback.
    """

    def __init__(self, setting: "Setting", value: Any, allowed: str):
        self.setting = setting
        self.value = value
        self.allowed = allowed
        super().__init__(
            f"invalid value for config key '{setting.key}' (argument '{setting.arg}'): "
            f"{value!r}; {allowed}"
        )


# DNS-1035 label: what Service names must be, so what the cluster name must be.
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# DNS-1123 label: what a namespace name must be (it may start with a digit).
_DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# The longest StatefulSet name Kubernetes accepts: its controller-revision-hash label value is
# "<name>-<10 character hash>" and must fit in 63 characters.
MAX_CLUSTER_NAME = 52
MAX_NAMESPACE = 63


# Suffixes the cluster adds to its name for its objects (names.py): a cluster named like that
# would collide with another cluster's objects in the same namespace.
RESERVED_NAME_SUFFIXES = reserved_name_suffixes()


def _cluster_name(setting: "Setting", value: Any) -> Any:
    if (not isinstance(value, str) or not _DNS_1035_LABEL.fullmatch(value)
            or len(value) > MAX_CLUSTER_NAME):
        raise ConfigError(
            setting, value,
            f"use lower-case letters, digits and '-', starting with a letter, "
            f"at most {MAX_CLUSTER_NAME} characters",
        )
    if has_reserved_suffix(value):
        raise ConfigError(
            setting, value,
            "do not end the name with " + ", ".join(RESERVED_NAME_SUFFIXES)
            + " (<n> a number or digest): a cluster names its own objects that way",
        )
    return value


def _namespace_name(setting: "Setting", value: Any) -> Any:
    if not isinstance(value, str) or not _DNS_1123_LABEL.fullmatch(value) or len(value) > MAX_NAMESPACE:
        raise ConfigError(
            setting, value,
            f"use lower-case letters, digits and '-', starting and ending with a letter or "
            f"digit, at most {MAX_NAMESPACE} characters",
        )
    return value


# Kubernetes' own namespaces: every pod there is a cluster component, and the NetworkPolicy would
# open the server port to all of them.
_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def _cluster_namespace(setting: "Setting", value: Any) -> Any:
    _namespace_name(setting, value)
    if value in _SYSTEM_NAMESPACES:
        raise ConfigError(setting, value, "choose a namespace of your own: Kubernetes' system "
                          "namespaces run cluster components, which would all reach the database")
    return value


def _integer(minimum: int, maximum: int) -> Callable[["Setting", Any], Any]:
    def check(setting: "Setting", value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise ConfigError(setting, value, f"use a whole number from {minimum} to {maximum}")
        return value
    return check


def _failover_grace(setting: "Setting", value: Any) -> Any:
    try:
        return _integer(MIN_FAILOVER_GRACE_SECONDS, 3600)(setting, value)
    except ConfigError as error:
        raise ConfigError(setting, error.value, f"{error.allowed}: a primary cut off from the other pods takes up to "
                          f"{FENCE_SECONDS} s to make itself read-only, which must end well before a replica may "
                          "take its place") from None


def _quantity(setting: "Setting", value: Any) -> Any:
    if value == "" and setting.optional:
        return value
    if not isinstance(value, str) or not is_positive_quantity(value):
        raise ConfigError(
            setting, value,
            "use a positive Kubernetes quantity such as 500m, 2, 512Mi or 20Gi"
            + (", or \"\" for none" if setting.optional else ""),
        )
    return value


def _image(setting: "Setting", value: Any) -> Any:
    if value == "":
        return value  # the default image of the chosen server
    if not isinstance(value, str) or not is_image_reference(value):
        tag = digest = None
    else:
        _, tag, digest = split_image(value)
    if tag is None and digest is None:
        raise ConfigError(
            setting, value,
            "use an image reference pinned to a tag or digest, e.g. mysql:8.4.6, "
            "or \"\" for the default image of the chosen server",
        )
    if tag == "latest" and digest is None:
        raise ConfigError(setting, value, "pin a version tag or digest instead of 'latest'")
    return value


def _choice(*choices: str) -> Callable[["Setting", Any], Any]:
    def check(setting: "Setting", value: Any) -> Any:
        if value not in choices:
            raise ConfigError(setting, value, "use one of " + ", ".join(repr(c) for c in choices))
        return value
    return check


# Lines no longer supported, with the way out. MySQL upgrades one release series at a time
# (5.7 -> 8.0 -> 8.4 LTS -> 9.7 LTS; https://dev.mysql.com/doc/refman/8.4/en/upgrade-paths.html).
_REMOVED_VERSIONS = {
    "5.7": "MySQL 5.7 reached end of life in October 2023 and is no longer supported: upgrade it "
           "in place to 8.0, then to 8.4 (and from 8.4 to 9.7), as docs/operations.md describes",
}


def _server_version(setting: "Setting", value: Any) -> Any:
    if value in _REMOVED_VERSIONS:
        raise ConfigError(setting, value, _REMOVED_VERSIONS[value])
    return _choice("", "9.7", "8.4", "8.0", "11.8", "11.4", "10.11")(setting, value)


def _boolean(setting: "Setting", value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(setting, value, "use true or false")
    return value


def _namespaces(setting: "Setting", value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(setting, value, "use a list of namespace names, e.g. [\"web\", \"jobs\"]")
    if "*" in value and len(value) > 1:
        raise ConfigError(setting, value, "\"*\" already allows every namespace; give it alone, "
                          "or list namespaces without it")
    for item in value:
        if item != "*":
            try:
                _namespace_name(setting, item)
            except ConfigError:
                raise ConfigError(
                    setting, value,
                    f"{item!r} is not a namespace name; use DNS labels, or \"*\" for every namespace",
                ) from None
    return list(value)


# A Kubernetes label: an optional DNS-subdomain prefix and "/", a name of at most 63 characters,
# and a value that is empty or like the name.
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL = re.compile(
    rf"^(?:([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?)/)?{_LABEL_NAME}=(?:{_LABEL_NAME})?$")


def _labels(setting: "Setting", value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(setting, value, "use a list of \"key=value\" labels, e.g. "
                          "[\"release=kube-prometheus-stack\"]")
    keys = []
    for item in value:
        if not isinstance(item, str) or not _LABEL.match(item):
            raise ConfigError(setting, value, f"{item!r} is not a Kubernetes label; write "
                              "\"key=value\", e.g. \"release=kube-prometheus-stack\"")
        keys.append(item.split("=", 1)[0])
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ConfigError(setting, value, f"{duplicates[0]!r} is given twice; keep one value")
    return list(value)


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _dns_subdomain(setting: "Setting", value: Any) -> Any:
    if value == "" and setting.optional:
        return value
    if not isinstance(value, str) or not _DNS_SUBDOMAIN.fullmatch(value) or len(value) > 253:
        raise ConfigError(
            setting, value,
            "use lower-case letters, digits, '-' and '.', at most 253 characters"
            + (", or \"\" for none" if setting.optional else ""),
        )
    return value


def _secret_names(setting: "Setting", value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(item, str) and _DNS_SUBDOMAIN.fullmatch(item) and len(item) <= 253
            for item in value):
        raise ConfigError(setting, value, "use a list of Secret names (lower-case letters, "
                          "digits, '-' and '.'), e.g. [\"registry-credentials\"]")
    return list(value)


def _pod_labels(value: Any) -> dict[str, str]:
    return label_map(value, reserved=OWN_LABELS)


def _pod_annotations(value: Any) -> dict[str, str]:
    return annotation_map(value, reserved=(OWN_ANNOTATION_PREFIX,))


SERVICE_TYPES = ("ClusterIP", "LoadBalancer", "NodePort")

# How often the agent looks at the roles and the certificate files, and MariaDB's backup listener
# at the certificate files.
ROLE_WATCH_SECONDS = 5
# How long a writable primary cut off from the other pods takes to fence itself, read-only
# (mysql_cluster_agent/decide.py, _cut_off): the wait for its next look, that look's bound on its
# peers' answers, and a second for the end of the earlier look and the read-only statement.
FENCE_SECONDS = ROLE_WATCH_SECONDS + math.ceil(ANSWER_SECONDS) + 1
# failoverGraceSeconds' least: twice the fence, so that a cut-off primary is read-only with half
# the grace to spare (room for a busy machine) before any replica may promote itself.
MIN_FAILOVER_GRACE_SECONDS = 2 * FENCE_SECONDS

# The cluster's own accounts; the application user must be another one.
REPLICATION_USER = "replicator"
BACKUP_USER = "backup"
METRICS_USER = "metrics"
# The switchover account of earlier versions, which the agents drop: never the application's.
_RESERVED_USERS = ("root", REPLICATION_USER, BACKUP_USER, RETIRED_SWITCHOVER_USER, METRICS_USER)
# Privileges on these would let the application user change any account or the server itself.
_SYSTEM_SCHEMAS = ("mysql", "sys", "information_schema", "performance_schema")


def _mysql_identifier(setting: "Setting", value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", value):
        raise ConfigError(
            setting, value, "use a letter followed by letters, digits or '_', at most 32 characters"
        )
    return value


def _identifier_other_than(reserved: tuple[str, ...], what: str) -> Callable[["Setting", Any], Any]:
    def check(setting: "Setting", value: Any) -> Any:
        _mysql_identifier(setting, value)
        if value.lower() in reserved:
            raise ConfigError(setting, value, f"choose a name other than {what} "
                              + ", ".join(reserved))
        return value
    return check


def _password(setting: "Setting", value: Any) -> Any:
    if not isinstance(value, str) or len(value) < 12 or any(ord(ch) < 32 for ch in value):
        raise ConfigError(
            setting, "<secret>",
            "use at least 12 printable characters, or leave it unset to have one generated",
        )
    return value


# Backups: where they go and when, and where a new cluster restores from (backups.py).
BACKUP_TARGETS = ("", "s3", "pvc")
DEFAULT_RCLONE_IMAGE = "rclone/rclone:1.75.2"
# The agent's interpreter: the official python image, an exact release on Debian 13 (trixie), the
# Debian the e2e harness runs the agent on (docker-library/official-images library/python lists
# the tag; docs/agent.md says why this image).
DEFAULT_AGENT_IMAGE = "python:3.13.9-slim-trixie"
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")
_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
# Without a port, rclone reaches an https endpoint (and AWS S3, endpoint "") on 443, http on 80.
_DEFAULT_PORTS = {"https": 443, "http": 80}


def s3_endpoint_port(endpoint: str) -> int:
    """The TCP port rclone connects to for `endpoint` (a value _ENDPOINT accepts, or "")."""
    scheme, _, rest = (endpoint or "https://").partition("://")
    host_port = rest.rstrip("/")
    if ":" in host_port:
        return int(host_port.rsplit(":", 1)[1])
    return _DEFAULT_PORTS[scheme]


def _s3_endpoint(setting: "Setting", value: Any) -> Any:
    _pattern(_ENDPOINT, "https://s3.example.com:9000")(setting, value)
    if not 1 <= s3_endpoint_port(value) <= 65535:
        raise ConfigError(setting, value, "use a port from 1 to 65535, e.g. "
                          "https://s3.example.com:9000, or leave it out for 443")
    return value


def _cidrs(setting: "Setting", value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(setting, value, "use a list of CIDRs, e.g. [\"203.0.113.0/24\"]")
    for item in value:
        try:
            # Kubernetes wants the prefix length written ("10.0.0.1" alone is refused there).
            if not isinstance(item, str) or "/" not in item:
                raise ValueError(item)
            ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise ConfigError(setting, value, f"{item!r} is not a CIDR; write a network address "
                              "and prefix length, e.g. \"203.0.113.0/24\" or "
                              "\"2001:db8::/32\" (no host bits set)") from None
    return list(value)


def _dns_pod_labels(setting: "Setting", value: Any) -> Any:
    value = _labels(setting, value)
    if not value:
        raise ConfigError(setting, value, "name the labels of the cluster's DNS pods, e.g. "
                          "[\"k8s-app=kube-dns\"] (CoreDNS and kube-dns both carry it)")
    return value
# restoreTo: a UTC time, a MariaDB GTID position (domain-server-sequence, one per domain) or one
# MySQL GTID (source uuid:transaction number). The number has at most 18 digits and no leading
# zero; the restore's hand-over (mysql_cluster_agent/restore_handover.py) and replay-plan
# (replay_plan.py) check it again as a GTID of the cluster's flavor.
RESTORE_GTID = re.compile(r"[0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)*")
RESTORE_MYSQL_GTID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}:[1-9][0-9]{0,17}")
_FLAVOR_NAMES = {"mariadb": "MariaDB", "mysql": "MySQL"}
_RESTORE_GTID_EXAMPLES = {"mariadb": "a MariaDB GTID position such as 0-100-4711 (at most one "
                                     "per domain)",
                          "mysql": "a MySQL GTID such as 3e11fa47-71ca-11e1-9e33-c80aa9000100:23 "
                                   "(its source's uuid and transaction number)"}
# MariaDB's GTID parts: a 32-bit domain id and server id, a 64-bit sequence number.
_GTID_LIMITS = (2**32 - 1, 2**32 - 1, 2**64 - 1)


def _is_gtid_position(text: str) -> bool:
    if not RESTORE_GTID.fullmatch(text):
        return False
    gtids = [tuple(int(part) for part in gtid.split("-")) for gtid in text.split(",")]
    domains = [gtid[0] for gtid in gtids]
    return len(set(domains)) == len(domains) and all(
        part <= limit for gtid in gtids for part, limit in zip(gtid, _GTID_LIMITS))


def _cron_schedule(runs: str) -> Callable[["Setting", Any], Any]:
    """A cron schedule of `runs` (what it schedules), or "" for none."""
    def check(setting: "Setting", value: Any) -> Any:
        if value == "":
            return value
        problem = schedule_problem(value) if isinstance(value, str) else "it is not text"
        if problem:
            raise ConfigError(setting, value, f"{problem}; use a cron schedule of five fields "
                              "(minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7) such "
                              "as \"30 2 * * *\" (02:30 UTC daily), or " + ", ".join(_CRON_MACROS)
                              + f", or \"\" for no scheduled {runs}")
        return value
    return check


def _pattern(pattern: re.Pattern[str], example: str) -> Callable[["Setting", Any], Any]:
    def check(setting: "Setting", value: Any) -> Any:
        if value != "" and (not isinstance(value, str) or not pattern.fullmatch(value)):
            raise ConfigError(setting, value, f"use a value such as {example}, or \"\" for none")
        return value
    return check


def _object_path(setting: "Setting", value: Any) -> Any:
    if value != "" and (not isinstance(value, str) or not all(
            _PATH_SEGMENT.fullmatch(segment) for segment in value.split("/"))):
        raise ConfigError(setting, value, "use path segments of letters, digits, '.', '_' and '-' "
                          "separated by '/', without a leading or trailing '/'")
    return value


def _restore_from(setting: "Setting", value: Any) -> Any:
    if value == "":
        return value
    prefix, slash, name = value.rpartition("/") if isinstance(value, str) else ("", "", None)
    if (name != "latest" and not (name is not None and is_backup_name(name))) or (slash and not prefix) or (
            prefix and _object_path(setting, prefix) != prefix):
        raise ConfigError(setting, value, "use latest or a backup's name (its start time, e.g. "
                          "20260101T023000Z), optionally after the prefix it is stored under "
                          "(e.g. orders/latest), or \"\" to start empty")
    return value


def _restore_gtid_flavor(text: str) -> str | None:
    """The flavor whose GTID form `text` has, if any."""
    if _is_gtid_position(text):
        return "mariadb"
    return "mysql" if RESTORE_MYSQL_GTID.fullmatch(text) else None


def _restore_to_forms(flavors: tuple[str, ...]) -> str:
    return ("use latest (every archived binary log), a UTC time such as 2026-01-01T12:00:00Z (a "
            "real date and time), " + ", ".join(_RESTORE_GTID_EXAMPLES[flavor] for flavor in flavors)
            + ", or \"\" for the backup alone")


def _restore_to(setting: "Setting", value: Any) -> Any:
    if value in ("", "latest") or (isinstance(value, str) and (
            is_utc_time(value) or _restore_gtid_flavor(value))):
        return value
    raise ConfigError(setting, value, _restore_to_forms(("mariadb", "mysql")))


def _checked_by(normalise: Callable[[Any], Any]) -> Callable[["Setting", Any], Any]:
    """A check made of a function that returns the value the component uses, or raises
    ValueError(what to show, what to do instead)."""
    def check(setting: "Setting", value: Any) -> Any:
        try:
            return normalise(value)
        except ValueError as error:
            raise ConfigError(setting, *error.args) from None
    return check


@dataclass(frozen=True)
class Setting:
    key: str  # stack config key, without the project prefix
    arg: str  # field of MySQLClusterArgs
    type: str  # Pulumi.yaml config type: string, integer, boolean, array or object
    default: Any
    description: str
    check: Callable[["Setting", Any], Any]
    secret: bool = False
    optional: bool = False  # "" means "not set" (no limit, cluster default, ...)
    items: str = "string"  # the type of an array's items: string or object

    def validate(self, value: Any) -> Any:
        return self.check(self, value)


SETTINGS: tuple[Setting, ...] = (
    Setting("clusterName", "name", "string", "mysql",
            "Name of the cluster: the StatefulSet, its Services and pods are named from it.",
            _cluster_name),
    Setting("namespace", "namespace", "string", "default",
            "Kubernetes namespace for every resource of the cluster.", _cluster_namespace),
    Setting("replicas", "replicas", "integer", 3,
            "Number of database pods: the primary (pod primaryOrdinal) and read replicas.",
            _integer(1, 99)),
    Setting("flavor", "flavor", "string", "mysql", "Database server: mysql or mariadb.",
            _choice("mysql", "mariadb")),
    Setting("version", "version", "string", "",
            "Server version line: 9.7, 8.4 or 8.0 (end of life) for mysql; 11.8, 11.4 or 10.11 "
            "for mariadb; \"\" for the newest long-term line of the flavor that this package "
            "supports (9.7 or 11.8).",
            _server_version),
    Setting("serverImage", "server_image", "string", "",
            "Image of the database server (mysql container); \"\" for the default of the "
            "chosen flavor and version.", _image),
    Setting("backupImage", "backup_image", "string", "",
            "Image with the backup tool and socat (clone-mysql and backup containers); "
            "\"\" for the default of the chosen flavor and version.", _image),
    Setting("storageSize", "storage_size", "string", "10Gi",
            "Size of each pod's data volume; a larger size grows the volumes in place where the "
            "StorageClass allows expansion, a smaller one is refused by Kubernetes.", _quantity),
    Setting("storageClass", "storage_class", "string", "",
            "StorageClass of the data volumes; \"\" for the cluster's default class. Fixed once "
            "the volumes exist.",
            _dns_subdomain, optional=True),
    Setting("serverCpuRequest", "server_cpu_request", "string", "500m",
            "CPU request of the mysql container.", _quantity),
    Setting("serverMemoryRequest", "server_memory_request", "string", "1Gi",
            "Memory request of the mysql container.", _quantity),
    Setting("serverCpuLimit", "server_cpu_limit", "string", "",
            "CPU limit of the mysql container; \"\" for none.", _quantity, optional=True),
    Setting("serverMemoryLimit", "server_memory_limit", "string", "2Gi",
            "Memory limit of the mysql container.", _quantity),
    Setting("backupCpuRequest", "backup_cpu_request", "string", "100m",
            "CPU request of the backup sidecar and the init containers.", _quantity),
    Setting("backupMemoryRequest", "backup_memory_request", "string", "256Mi",
            "Memory request of the backup sidecar and the init containers.", _quantity),
    Setting("backupCpuLimit", "backup_cpu_limit", "string", "",
            "CPU limit of the backup sidecar and the init containers; \"\" for none.",
            _quantity, optional=True),
    Setting("backupMemoryLimit", "backup_memory_limit", "string", "1Gi",
            "Memory limit of the backup sidecar and the init containers.", _quantity),
    Setting("agentImage", "agent_image", "string", DEFAULT_AGENT_IMAGE,
            "Image that runs the agent (a Python 3 interpreter at python3; the agent's code "
            "comes in a ConfigMap): the official python image, or your mirror of it.", _image),
    Setting("agentCpuRequest", "agent_cpu_request", "string", "20m",
            "CPU request of the agent container.", _quantity),
    Setting("agentMemoryRequest", "agent_memory_request", "string", "48Mi",
            "Memory request of the agent container.", _quantity),
    Setting("agentCpuLimit", "agent_cpu_limit", "string", "",
            "CPU limit of the agent container; \"\" for none.", _quantity, optional=True),
    Setting("agentMemoryLimit", "agent_memory_limit", "string", "256Mi",
            "Memory limit of the agent container; with a backupTarget it also runs rclone, which "
            "uploads the primary's binary logs (one 32 MiB part at a time to s3).", _quantity),
    Setting("maxReplicationLagSeconds", "max_replication_lag_seconds", "integer", 30,
            "A replica is ready (and receives reads) only while it is at most this many seconds "
            "behind the primary.", _integer(1, 86400)),
    Setting("backupParallel", "backup_parallel", "integer", 2,
            "Data files the backup tool copies at once while a new replica clones.",
            _integer(1, 16)),
    Setting("transferBufferBytes", "transfer_buffer_bytes", "integer", 1048576,
            "Bytes socat moves per read and write of a clone's stream (its default is 8192).",
            _integer(8192, 16777216)),
    Setting("binlogRetentionDays", "binlog_retention_days", "integer", 7,
            "Days each server keeps its binary logs; a replica down for longer is rebuilt by "
            "cloning (delete its PersistentVolumeClaim and pod).", _integer(1, 365)),
    Setting("antiAffinity", "anti_affinity", "string", "preferred",
            "Spread pods over nodes: preferred (best effort) or required (one pod per node).",
            _choice("preferred", "required")),
    Setting("zoneSpread", "zone_spread", "boolean", False,
            "Also spread pods evenly over topology.kubernetes.io/zone (best effort).", _boolean),
    Setting("allowedClientNamespaces", "allowed_client_namespaces", "array", [],
            "Namespaces whose pods may connect to port 3306, besides the cluster's own; "
            "\"*\" allows every namespace.", _namespaces),
    Setting("dnsNamespace", "dns_namespace", "string", "kube-system",
            "Namespace of the cluster's DNS pods, the only pods outside the cluster's own that "
            "the database pods and jobs may query (port 53).", _namespace_name),
    Setting("dnsPodLabels", "dns_pod_labels", "array", ["k8s-app=kube-dns"],
            "Labels (\"key=value\") of the cluster's DNS pods in dnsNamespace; CoreDNS and "
            "kube-dns both carry k8s-app=kube-dns.", _dns_pod_labels),
    Setting("appUser", "app_user", "string", "app",
            "Application user, with all privileges on the application database only.",
            _identifier_other_than(_RESERVED_USERS, "the cluster's own users")),
    Setting("appDatabase", "app_database", "string", "app",
            "Database created for the application user.",
            _identifier_other_than(_SYSTEM_SCHEMAS, "the system schemas")),
    Setting("existingSecret", "existing_secret", "string", "",
            "Name of an existing Secret with the keys root-password, replication-password, "
            "backup-password and app-password (backup-key with a backupTarget; role-key, at "
            "least 16 characters that sign the switchover Job's requests to the agents, with "
            "tlsSource none); \"\" to have the stack create one.",
            _dns_subdomain, optional=True),
    Setting("clusterDomain", "cluster_domain", "string", "cluster.local",
            "DNS domain of the Kubernetes cluster, used in the pods' fully qualified names.",
            _dns_subdomain),
    Setting("serverOptions", "server_options", "object", {},
            "Extra [mysqld] options, a map of option to value (\"\" for a bare flag), written "
            "after the cluster's own in the primary's and the replicas' .cnf. Names and values "
            "are checked against the server's own options; options the cluster manages "
            "(server-id, log-bin, GTID, read-only, durability, ...) and those that would defeat "
            "it (replication filters, error skipping, paths, log destinations, init files, "
            "plugins, unsafe durability, SQL modes that change parsing) are refused; see Server "
            "options in the README. Replaces "
            "the defaults innodb-buffer-pool-size (half of serverMemoryLimit, rounded down to a "
            "multiple of 128 MiB, at least 128 MiB), character-set-server (utf8mb4) and "
            "collation-server (utf8mb4_0900_ai_ci on MySQL, "
            "utf8mb4_uca1400_ai_ci on MariaDB) when it names them.",
            _checked_by(extra_server_options)),
    Setting("nodeSelector", "node_selector", "object", {},
            "Node labels and values a node must have to run the pods, e.g. "
            "{\"node-pool\": \"databases\"}.", _checked_by(label_map)),
    Setting("tolerations", "tolerations", "array", [],
            "Node taints the pods tolerate: a list of maps with key, operator (Equal or Exists), "
            "value, effect (NoSchedule, PreferNoSchedule or NoExecute; none for all) and "
            "tolerationSeconds (NoExecute only).", _checked_by(tolerations), items="object"),
    Setting("priorityClassName", "priority_class_name", "string", "",
            "PriorityClass of the pods; \"\" for the cluster's default priority.",
            _dns_subdomain, optional=True),
    Setting("podLabels", "pod_labels", "object", {},
            "Extra labels of the pods; the cluster's own app.kubernetes.io/ labels cannot be "
            "replaced.", _checked_by(_pod_labels)),
    Setting("podAnnotations", "pod_annotations", "object", {},
            "Extra annotations of the pods; keys under mysql-cluster/ are the cluster's own.",
            _checked_by(_pod_annotations)),
    Setting("primaryServiceType", "primary_service_type", "string", "ClusterIP",
            "Type of the Service for writes (<name>-primary): ClusterIP, LoadBalancer or NodePort.",
            _choice(*SERVICE_TYPES)),
    Setting("primaryServiceAnnotations", "primary_service_annotations", "object", {},
            "Annotations of the Service for writes, e.g. for an internal load balancer.",
            _checked_by(annotation_map)),
    Setting("readServiceType", "read_service_type", "string", "ClusterIP",
            "Type of the Service for reads (<name>-read): ClusterIP, LoadBalancer or NodePort.",
            _choice(*SERVICE_TYPES)),
    Setting("readServiceAnnotations", "read_service_annotations", "object", {},
            "Annotations of the Service for reads, e.g. for an internal load balancer.",
            _checked_by(annotation_map)),
    Setting("imagePullSecrets", "image_pull_secrets", "array", [],
            "Secrets (in the cluster's namespace) with credentials for the registries of the "
            "images.", _secret_names),
    Setting("serviceAccountName", "service_account_name", "string", "",
            "ServiceAccount the pods run as; \"\" for the namespace's default. Its API token is "
            "never mounted: the pods do not use the Kubernetes API.",
            _dns_subdomain, optional=True),
    Setting("metrics", "metrics", "boolean", False,
            "Run a Prometheus exporter (mysqld-exporter) beside each server, serving metrics on "
            "port 9104, and serve the agent's own metrics (recovery point, certificate expiry) "
            "on port 9105.", _boolean),
    Setting("metricsImage", "metrics_image", "string", "",
            "Image of the metrics exporter; \"\" for prom/mysqld-exporter:v0.18.0.", _image),
    Setting("metricsClientNamespaces", "metrics_client_namespaces", "array", [],
            "Namespaces whose pods (Prometheus) may scrape ports 9104 and 9105, besides the cluster's own; "
            "\"*\" allows every namespace.", _namespaces),
    Setting("serviceMonitor", "service_monitor", "boolean", False,
            "Create a Prometheus Operator ServiceMonitor for the exporters (needs metrics, and "
            "the operator's CRDs in the cluster).", _boolean),
    Setting("prometheusRule", "prometheus_rule", "boolean", False,
            "Create a Prometheus Operator PrometheusRule with the cluster's alerts (needs "
            "serviceMonitor, whose job the alerts read).", _boolean),
    Setting("prometheusLabels", "prometheus_labels", "array", [],
            "Labels (\"key=value\") of the ServiceMonitor and PrometheusRule, for the "
            "operator's selectors, e.g. [\"release=kube-prometheus-stack\"].", _labels),
    Setting("grafanaDashboard", "grafana_dashboard", "boolean", False,
            "Create a ConfigMap holding the cluster's Grafana dashboard, which Grafana's "
            "dashboard sidecar loads (needs metrics; its panels also read kube-state-metrics and "
            "the kubelet).", _boolean),
    Setting("grafanaDashboardLabels", "grafana_dashboard_labels", "array",
            ["grafana_dashboard=1"],
            "Labels (\"key=value\") of the dashboard's ConfigMap: the Grafana sidecar loads "
            "ConfigMaps with its configured label (kube-prometheus-stack: grafana_dashboard=1).",
            _labels),
    Setting("backupSchedule", "backup_schedule", "string", "",
            "Cron schedule (UTC) of physical backups to backupTarget, e.g. \"30 2 * * *\"; "
            "\"\" for none.", _cron_schedule("backups")),
    Setting("restoreDrillSchedule", "restore_drill_schedule", "string", "30 14 * * *",
            "With a backupSchedule: cron schedule (UTC) of the restore drill, which "
            "restores the newest backup and the archived binary logs into a scratch server and "
            "proves them (docs/operations.md, \"The restore drill\"); by default daily at 14:30, "
            "apart from nightly backups; \"\" for none.", _cron_schedule("restore drills")),
    Setting("backupAlertSeconds", "backup_alert_seconds", "integer", 21600,
            "With prometheusRule and a backupSchedule: how long after its scheduled time a backup "
            "(or a restore drill) may take to succeed before its alert fires; more than the "
            "longest backup.", _integer(600, 7 * 86400)),
    Setting("backupTarget", "backup_target", "string", "",
            "Where backups and archived binary logs go: s3 (any S3-compatible store), pvc (a "
            "PersistentVolumeClaim), or \"\" for nowhere (no backups, no binary log archive).",
            _choice(*BACKUP_TARGETS)),
    Setting("backupS3Endpoint", "backup_s3_endpoint", "string", "",
            "URL of the S3-compatible endpoint, e.g. https://minio.storage:9000; \"\" for AWS S3.",
            _s3_endpoint),
    Setting("backupS3Bucket", "backup_s3_bucket", "string", "",
            "Bucket of the s3 target.", _pattern(_BUCKET, "db-backups")),
    Setting("backupS3EgressCidrs", "backup_s3_egress_cidrs", "array", [],
            "Address ranges (CIDRs) of the s3 target's endpoint: the only addresses the database "
            "pods and backup jobs may connect to outside the cluster, on the endpoint's port; [] "
            "for any address on that port (see Network access in the README).", _cidrs),
    Setting("backupS3Region", "backup_s3_region", "string", "",
            "Region of the s3 target's bucket; \"\" for the store's default.",
            _pattern(_REGION, "eu-west-1")),
    Setting("backupS3Secret", "backup_s3_secret", "string", "",
            "Name of a Secret in the cluster's namespace with the keys access-key-id and "
            "secret-access-key of the s3 target.", _dns_subdomain, optional=True),
    Setting("backupClaim", "backup_claim", "string", "",
            "Name of an existing PersistentVolumeClaim (ReadWriteMany, or on the pods' node) of the "
            "pvc target.", _dns_subdomain, optional=True),
    Setting("backupPrefix", "backup_prefix", "string", "",
            "Path under the bucket or claim where this cluster keeps backups and binary logs; "
            "\"\" for <stack>/<namespace>/<cluster name>. Give each cluster its own.", _object_path),
    Setting("backupRetentionCount", "backup_retention_count", "integer", 7,
            "Complete backups kept; older ones are deleted after each successful backup "
            "(0: no limit by count).", _integer(0, 10000)),
    Setting("backupRetentionDays", "backup_retention_days", "integer", 0,
            "Days a complete backup is kept, the newest always (0: no limit by age).",
            _integer(0, 36500)),
    Setting("binlogArchiveIntervalSeconds", "binlog_archive_interval_seconds", "integer", 300,
            "With a backupTarget, the primary rotates its binary log at least this often while "
            "it is written to, and copies every closed one to the target: the most a "
            "point-in-time restore can miss.", _integer(10, 86400)),
    Setting("backupThrottleBytesPerSecond", "backup_throttle_bytes_per_second", "integer", 0,
            "Limit of the data files a donor reads per second for backups and clones, rounded up "
            "to whole MiB (MariaDB: the backup tool's --throttle; MySQL: the CLONE plugin's "
            "clone_max_data_bandwidth on the receiving side); 0 for no limit.",
            _integer(0, 10 * 2**30)),
    Setting("rcloneImage", "rclone_image", "string", DEFAULT_RCLONE_IMAGE,
            "Image whose rclone (a static binary) uploads and downloads backups.", _image),
    Setting("restoreFrom", "restore_from", "string", "",
            "Backup that pod 0 starts from when its data volume is empty: latest, or a backup's "
            "name, optionally after another prefix of the target (orders/latest); \"\" to "
            "start empty.", _restore_from),
    Setting("restoreTo", "restore_to", "string", "",
            "With restoreFrom, replay archived binary logs up to: latest, a UTC time "
            "(2026-01-01T12:00:00Z), or a GTID: on MariaDB a position (0-100-4711), on MySQL "
            "one transaction's uuid:number, replayed up to and including it; \"\" for the "
            "backup alone.",
            _restore_to),
    Setting("primaryOrdinal", "primary_ordinal", "integer", 0,
            "Ordinal of the pod that is the primary (takes writes). Changing it moves the primary: "
            "a switchover, or a failover when the old primary is unreachable (its unreplicated "
            "writes are then lost); see docs/operations.md.", _integer(0, 98)),
    Setting("primaryDownReadSeconds", "primary_down_read_seconds", "integer", 300,
            "While the primary is down (not merely unreachable from one replica), replicas that "
            "were caught up keep receiving reads until its last heartbeat is this many seconds "
            "old; 0 takes them out at maxReplicationLagSeconds.", _integer(0, 86400)),
    Setting("automaticFailover", "automatic_failover", "boolean", False,
            "Let the pods' agents promote a replica by themselves when the primary has not "
            "answered for failoverGraceSeconds and a majority of the pods agree (the most "
            "advanced replica, lowest ordinal on a tie); what the old primary sent to no replica is "
            "lost (docs/operations.md#automatic-failover). Needs replicas 3 or more.", _boolean),
    Setting("failoverGraceSeconds", "failover_grace_seconds", "integer", 30,
            "With automaticFailover, how long the primary's heartbeat may be silent on every "
            "answering pod before it is declared lost; at least twice the "
            f"{FENCE_SECONDS} s a primary cut off from the others takes to make itself read-only.",
            _failover_grace),
    Setting("tlsSource", "tls_source", "string", "self-signed",
            "Where the servers' TLS certificate comes from: self-signed (a CA the stack creates "
            "and keeps in its state), cert-manager (a Certificate signed by tlsIssuer), secret "
            "(the Secret tlsSecret) or none (no TLS: clients, replication and clones in plain "
            "text).", _choice("self-signed", "cert-manager", "secret", "none")),
    Setting("tlsIssuer", "tls_issuer", "string", "",
            "Name of the cert-manager Issuer or ClusterIssuer (tlsIssuerKind) that signs the "
            "cluster's Certificate; required with tlsSource cert-manager.",
            _dns_subdomain, optional=True),
    Setting("tlsIssuerKind", "tls_issuer_kind", "string", "Issuer",
            "Kind of tlsIssuer: Issuer (in the cluster's namespace) or ClusterIssuer.",
            _choice("Issuer", "ClusterIssuer")),
    Setting("tlsSecret", "tls_secret", "string", "",
            "Name of an existing Secret with tls.crt, tls.key and ca.crt: a certificate for "
            "server and client authentication naming *.<clusterName>.<namespace>.svc."
            "<clusterDomain>, the Services and 127.0.0.1 (see TLS in the README); required with "
            "tlsSource secret.", _dns_subdomain, optional=True),
    Setting("requireClientTls", "require_client_tls", "boolean", False,
            "Refuse client connections without TLS (require_secure_transport); needs a "
            "tlsSource other than none.", _boolean),
    Setting("rootPassword", "root_password", "string", None,
            "Root password (secret); generated when unset.", _password, secret=True),
    Setting("replicationPassword", "replication_password", "string", None,
            "Password of the replication user (secret); generated when unset.",
            _password, secret=True),
    Setting("backupPassword", "backup_password", "string", None,
            "Password of the backup user (secret); generated when unset.", _password, secret=True),
    Setting("appPassword", "app_password", "string", None,
            "Password of the application user (secret); generated when unset.",
            _password, secret=True),
    Setting("backupKey", "backup_key", "string", None,
            "Key that encrypts and authenticates every backup and archived binary log before it "
            "leaves the pod (rclone crypt; secret, key backup-key of the credentials Secret); "
            "generated when unset and backupTarget is set. Without it the backups cannot be read: "
            "keep a copy outside the cluster (docs/operations.md). A restore uses this key, so a "
            "cluster restoring another's backups sets it to that cluster's key.",
            _password, secret=True),
)

BY_KEY = {s.key: s for s in SETTINGS}
BY_ARG = {s.arg: s for s in SETTINGS}
PASSWORD_SETTINGS = tuple(s for s in SETTINGS if s.secret)


_VALUE_TYPES = {"string": "str", "integer": "int", "boolean": "bool", "object": "dict[str, str]"}
_ITEM_TYPES = {"string": "str", "object": "dict[str, Any]"}


def value_type(setting: Setting) -> str:
    """The annotation of the setting's validated value, as source text."""
    if setting.secret:
        return "Optional[pulumi.Input[str]]"  # None until generated; an Output when a secret
    if setting.type == "array":
        return f"list[{_ITEM_TYPES[setting.items]}]"
    return _VALUE_TYPES[setting.type]


# One attribute per setting, named as its argument: a new row of SETTINGS is a new attribute.
# Passwords stay out of its repr, so that logging the settings shows none.
if TYPE_CHECKING:
    from .cluster_settings import (
        ClusterSettings as ClusterSettings,  # this class as generated for the type checker
    )
else:
    ClusterSettings = make_dataclass(
        "ClusterSettings", [(s.arg, value_type(s), field(repr=not s.secret)) for s in SETTINGS],
        frozen=True,
        namespace={"__doc__": "Every setting of a cluster, validated, with defaults filled in.",
                   "__module__": __name__})


def validated(values: dict[str, Any]) -> ClusterSettings:
    """Every setting validated, with defaults filled in.

    `values` is keyed by argument name; a missing or None value takes the default.
    Secret settings may be Outputs; they are validated once known.
    """
    result: dict[str, Any] = {}
    for setting in SETTINGS:
        value = values.get(setting.arg)
        if value is None:
            result[setting.arg] = setting.default
        elif isinstance(value, pulumi.Output):
            if not setting.secret:
                raise ConfigError(setting, "<unknown until deployment>",
                                  "this setting shapes the resources, so give it a plain value")
            result[setting.arg] = value.apply(setting.validate)
        else:
            result[setting.arg] = setting.validate(value)
    unknown = set(values) - set(BY_ARG)
    if unknown:
        raise TypeError(f"MySQLClusterArgs has no field(s) {', '.join(sorted(unknown))}")
    settings = ClusterSettings(**result)
    _check_requests_within_limits(settings)
    _check_primary_is_a_pod(settings)
    _check_failover_has_a_majority(settings)
    _check_passwords_have_one_source(settings)
    _check_backup_settings(settings)
    return _replication_password_length_checked(settings)


def _check_primary_is_a_pod(settings: ClusterSettings) -> None:
    if settings.primary_ordinal >= settings.replicas:
        raise ConfigError(BY_KEY["primaryOrdinal"], settings.primary_ordinal,
                          f"there are only pods 0 to {settings.replicas - 1} (replicas "
                          f"{settings.replicas}); name one of them, or raise replicas")


def _check_failover_has_a_majority(settings: ClusterSettings) -> None:
    # A majority of 2 pods is both: with the primary lost, the survivor alone is never one.
    if settings.automatic_failover and settings.replicas < 3:
        raise ConfigError(BY_KEY["automaticFailover"], True,
                          f"a failover needs a majority of the pods to survive, which replicas "
                          f"{settings.replicas} never has; set replicas to 3 or more, or "
                          "automaticFailover false")


def _check_backup_settings(settings: ClusterSettings) -> None:
    """The backup keys that only make sense together."""
    target = settings.backup_target
    gtid_flavor = _restore_gtid_flavor(settings.restore_to)
    if gtid_flavor not in (None, settings.flavor):
        # Each server's binlog tool stops only at its own GTID form (replay_plan.py).
        raise ConfigError(BY_ARG["restore_to"], settings.restore_to,
                          f"that GTID form is {_FLAVOR_NAMES[gtid_flavor]}'s; on "
                          f"{_FLAVOR_NAMES[settings.flavor]} restoreTo takes: "
                          + _restore_to_forms((settings.flavor,)))
    for arg in ("backup_schedule", "restore_from"):
        if getattr(settings, arg) and not target:
            raise ConfigError(BY_ARG[arg], getattr(settings, arg),
                              "it needs somewhere to keep backups: set backupTarget to s3 or pvc")
    required = {"s3": ("backup_s3_bucket", "backup_s3_secret"), "pvc": ("backup_claim",)}
    for arg in required.get(target, ()):
        if not getattr(settings, arg):
            raise ConfigError(BY_ARG[arg], "", f"backupTarget {target} needs it; set it")
    if settings.backup_s3_egress_cidrs and target != "s3":
        raise ConfigError(BY_ARG["backup_s3_egress_cidrs"], settings.backup_s3_egress_cidrs,
                          "it names where the s3 target's endpoint is; remove it, or set "
                          "backupTarget s3")
    if settings.restore_to and not settings.restore_from:
        raise ConfigError(BY_ARG["restore_to"], settings.restore_to,
                          "it says how far to replay after a restore: set restoreFrom too")


def _check_passwords_have_one_source(settings: ClusterSettings) -> None:
    if not settings.existing_secret:
        return
    for setting in PASSWORD_SETTINGS:
        if getattr(settings, setting.arg) is not None:
            raise ConfigError(setting, "<secret>",
                              f"existingSecret ({settings.existing_secret}) already holds the "
                              f"passwords; remove {setting.key} or existingSecret")


# MySQL refuses replication passwords longer than 32 characters in CHANGE REPLICATION SOURCE
# (ER_CHANGE_SOURCE_PASSWORD_LENGTH, mysql-server sql/sql_yacc.yy); MariaDB takes longer ones.
MAX_MYSQL_REPLICATION_PASSWORD = 32


def _replication_password_length_checked(settings: ClusterSettings) -> ClusterSettings:
    if settings.flavor != "mysql":
        return settings
    setting = BY_ARG["replication_password"]

    def check(password: Any) -> Any:
        if isinstance(password, str) and len(password) > MAX_MYSQL_REPLICATION_PASSWORD:
            raise ConfigError(setting, "<secret>",
                              f"MySQL refuses replication passwords longer than "
                              f"{MAX_MYSQL_REPLICATION_PASSWORD} characters; use a shorter one")
        return password

    password = settings.replication_password
    if isinstance(password, pulumi.Output):
        return replace(settings, replication_password=password.apply(check))
    check(password)
    return settings


def _check_requests_within_limits(settings: ClusterSettings) -> None:
    # Kubernetes refuses a pod whose request exceeds its limit; say so before creating anything.
    for container in ("server", "backup", "agent"):
        for resource in ("cpu", "memory"):
            request = BY_ARG[f"{container}_{resource}_request"]
            limit = BY_ARG[f"{container}_{resource}_limit"]
            requested, limited = getattr(settings, request.arg), getattr(settings, limit.arg)
            if limited and quantity_value(requested) > quantity_value(limited):
                raise ConfigError(request, requested,
                                  f"it is more than {limit.key} ({limited}); "
                                  "lower the request or raise the limit")


def optional_text(value: str) -> Optional[str]:
    """None for a setting left at "" (no limit, cluster default)."""
    return value or None
