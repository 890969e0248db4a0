"""The one table of what differs between the servers the cluster runs: statement texts, program
names and server facts. The agent builds its statements from it, the component
(mysql_cluster.supported_servers) imports its flavor facts from it and hands the scripts theirs as
environment variables (Dialect.script_environment), so no fact is written twice."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Flavor(enum.Enum):
    MYSQL = "mysql"
    MARIADB = "mariadb"


@dataclass(frozen=True)
class Dialect:
    flavor: Flavor
    # MySQL 8.0.23+ speaks SOURCE/REPLICA (8.4 removed the old words); MariaDB MASTER/SLAVE.
    stop_replica: str
    start_replica: str
    reset_replica_all: str
    change_source: str
    # The prefix of CHANGE ... TO's options: SOURCE_HOST or MASTER_HOST.
    source_option: str
    replica_status: str
    # Empties the binary logs and the GTID state: MySQL 8.4 replaced RESET MASTER by RESET
    # BINARY LOGS AND GTIDS (9.7 too); 8.0 and MariaDB know only the old one.
    reset_binary_logs: str
    # The server option that makes a replica refuse writes: super-read-only also stops
    # privileged clients on MySQL; MariaDB's read-only already does, for every user without
    # READ_ONLY ADMIN.
    read_only_option: str
    # Whether the event scheduler can stay on where the server is read-only. MySQL's refuses
    # every enabled event under super_read_only and logs an error each time one is due (seen on
    # 9.7.4 by tests/e2e/test_replication.py), so MySQL runs it on the writable server only;
    # MariaDB's runs the heartbeat event, whose write checks read_only itself.
    schedules_events_when_read_only: bool
    # MySQL seeds a new replica with its CLONE plugin (8.0.17+), MariaDB by a streamed physical
    # backup (mariadb-backup).
    clones_with_plugin: bool
    # The server program, which the image entrypoint takes as its argument.
    server_command: str
    # The newest Unicode collation of utf8mb4: UCA 9.0.0 on MySQL 8 and 9, UCA 14.0.0 on MariaDB
    # (from 10.10).
    utf8mb4_collation: str
    # A server's GTID state as an SQL expression: MariaDB's binary log state (the last sequence
    # number of every server in every domain) with the replica position (a fresh clone has no
    # binary log yet); MySQL's gtid_executed, which the server prints over several lines.
    gtid_state_expression: str
    # The last transaction of each domain written to the binary log (MariaDB), or the whole GTID
    # set (MySQL): what a switchover waits for on the new primary.
    gtid_position_expression: str
    # A function answering 0 once the server applied a GTID position, waiting up to a number of
    # seconds; -1 (MariaDB) or 1 (MySQL) when it did not in time.
    wait_for_gtid_function: str
    # The longest replication password the server takes: MySQL refuses more than 32 characters
    # (ER_CHANGE_SOURCE_PASSWORD_LENGTH, mysql-server sql/sql_yacc.yy); MariaDB has no limit.
    max_replication_password: int | None
    # Makes the server load renewed certificate files. MariaDB logs a FLUSH unless told not to.
    tls_reload: str
    # The programs of the server's image, each by its names, the first the image should have:
    # the SQL client, the admin client (ping) and the binary log reader. MariaDB's images name
    # them mariadb-* (older builds only by the mysql* and mariabackup names).
    sql_client: tuple[str, ...]
    admin_client: tuple[str, ...]
    binlog_tool: tuple[str, ...]
    # MariaDB's physical backup tool and the extractor of its stream; MySQL copies with the
    # server's CLONE plugin and its image has neither.
    backup_tool: tuple[str, ...]
    stream_tool: tuple[str, ...]
    # The client option file's line that verifies the server's certificate against ssl-ca and
    # its name against the host connected to.
    client_verify_option: str
    # The line a client without TLS needs: MySQL's caching_sha2_password (the default) refuses a
    # plain connection unless the client asks for the server's RSA key, until the account has
    # logged in over TLS once. MariaDB needs none.
    client_without_tls_option: str | None

    @property
    def read_only_variable(self) -> str:
        """The global variable behind read_only_option."""
        return self.read_only_option.replace("-", "_")

    @property
    def replica_thread_columns(self) -> tuple[str, str]:
        """The replica status's columns of the I/O and SQL threads' states: SHOW REPLICA STATUS
        names them Replica_*, SHOW SLAVE STATUS Slave_*."""
        prefix = "Replica" if self.replica_status == "SHOW REPLICA STATUS" else "Slave"
        return f"{prefix}_IO_Running", f"{prefix}_SQL_Running"

    @property
    def replica_source_host_column(self) -> str:
        """The replica status's column of the source's host: Source_Host in SHOW REPLICA
        STATUS, Master_Host in SHOW SLAVE STATUS."""
        return "Source_Host" if self.replica_status == "SHOW REPLICA STATUS" else "Master_Host"

    @property
    def replica_received_gtid_column(self) -> str:
        """The replica status's column of what the replica has received from its source: MySQL's
        Retrieved_Gtid_Set, MariaDB's Gtid_IO_Pos (the I/O thread's GTID position)."""
        return "Gtid_IO_Pos" if self.flavor is Flavor.MARIADB else "Retrieved_Gtid_Set"

    def promote(self) -> list[str]:
        """Makes the server the primary: no replication channel left, writable, so its
        heartbeat event starts writing (and, on MySQL, the event scheduler runs)."""
        statements = [self.stop_replica, self.reset_replica_all, "SET GLOBAL read_only = 0"]
        if not self.schedules_events_when_read_only:
            statements.append("SET GLOBAL event_scheduler = ON")
        return statements

    def demote(self) -> list[str]:
        """Stops writes from clients. Both servers wait for transactions that are committing,
        so the binary log is final once the statement returns."""
        if self.schedules_events_when_read_only:
            return ["SET GLOBAL read_only = 1"]
        return ["SET GLOBAL super_read_only = 1", "SET GLOBAL event_scheduler = OFF"]

    def carry_own_transactions(self) -> list[str]:
        """Before a server that has data follows a primary. A MariaDB server that was the
        primary has its own transactions in gtid_binlog_pos only: gtid_current_pos carries them
        into the replica position (on a server that never wrote it is the replica position).
        MySQL's auto-position uses gtid_executed, which has them all."""
        if self.flavor is Flavor.MARIADB:
            return ["SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos"]
        return []

    def use_gtid_option(self) -> str:
        """The option of CHANGE ... TO that replicates by GTID. caching_sha2_password without
        TLS needs the source's public key (ignored over TLS)."""
        if self.flavor is Flavor.MARIADB:
            return "MASTER_USE_GTID=slave_pos"
        return "GET_SOURCE_PUBLIC_KEY=1, SOURCE_AUTO_POSITION=1"

    def set_clone_position(self) -> list[str]:
        """Moves the GTID state of a fresh clone to the position it was copied at (the SQL
        argument of the statement with %s). MySQL sets gtid_purged only on an empty
        gtid_executed."""
        if self.flavor is Flavor.MARIADB:
            return ["SET GLOBAL gtid_slave_pos = %s"]
        return [self.reset_binary_logs, "SET GLOBAL gtid_purged = %s"]

    def script_environment(self) -> dict[str, str]:
        """The facts the scripts use, as environment variables of every container that runs
        one: the scripts read these instead of telling the servers apart themselves."""
        programs = {"SQL_CLIENT": self.sql_client, "ADMIN_CLIENT": self.admin_client,
                    "BINLOG_TOOL": self.binlog_tool, "BACKUP_TOOL": self.backup_tool,
                    "STREAM_TOOL": self.stream_tool}
        env = {
            **{name: " ".join(names) for name, names in programs.items() if names},
            "SERVER_COMMAND": self.server_command,
            # How a new replica is seeded: clone.sh runs the CLONE plugin or receives a stream.
            "CLONE_METHOD": "plugin" if self.clones_with_plugin else "stream",
            # The server option a server run for one job (restore-replay.sh) turns off to write.
            "READ_ONLY_OPTION": self.read_only_option,
            "CLIENT_VERIFY_OPTION": self.client_verify_option,
        }
        if self.client_without_tls_option is not None:
            env["CLIENT_WITHOUT_TLS_OPTION"] = self.client_without_tls_option
        return env

    def wait_for_gtid(self) -> str:
        """The query that waits for a GTID position and a number of seconds (SQL parameters)."""
        return f"SELECT {self.wait_for_gtid_function}(%s, %s)"


