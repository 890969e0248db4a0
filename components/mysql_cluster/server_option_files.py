"""The server options every pod starts with: the primary's and the replicas' `.cnf` files.

Replication is GTID-based on every server, every server keeps its own binary log (so any replica
can later become a primary), and durability is written out rather than left to server defaults
that differ between flavors (MariaDB defaults to sync_binlog=0 and binary logs that never expire).
Then come defaults a user may replace through `serverOptions`, and last the user's own options.
"""
from __future__ import annotations

from dataclasses import replace

from .quantities import quantity_value
from .settings import BY_KEY, ClusterSettings, ConfigError
from .supported_servers import Server
from .tls import server_tls_options
from .user_server_options import server_options_for

# A replica that hears nothing from its primary for this long reconnects; the primary sends a
# heartbeat every REPLICATION_HEARTBEAT_SECONDS while idle, so only a dead link stays silent.
# The servers' default (60 s) let a cut-off replica report itself healthy for a minute.
REPLICA_NET_TIMEOUT_SECONDS = 10
REPLICATION_HEARTBEAT_SECONDS = 2


def _durability() -> dict[str, str]:
    return {
        # Every commit is on disk in the binary log and the redo log before the client hears OK.
        "sync-binlog": "1",
        "innodb-flush-log-at-trx-commit": "1",
        "binlog-format": "ROW",
        # Fixed names, so they do not depend on the pod's hostname.
        "log-bin": "mysql-bin",
        "relay-log": "relay-bin",
        # After a crash the replica discards its relay logs and fetches again from where it applied.
        "relay-log-recovery": "ON",
    }


def _replication(server: Server, binlog_retention_days: int) -> dict[str, str]:
    retention_seconds = str(binlog_retention_days * 86400)
    if server.is_mariadb:
        options = {
            "gtid-strict-mode": "ON",
            "log-slave-updates": "ON",
            "slave-net-timeout": str(REPLICA_NET_TIMEOUT_SECONDS),
            # Replication starts only when the backup sidecar has pointed it at the primary.
            "skip-slave-start": "ON",
            "binlog-expire-logs-seconds": retention_seconds,
        }
        if server.version != "10.11":
            # From 11.4 (11.8 too) a primary purges expired binary logs only while a replica is
            # connected; a primary whose replicas are all down would fill its volume.
            options["slave-connections-needed-for-purge"] = "0"
        return options
    options = {
        "gtid-mode": "ON",
        "enforce-gtid-consistency": "ON",
        "log-replica-updates": "ON",
        "replica-net-timeout": str(REPLICA_NET_TIMEOUT_SECONDS),
        "skip-replica-start": "ON",
        "binlog-expire-logs-seconds": retention_seconds,
    }
    if server.clones_with_plugin:
        # Every pod may be a donor of a new replica's CLONE (scripts/backup-clone.sh).
        options["plugin-load-add"] = "mysql_clone.so"
    return options


def server_options(server: Server, role: str, binlog_retention_days: int) -> dict[str, str]:
    """The [mysqld] options of a pod of `role` (primary or replica), in the order written."""
    # The scheduler runs the heartbeat event (mysql_cluster_agent/heartbeat.py) that replicas measure lag by;
    # where it cannot stay on read-only, the agent turns it on when it makes the server the
    # primary (mysql_cluster_agent/role.py).
    scheduler = "ON" if role == "primary" or server.schedules_events_when_read_only else "OFF"
    options = {"skip-name-resolve": "ON", **_durability(),
               **_replication(server, binlog_retention_days), "event-scheduler": scheduler}
    if role == "replica":
        options[server.read_only_option] = "ON"
    return options


MIB = 2**20
# The buffer pool grows and shrinks in chunks of 128 MiB (innodb_buffer_pool_chunk_size), and
# 128 MiB is the servers' own default size.
BUFFER_POOL_STEP = 128 * MIB


def buffer_pool_size(memory_limit: str) -> str:
    """Half the server container's memory limit, rounded down to a multiple of 128 MiB, at least
    128 MiB. The other half is for what the limit also counts and the buffer pool does not:
    per-connection buffers, temporary tables, performance_schema, the binary log cache and the
    page cache of the binary logs; a server above its limit is killed, not slowed down."""
    size = int(quantity_value(memory_limit)) // 2 // BUFFER_POOL_STEP * BUFFER_POOL_STEP
    return f"{max(size, BUFFER_POOL_STEP) // MIB}M"


def _replaceable_defaults(server: Server, memory_limit: str) -> dict[str, str]:
    return {
        "innodb-buffer-pool-size": buffer_pool_size(memory_limit),
        # MariaDB and MySQL 5.7 start with latin1; utf8mb4 stores any text an application sends.
        "character-set-server": "utf8mb4",
        "collation-server": server.utf8mb4_collation,
    }


# The user's options that replace a default: a utf8mb4 collation stops a server that the user
# gave another character set.
_REPLACED_BY = {"collation-server": ("collation-server", "character-set-server")}


def _defaults_kept(defaults: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """The defaults that none of the user's options replace."""
    return {name: value for name, value in defaults.items()
            if not any(option in extra for option in _REPLACED_BY.get(name, (name,)))}


def _line(name: str, value: str) -> str:
    return f"{name}={value}" if value else name  # "" is a bare flag


def cnf_text(role: str, options: dict[str, str], extra: dict[str, str]) -> str:
    starts = ("writable: pod 0 creating a new database" if role == "primary"
              else "read-only: every other start; the primary is made writable once running")
    lines = [f"# mysql-cluster: options of a server that starts {starts}.", "[mysqld]"]
    lines += [_line(name, value) for name, value in options.items()]
    if extra:
        lines += ["# serverOptions", *(_line(name, value) for name, value in extra.items())]
    return "\n".join(lines) + "\n"


def with_checked_server_options(settings: ClusterSettings, server: Server) -> ClusterSettings:
    """The settings with serverOptions checked against what the server knows, each value as its
    option file gets it."""
    try:
        options = server_options_for(server.flavor, server.version, settings.server_options)
    except ValueError as error:
        raise ConfigError(BY_KEY["serverOptions"], *error.args) from None
    return replace(settings, server_options=options)


def cnf_files(server: Server, settings: ClusterSettings) -> dict[str, str]:
    """The ConfigMap's files, by name: init-mysql copies replica.cnf, which starts the server
    read-only, except for pod 0 creating a new database."""
    extra = settings.server_options
    defaults = _defaults_kept(_replaceable_defaults(server, settings.server_memory_limit), extra)
    return {f"{role}.cnf": cnf_text(
                role, {**server_options(server, role, settings.binlog_retention_days),
                       **server_tls_options(settings), **defaults}, extra)
            for role in ("primary", "replica")}
