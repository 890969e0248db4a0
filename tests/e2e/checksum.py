"""pt-table-checksum (percona-toolkit), a tool nobody here wrote, compares the replicas' data
with the primary's.

It runs from the MySQL 9.7 tree (Debian sid, the only tree that installs percona-toolkit) in a
client network namespace of its own, for MySQL and MariaDB pods alike: it is a client, and its
Perl driver links MariaDB Connector/C, which speaks to both servers. It connects to the primary
by address, checksums the application database chunk by chunk there with statements that
replicate, and reads the same checksums on every replica, which it finds in a DSN table (the
pods do not set report_host, so ``SHOW REPLICAS`` would not name them).
The account and its password are the test's own; the password reaches the tool through an
option file (``--defaults-file``), never its command line.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cluster import Cluster
from .server_roots import server_root

# The tree whose percona-toolkit runs (tests/e2e/server_roots.py installs it in sid's).
TOOL_SERVER = "mysql-9.7"
CHECKSUM_USER = "checksum"
# Where the tool keeps its results (--replicate) and reads the replicas' DSNs from.
CHECKSUM_DATABASE = "percona"
TIMEOUT = 120


@dataclass(frozen=True)
class ChecksumReport:
    """What pt-table-checksum printed, and the tables its report lines name."""

    exit_status: int
    output: str
    # Per table (db.table): the ERRORS, DIFFS and SKIPPED columns of its line.
    tables: dict[str, tuple[int, int, int]]

    @property
    def differing_tables(self) -> list[str]:
        return sorted(table for table, (_, diffs, _) in self.tables.items() if diffs)


def checksum_replicas(cluster: Cluster, *extra: str) -> ChecksumReport:
    """Run pt-table-checksum on the primary's application database, against every replica, with
    the `extra` options given."""
    harness = cluster.harness
    password = secrets.token_hex(16)
    dsns = ", ".join(f"('h={harness.pod_ip(pod)},P=3306')" for pod in cluster.replicas())
    # All privileges: it sets its session's binlog_format, reads replication status, writes its
    # table; created on the primary, the account and the DSN table replicate to every pod.
    harness.run_sql(cluster.primary, (
        f"CREATE USER IF NOT EXISTS '{CHECKSUM_USER}'@'%' IDENTIFIED BY '{password}';"
        f"ALTER USER '{CHECKSUM_USER}'@'%' IDENTIFIED BY '{password}';"
        f"GRANT ALL ON *.* TO '{CHECKSUM_USER}'@'%';"
        f"CREATE DATABASE IF NOT EXISTS {CHECKSUM_DATABASE};"
        f"CREATE TABLE IF NOT EXISTS {CHECKSUM_DATABASE}.dsns (id INT AUTO_INCREMENT PRIMARY KEY, "
        "parent_id INT NULL, dsn VARCHAR(255) NOT NULL);"
        f"DELETE FROM {CHECKSUM_DATABASE}.dsns;"
        + (f"INSERT INTO {CHECKSUM_DATABASE}.dsns (dsn) VALUES {dsns}" if dsns else "")))
    cluster.wait_caught_up()
    tree = server_root(TOOL_SERVER).path
    client = harness.attach_client("checksum")
    try:
        with tempfile.TemporaryDirectory(dir=tree / "tmp") as scratch:
            options = Path(scratch) / "checksum.cnf"
            options.touch(mode=0o600)
            options.write_text(f"[client]\nuser={CHECKSUM_USER}\npassword={password}\n")
            in_tree = "/" + str(options.relative_to(tree))
            command = [
                "nsenter", f"--net={client.netns_path}", "chroot", str(tree),
                "env", "-i", "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8",
                "pt-table-checksum", f"--defaults-file={in_tree}", "--no-version-check",
                f"--databases={cluster.app_database}",
                f"--replicate={CHECKSUM_DATABASE}.checksums",
                # The replicas log row-based; that breaks only a replica of a replica (which
                # would get the rows of the checksum table rather than the checksum query),
                # and every replica here replicates from the primary.
                "--no-check-binlog-format",
                f"--recursion-method=dsn=D={CHECKSUM_DATABASE},t=dsns",
                *extra,
                f"h={harness.pod_ip(cluster.primary)},P=3306",
            ]
            result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        harness.detach_client(client)
    output = result.stdout + result.stderr
    return ChecksumReport(result.returncode, output, _report_lines(result.stdout))


def assert_replicas_match(cluster: Cluster) -> ChecksumReport:
    """pt-table-checksum checked the application's tables, without an error or a skipped chunk,
    and found no difference between the primary and any replica (exit status 0: its flags
    include one for replicas it did not find, 8, and for a differing table, 16)."""
    report = checksum_replicas(cluster)
    assert report.tables, f"pt-table-checksum checked no table:\n{report.output}"
    assert report.exit_status == 0 and all(
        counts == (0, 0, 0) for counts in report.tables.values()), report.output
    return report


def _report_lines(stdout: str) -> dict[str, tuple[int, int, int]]:
    """TS ERRORS DIFFS ROWS DIFF_ROWS CHUNKS SKIPPED TIME TABLE, one line per table."""
    tables = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) == 9 and fields[1].isdigit():
            tables[fields[8]] = (int(fields[1]), int(fields[2]), int(fields[6]))
    return tables