_MYSQL = Dialect(
    flavor=Flavor.MYSQL,
    stop_replica="STOP REPLICA",
    start_replica="START REPLICA",
    reset_replica_all="RESET REPLICA ALL",
    change_source="CHANGE REPLICATION SOURCE TO",
    source_option="SOURCE",
    replica_status="SHOW REPLICA STATUS",
    reset_binary_logs="RESET BINARY LOGS AND GTIDS",
    read_only_option="super-read-only",
    schedules_events_when_read_only=False,
    clones_with_plugin=True,
    server_command="mysqld",
    utf8mb4_collation="utf8mb4_0900_ai_ci",
    gtid_state_expression="@@GLOBAL.gtid_executed",
    gtid_position_expression="@@GLOBAL.gtid_executed",
    wait_for_gtid_function="WAIT_FOR_EXECUTED_GTID_SET",
    max_replication_password=32,
    tls_reload="ALTER INSTANCE RELOAD TLS",
    sql_client=("mysql",),
    admin_client=("mysqladmin",),
    binlog_tool=("mysqlbinlog",),
    backup_tool=(),
    stream_tool=(),
    client_verify_option="ssl-mode=VERIFY_IDENTITY",
    client_without_tls_option="get-server-public-key",
)

_MARIADB = Dialect(
    flavor=Flavor.MARIADB,
    stop_replica="STOP SLAVE",
    start_replica="START SLAVE",
    reset_replica_all="RESET SLAVE ALL",
    change_source="CHANGE MASTER TO",
    source_option="MASTER",
    replica_status="SHOW SLAVE STATUS",
    reset_binary_logs="RESET MASTER",
    read_only_option="read-only",
    schedules_events_when_read_only=True,
    clones_with_plugin=False,
    server_command="mariadbd",
    utf8mb4_collation="utf8mb4_uca1400_ai_ci",
    gtid_state_expression=(
        "CONCAT_WS(',', NULLIF(@@GLOBAL.gtid_binlog_state, ''), NULLIF(@@GLOBAL.gtid_slave_pos, ''))"),
    gtid_position_expression="@@GLOBAL.gtid_binlog_pos",
    wait_for_gtid_function="MASTER_GTID_WAIT",
    max_replication_password=None,
    tls_reload="FLUSH NO_WRITE_TO_BINLOG SSL",
    sql_client=("mariadb", "mysql"),
    admin_client=("mariadb-admin", "mysqladmin"),
    binlog_tool=("mariadb-binlog", "mysqlbinlog"),
    backup_tool=("mariadb-backup", "mariabackup"),
    stream_tool=("mbstream",),
    client_verify_option="ssl-verify-server-cert",
    client_without_tls_option=None,
)

# MySQL 8.0 predates RESET BINARY LOGS AND GTIDS (8.4) and still has RESET MASTER.
_MYSQL_8_0 = Dialect(**{**_MYSQL.__dict__, "reset_binary_logs": "RESET MASTER"})


def dialect_for(flavor: Flavor, version: str = "") -> Dialect:
    """The dialect of a flavor's server; the version matters only for MySQL 8.0."""
    if flavor is Flavor.MARIADB:
        return _MARIADB
    return _MYSQL_8_0 if version == "8.0" else _MYSQL
