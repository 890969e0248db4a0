"""Every setting of a cluster: its stack config key, its argument name, type, default and rule.

This table is the single source for reading stack config (`stack_config.py`), validating
`MySQLClusterArgs` (`cluster.py`), and the config reference that tests keep in agreement with
`Pulumi.yaml` and the README.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Optional

import pulumi


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
# Kubernetes resource.Quantity, as the API server parses it.
_QUANTITY = re.compile(
    r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)
# An image reference with an explicit tag or digest: name[:tag][@sha256:...], tag or digest required.
_IMAGE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)

# The longest StatefulSet name Kubernetes accepts: its controller-revision-hash label value is
# "<name>-<10 character hash>" and must fit in 63 characters.
MAX_CLUSTER_NAME = 52
MAX_NAMESPACE = 63


# Suffixes the cluster adds to its name for Services and the Secret: a cluster named like that
# would collide with another cluster's resources in the same namespace.
RESERVED_NAME_SUFFIXES = ("-read", "-primary", "-credentials")


def _cluster_name(setting: "Setting", value: Any) -> Any:
    if (not isinstance(value, str) or not _DNS_1035_LABEL.fullmatch(value)
            or len(value) > MAX_CLUSTER_NAME):
        raise ConfigError(
            setting, value,
            f"use lower-case letters, digits and '-', starting with a letter, "
            f"at most {MAX_CLUSTER_NAME} characters",
        )
    if value.endswith(RESERVED_NAME_SUFFIXES):
        raise ConfigError(
            setting, value,
            "do not end the name with " + ", ".join(RESERVED_NAME_SUFFIXES)
            + ": the cluster names its own Services and Secret that way",
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


def _quantity(setting: "Setting", value: Any) -> Any:
    if value == "" and setting.optional:
        return value
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value) or _is_zero(value):
        raise ConfigError(
            setting, value,
            "use a positive Kubernetes quantity such as 500m, 2, 512Mi or 20Gi"
            + (", or \"\" for none" if setting.optional else ""),
        )
    return value


def _is_zero(quantity: str) -> bool:
    return not re.search(r"[1-9]", re.split(r"[a-zA-Z]", quantity, maxsplit=1)[0])


_SUFFIX_FACTORS = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9,
                   "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20,
                   "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity_value(quantity: str) -> Decimal:
    """The amount a valid Kubernetes quantity stands for, in base units (cores, bytes)."""
    number, suffix = re.fullmatch(r"[+]?([0-9.]+)(.*)", quantity).groups()
    if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
        return Decimal(number) * Decimal(10) ** int(suffix[1:])
    return Decimal(number) * _SUFFIX_FACTORS[suffix]


def _image(setting: "Setting", value: Any) -> Any:
    if value == "":
        return value  # the default image of the chosen server
    if not isinstance(value, str) or not _IMAGE.fullmatch(value) or (":" not in value.rsplit("/", 1)[-1] and "@" not in value):
        raise ConfigError(
            setting, value,
            "use an image reference pinned to a tag or digest, e.g. mysql:8.4.6, "
            "or \"\" for the default image of the chosen server",
        )
    if value.rsplit("/", 1)[-1].split("@")[0].endswith(":latest"):
        raise ConfigError(setting, value, "pin a version tag or digest instead of 'latest'")
    return value


def _choice(*choices: str) -> Callable[["Setting", Any], Any]:
    def check(setting: "Setting", value: Any) -> Any:
        if value not in choices:
            raise ConfigError(setting, value, "use one of " + ", ".join(repr(c) for c in choices))
        return value
    return check


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


# The cluster's own accounts; the application user must be another one.
REPLICATION_USER = "replicator"
BACKUP_USER = "backup"
_RESERVED_USERS = ("root", REPLICATION_USER, BACKUP_USER)
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


@dataclass(frozen=True)
class Setting:
    key: str  # stack config key, without the project prefix
    arg: str  # field of MySQLClusterArgs
    type: str  # Pulumi.yaml config type: string, integer, boolean or array
    default: Any
    description: str
    check: Callable[["Setting", Any], Any]
    secret: bool = False
    optional: bool = False  # "" means "not set" (no limit, cluster default, ...)

    def validate(self, value: Any) -> Any:
        return self.check(self, value)


SETTINGS: tuple[Setting, ...] = (
    Setting("clusterName", "name", "string", "mysql",
            "Name of the cluster: the StatefulSet, its Services and pods are named from it.",
            _cluster_name),
    Setting("namespace", "namespace", "string", "default",
            "Kubernetes namespace for every resource of the cluster.", _cluster_namespace),
    Setting("replicas", "replicas", "integer", 3,
            "Number of database pods; pod 0 is the primary, the others are read replicas.",
            _integer(1, 99)),
    Setting("flavor", "flavor", "string", "mysql", "Database server: mysql or mariadb.",
            _choice("mysql", "mariadb")),
    Setting("version", "version", "string", "",
            "Server version line: 8.4, 8.0 or 5.7 for mysql; 11.4 or 10.11 for mariadb; \"\" for "
            "the newest long-term line of the flavor (8.4 or 11.4).",
            _choice("", "8.4", "8.0", "5.7", "11.4", "10.11")),
    Setting("serverImage", "server_image", "string", "",
            "Image of the database server (init-mysql and mysql containers); \"\" for the "
            "default of the chosen flavor and version.", _image),
    Setting("backupImage", "backup_image", "string", "",
            "Image with the backup tool and socat or ncat (clone-mysql and backup containers); "
            "\"\" for the default of the chosen flavor and version.", _image),
    Setting("storageSize", "storage_size", "string", "10Gi",
            "Size of each pod's data volume.", _quantity),
    Setting("storageClass", "storage_class", "string", "",
            "StorageClass of the data volumes; \"\" for the cluster's default class.",
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
    Setting("appUser", "app_user", "string", "app",
            "Application user, with all privileges on the application database only.",
            _identifier_other_than(_RESERVED_USERS, "the cluster's own users")),
    Setting("appDatabase", "app_database", "string", "app",
            "Database created for the application user.",
            _identifier_other_than(_SYSTEM_SCHEMAS, "the system schemas")),
    Setting("existingSecret", "existing_secret", "string", "",
            "Name of an existing Secret with the keys root-password, replication-password, "
            "backup-password and app-password; \"\" to have the stack create one.",
            _dns_subdomain, optional=True),
    Setting("clusterDomain", "cluster_domain", "string", "cluster.local",
            "DNS domain of the Kubernetes cluster, used in the pods' fully qualified names.",
            _dns_subdomain),
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
            "Name of an existing Secret with tls.crt, tls.key and ca.crt (the certificate must "
            "name every pod and Service and 127.0.0.1, for server and client authentication); "
            "required with tlsSource secret.", _dns_subdomain, optional=True),
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
)

BY_KEY = {s.key: s for s in SETTINGS}
BY_ARG = {s.arg: s for s in SETTINGS}
PASSWORD_SETTINGS = tuple(s for s in SETTINGS if s.secret)


def validated(values: dict[str, Any]) -> dict[str, Any]:
    """Every plain setting validated, with defaults filled in, keyed by argument name.

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
    _check_requests_within_limits(result)
    _check_passwords_have_one_source(result)
    _check_replication_password_length(result)
    return result


