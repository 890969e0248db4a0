"""The database servers the cluster supports: default images and what differs between them."""
from __future__ import annotations

from dataclasses import dataclass

from .settings import BY_KEY, ConfigError


@dataclass(frozen=True)
class Server:
    flavor: str
    version: str
    server_image: str  # init-mysql and mysql containers
    backup_image: str  # clone-mysql and backup containers: backup tool, stream tool, socat

    @property
    def is_mariadb(self) -> bool:
        return self.flavor == "mariadb"

    @property
    def speaks_source_replica(self) -> bool:
        """MySQL 8.0.26+ names its replication options and statements SOURCE/REPLICA (8.4 removed
        the old names); 5.7 and MariaDB say MASTER/SLAVE."""
        return self.flavor == "mysql" and self.version != "5.7"

    @property
    def entrypoint_env_prefix(self) -> str:
        """How the image entrypoint's variables start."""
        return "MARIADB_" if self.is_mariadb else "MYSQL_"

    @property
    def read_only_option(self) -> str:
        """How a replica refuses writes: super-read-only also stops privileged clients on MySQL;
        MariaDB's read-only already does, for every user without READ_ONLY ADMIN."""
        return "read-only" if self.is_mariadb else "super-read-only"

    @property
    def utf8mb4_collation(self) -> str:
        """The newest Unicode collation of utf8mb4 the server has: UCA 9.0.0 on MySQL 8, UCA
        14.0.0 on MariaDB (from 10.10), UCA 5.2.0 on MySQL 5.7."""
        if self.is_mariadb:
            return "utf8mb4_uca1400_ai_ci"
        return "utf8mb4_unicode_520_ci" if self.version == "5.7" else "utf8mb4_0900_ai_ci"

    def entrypoint_env(self, secrets_dir: str) -> dict[str, str]:
        """What the image entrypoint needs to initialise the primary's data directory."""
        return {
            f"{self.entrypoint_env_prefix}ROOT_PASSWORD_FILE": f"{secrets_dir}/root-password",
            # root may only log in from inside its pod; clients use the application user.
            f"{self.entrypoint_env_prefix}ROOT_HOST": "127.0.0.1",
        }


# Images are pinned to exact releases: a moving tag would change the server under a running
# cluster at the next pod restart. XtraBackup must match the server's major version (8.0 with 8.0,
# 8.4 with 8.4); the mariadb image carries mariadb-backup, mbstream and socat itself.
SERVERS: dict[tuple[str, str], Server] = {
    ("mysql", "8.4"): Server("mysql", "8.4", "mysql:8.4.6", "percona/percona-xtrabackup:8.4.0-5.1"),
    ("mysql", "8.0"): Server("mysql", "8.0", "mysql:8.0.43", "percona/percona-xtrabackup:8.0.35-34.1"),
    # percona-docker's XtraBackup 2.4 Dockerfile installs socat (since 2025-03) and the 5.7
    # client (since 2025-05), for amd64 only; which published tags were built from it cannot be
    # checked here, so the user names the image.
    ("mysql", "5.7"): Server("mysql", "5.7", "mysql:5.7.44", ""),
    ("mariadb", "11.4"): Server("mariadb", "11.4", "mariadb:11.4.7", "mariadb:11.4.7"),
    ("mariadb", "10.11"): Server("mariadb", "10.11", "mariadb:10.11.13", "mariadb:10.11.13"),
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
