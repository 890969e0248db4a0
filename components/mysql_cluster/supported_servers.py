"""The database servers the cluster supports: default images and what differs between them."""
from __future__ import annotations

from dataclasses import dataclass

from mysql_cluster_agent.dialect import Dialect, Flavor, dialect_for

from .settings import BY_KEY, ConfigError


@dataclass(frozen=True)
class Server:
    flavor: str
    version: str
    server_image: str  # the mysql container
    # clone-mysql and backup containers. MariaDB: the backup tool, its stream tool and socat (the
    # mariadb image has them). MySQL: the server image, whose own CLONE plugin copies the data.
    backup_image: str

    @property
    def dialect(self) -> Dialect:
        """What differs between the servers, from the table the agent uses too."""
        return dialect_for(Flavor(self.flavor), self.version)

    @property
    def is_mariadb(self) -> bool:
        return self.flavor == "mariadb"

    @property
    def clones_with_plugin(self) -> bool:
        return self.dialect.clones_with_plugin

    @property
    def backup_format(self) -> str:
        """What a backup object holds (backup.<format>): MariaDB's donor sidecar streams an
        xbstream of mariadb-backup; a MySQL backup is a CLONE of a donor into the backup Job's
        scratch volume, archived as a tar by rclone (scripts/backup-clone.sh)."""
        return "xbstream" if self.is_mariadb else "tar"

    @property
    def backup_job_script(self) -> str:
        """The backup Job's script: backup-job.sh streams from a MariaDB donor's sidecar;
        backup-clone.sh gives it MySQL's stream, a CLONE, whose login is the backup user's (so
        only MySQL's Job holds that password)."""
        return "backup-clone.sh" if self.backup_format == "tar" else "backup-job.sh"

    @property
    def backup_stages_a_copy(self) -> bool:
        """Whether the backup Job holds a copy of the data on a disk of its own before the upload:
        the CLONE plugin writes only to a directory."""
        return self.backup_format == "tar"

    @property
    def entrypoint_env_prefix(self) -> str:
        """How the image entrypoint's variables start."""
        return "MARIADB_" if self.is_mariadb else "MYSQL_"

    @property
    def server_command(self) -> str:
        return self.dialect.server_command

    @property
    def read_only_option(self) -> str:
        return self.dialect.read_only_option

    @property
    def schedules_events_when_read_only(self) -> bool:
        return self.dialect.schedules_events_when_read_only

    @property
    def utf8mb4_collation(self) -> str:
        return self.dialect.utf8mb4_collation

    def entrypoint_env(self, secrets_dir: str) -> dict[str, str]:
        """What the image entrypoint needs to initialise the primary's data directory."""
        return {
            f"{self.entrypoint_env_prefix}ROOT_PASSWORD_FILE": f"{secrets_dir}/root-password",
            # root may only log in from inside its pod; clients use the application user.
            f"{self.entrypoint_env_prefix}ROOT_HOST": "127.0.0.1",
        }


# Images are pinned to exact releases: a moving tag would change the server under a running
# cluster at the next pod restart. A MySQL pod runs the server image only: the clone is the
# server's own CLONE plugin, so no XtraBackup image (which had to match the server's major
# version) is needed. The mariadb image carries mariadb-backup, mbstream and socat itself.
# mysql:9.7.1 is the newest 9.7 release docker-library/mysql publishes (versions.json); tests/e2e
# runs Debian's 9.7 build, whose patch release may be newer (tests/e2e/README.md).
SERVERS: dict[tuple[str, str], Server] = {
    ("mysql", "9.7"): Server("mysql", "9.7", "mysql:9.7.1", "mysql:9.7.1"),
    ("mysql", "8.4"): Server("mysql", "8.4", "mysql:8.4.6", "mysql:8.4.6"),
    # End of life since April 2026: supported so that a cluster can move on to 8.4.
    ("mysql", "8.0"): Server("mysql", "8.0", "mysql:8.0.43", "mysql:8.0.43"),
    ("mariadb", "11.8"): Server("mariadb", "11.8", "mariadb:11.8.8", "mariadb:11.8.8"),
    ("mariadb", "11.4"): Server("mariadb", "11.4", "mariadb:11.4.7", "mariadb:11.4.7"),
    ("mariadb", "10.11"): Server("mariadb", "10.11", "mariadb:10.11.13", "mariadb:10.11.13"),
}

# The newest long-term support line of each flavor that this package supports, used when no
# version is configured. Both are what tests/e2e runs for real: MySQL 9.7 and MariaDB 11.8.
DEFAULT_VERSIONS = {"mysql": "9.7", "mariadb": "11.8"}


def server_for(flavor: str, version: str) -> Server:
    version = version or DEFAULT_VERSIONS[flavor]
    try:
        return SERVERS[(flavor, version)]
    except KeyError:
        supported = ", ".join(v for f, v in SERVERS if f == flavor)
        raise ConfigError(BY_KEY["version"], version,
                          f"flavor {flavor!r} supports versions {supported}") from None