def _check_passwords_have_one_source(settings: dict[str, Any]) -> None:
    if not settings["existing_secret"]:
        return
    for setting in PASSWORD_SETTINGS:
        if settings[setting.arg] is not None:
            raise ConfigError(setting, "<secret>",
                              f"existingSecret ({settings['existing_secret']}) already holds the "
                              f"passwords; remove {setting.key} or existingSecret")


# MySQL refuses replication passwords longer than 32 characters in CHANGE REPLICATION SOURCE
# (ER_CHANGE_SOURCE_PASSWORD_LENGTH, mysql-server sql/sql_yacc.yy); MariaDB takes longer ones.
MAX_MYSQL_REPLICATION_PASSWORD = 32


def _check_replication_password_length(settings: dict[str, Any]) -> None:
    if settings["flavor"] != "mysql":
        return
    setting = BY_ARG["replication_password"]

    def check(password: Any) -> Any:
        if isinstance(password, str) and len(password) > MAX_MYSQL_REPLICATION_PASSWORD:
            raise ConfigError(setting, "<secret>",
                              f"MySQL refuses replication passwords longer than "
                              f"{MAX_MYSQL_REPLICATION_PASSWORD} characters; use a shorter one")
        return password

    password = settings[setting.arg]
    if isinstance(password, pulumi.Output):
        settings[setting.arg] = password.apply(check)
    else:
        check(password)


def _check_requests_within_limits(settings: dict[str, Any]) -> None:
    # Kubernetes refuses a pod whose request exceeds its limit; say so before creating anything.
    for container in ("server", "backup"):
        for resource in ("cpu", "memory"):
            request = BY_ARG[f"{container}_{resource}_request"]
            limit = BY_ARG[f"{container}_{resource}_limit"]
            if settings[limit.arg] and (quantity_value(settings[request.arg])
                                        > quantity_value(settings[limit.arg])):
                raise ConfigError(request, settings[request.arg],
                                  f"it is more than {limit.key} ({settings[limit.arg]}); "
                                  "lower the request or raise the limit")


def optional_text(value: str) -> Optional[str]:
    """None for a setting left at "" (no limit, cluster default)."""
    return value or None
