"""The database servers the cluster supports: default images and server-specific configuration."""
from __future__ import annotations

from dataclasses import dataclass

from .settings import BY_KEY, ConfigError


@dataclass(frozen=True)
class Server:
    flavor: str
    version: str
    server_image: str  # init-mysql and mysql containers
    backup_image: str  # clone-mysql and backup containers: backup tool, stream tool, socat
    entrypoint_env_prefix: str  # MYSQL_ or MARIADB_: how the image entrypoint's variables start
    read_only_option: str  # how a replica refuses writes from clients

    def entrypoint_env(self, secrets_dir: str) -> dict[str, str]:
        """What the image entrypoint needs to initialise the primary's data directory."""
        return {
            f"{self.entrypoint_env_prefix}ROOT_PASSWORD_FILE": f"{secrets_dir}/root-password",
            # root may only log in from inside its pod; clients use the application user.
            f"{self.entrypoint_env_prefix}ROOT_HOST": "127.0.0.1",
        }

    @property
    def primary_cnf(self) -> str:
        # Binary log names are fixed, so they do not depend on the pod's hostname.
        return (
            "# Applied on the primary (pod 0) only.\n"
            "[mysqld]\n"
            "log-bin=mysql-bin\n"
            "binlog-format=ROW\n"
            "skip-name-resolve\n"
        )

    @property
    def replica_cnf(self) -> str:
        return (
            "# Applied on every replica (pods 1 and up).\n"
            "[mysqld]\n"
            f"{self.read_only_option}\n"
            "relay-log=relay-bin\n"
            "skip-name-resolve\n"
        )


# XtraBackup must match the server's major version (8.0 with 8.0, 8.4 with 8.4, 2.4 with 5.7);
# the mariadb image carries mariadb-backup, mbstream and socat itself.
SERVERS: dict[tuple[str, str], Server] = {
    ("mysql", "8.4"): Server("mysql", "8.4", "mysql:8.4.6", "percona/percona-xtrabackup:8.4",
                             "MYSQL_", "super-read-only"),
    ("mysql", "8.0"): Server("mysql", "8.0", "mysql:8.0.43", "percona/percona-xtrabackup:8.0",
                             "MYSQL_", "super-read-only"),
    # percona/percona-xtrabackup:2.4 has neither socat/ncat nor a mysql client: no default.
    ("mysql", "5.7"): Server("mysql", "5.7", "mysql:5.7.44", "",
                             "MYSQL_", "super-read-only"),
    ("mariadb", "11.4"): Server("mariadb", "11.4", "mariadb:11.4.7", "mariadb:11.4.7",
                                "MARIADB_", "read-only"),
    ("mariadb", "10.11"): Server("mariadb", "10.11", "mariadb:10.11.13", "mariadb:10.11.13",
                                 "MARIADB_", "read-only"),
}


# The newest long-term support line of each flavor, used when no version is configured.
DEFAULT_VERSIONS = {"mysql": "8.4", "mariadb": "11.4"}


def server_for(flavor: str, version: str) -> Server:
    version = version or DEFAULT_VERSIONS[flavor]
    try:
        return SERVERS[(flavor, version)]
    except KeyError:
        supported = ", ".join(v for f, v in SERVERS if f == flavor)
        raise ConfigError(BY_KEY["version"], version,
                          f"flavor {flavor!r} supports versions {supported}") from None
