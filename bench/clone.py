"""How fast a new replica joins, and what that costs the running primary.

    python -m bench.clone --size-mb 256 [--server mysql-9.7] [--results bench/results] [--config KEY=VALUE ...]

Needs root and what the end-to-end harness needs (tests/e2e/README.md). --server is a server of
the e2e harness (tests/e2e/server_roots.py): mariadb-10.11 (the default, this machine's own, as
all figures before MySQL), mariadb-11.8 or mysql-9.7 (Debian trees the harness builds once).
In one run, on the same pods, link and data:

1. The real component (dev stack, the server's flavor and version) starts pod 0 in the e2e
   harness, and a deterministic dataset of about --size-mb MB is loaded into the application
   database: 8 InnoDB tables of rows (id, k, 512 random bytes, 512 hex characters), every value
   derived from the row number by SHA-512, so every run on every flavor writes the same bytes:
   the row numbers come from MariaDB's Sequence engine (seq_1_to_N) or, on MySQL, which has no
   such engine, from a recursive common table expression; the value expressions are the same.
   The digest of the rows goes into the results (`dataset_digest`), so runs on two servers show
   that they copied the same data. Half of a row is random bytes and half hex text: rows
   compress by about 15% (zlib), so a stream compressor cannot make the data small for free. The
   load runs outside the binary log, so the donor's data directory holds the data once, not twice.
2. A client in a network namespace of its own, joined to the pod network like another pod
   (the harness's attach_client),
   keeps issuing primary-key SELECTs at the primary as the application user (about 50 a second,
   over one connection) and writes one heartbeat row a second, so the new replica has something
   to catch up on. Its latencies are split by phase: before the clone, during each copy.
3. Clone: the StatefulSet is scaled to 2 and pod 1 is timed from its creation until it is Ready
   and caught up (no replication lag and the primary's GTID position applied). The clone-mysql
   stage is timed by following its log, from the line where the copy starts to its last
   ("clone complete"). MariaDB: from "streaming a backup from" (the stream), including --prepare.
   MySQL: from "cloning" (the CLONE statement, once the temporary server that receives the copy
   runs; starting that server is part of "pod Ready"), including the move into place.
4. Raw copy, the physical limit: the donor's data directory is tar'ed on pod 0 and goes through
   socat to pod 1, which untars it into a scratch directory on its data volume and syncs, as the
   clone does. tar uses 1 MiB records and skips what a server makes anew (see below). MariaDB:
   in the pods' backup containers (the image has socat; the backup stream uses it). MySQL: the
   mysql image has no socat, so this machine's tar and socat run on the pods' network
   namespaces (the same addresses and link) and their data volumes.
5. Logical copy, the naive way, into a scratch server (the image's server, default
   configuration, binary log off) on pod 1's data volume. MariaDB: `mariadb-dump
   --single-transaction --hex-blob` of the application database in pod 0, through socat to pod 1,
   piped into `mariadb`. MySQL: `mysqldump --single-transaction --hex-blob` in pod 1 reads pod 0
   over the same link as the application user (the client protocol carries it, no socat in the
   image; TLS off, as the socat stream), piped into `mysql`.

Throughput of each = the bytes a replica needs from the donor's data directory (all files but
the redo log and the temporary tablespaces, which a server makes anew) / its time, so the ratios
are ratios of times. Progress goes to stderr; the last line on stdout is
`ratio_vs_raw=R ratio_vs_logical=L` (clone throughput divided by each). --results DIR also writes
DIR/clone-<size>mb.json (clone-<server>-<size>mb.json for another server than mariadb-10.11)
for bench/plot.py.

The dev stack's config applies; --config KEY=VALUE sets a stack config key for the run, as
`pulumi config set` would (e.g. backupParallel=1 or transferBufferBytes=8192, socat's own block
size). The raw and logical copies use the socat block size that the clone gets.

--tls-cost measures instead what TLS costs MariaDB's stream (not on MySQL, whose clone has no
socat stream): the same clone (step 3) with tlsSource none and with the default (mutual TLS
between the pods), each on an unconstrained link and with the donor's egress capped at 1 Gbit/s;
one cluster per variant, pod 1 cloned afresh for each link.
Its last line is `tls_stream_ratio_<link>=R ... tls_clone_ratio_<link>=R`: the time over TLS
divided by the plain time (1.00: free; above 1: slower), of the stream and of the whole clone
(stream and --prepare). --results DIR writes DIR/clone-tls-<size>mb.json.

Run it from the project directory, as a module, so that `tests.e2e` is importable.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mysql_cluster.tooling.render import render_stack
from tests.e2e.cluster import Cluster
from tests.e2e.containers import run_in_container
from tests.e2e.harness import HarnessError, StatefulSetHarness
from tests.e2e.server_roots import MACHINE_SERVER, SERVERS, server_root, split_server

PROJECT_DIR = Path(__file__).resolve().parent.parent

PRIMARY, REPLICA = "mysql-0", "mysql-1"
SIDECAR = "backup"  # the container with socat and the backup tools, on the data volume
APP_USER = APP_DATABASE = "app"  # the dev stack's application user and database
DONOR_DATADIR = "/var/lib/mysql"  # where the backup container sees the server's data directory
SCRATCH_PORT = 3308  # the bench's own copies; the backup sidecar has 3307
TABLES = 8
ROW_BYTES = 1340  # on-disk bytes per row, measured (page fill, record headers, the secondary index)
LOAD_CHUNK = 20000
PROBE_RATE = 50  # SELECTs a second
HEARTBEAT_EVERY = 1.0
BASELINE_SECONDS = 15.0
MIB = 2**20
# The redo log (96 MiB preallocated) and the temporary tablespace: a server makes them anew, and
# the backup tool copies only the part of the redo log written during the backup.
RECREATED_FILES = ("ib_logfile0", "ibtmp1")
TUNING_VARIABLES = ("TRANSFER_BUFFER_BYTES", "BACKUP_PARALLEL")  # what the scripts read for speed
DEFAULT_SERVER = MACHINE_SERVER.name  # mariadb-10.11: what every figure before MySQL ran on


@dataclass(frozen=True)
class FlavorBench:
    """What the benchmark does differently on each flavor."""

    # Entries of the data directory that a server makes anew and a clone does not need (MySQL
    # 8.0.30+ keeps its redo log in #innodb_redo and session temporary tablespaces in
    # #innodb_temp; the CLONE plugin copies only the redo written during the clone).
    recreated: tuple[str, ...]
    # The container that logs the clone: MariaDB's clone-mysql (scripts/clone.sh), MySQL's agent
    # (mysql_cluster_agent/mysql_clone.py, into the running server).
    clone_container: str
    # Its log lines that mark the copy's start, its prepare (MariaDB) and its end, and the
    # JoinTimes field each sets.
    clone_marks: dict[str, str]
    lag_column: str  # of SHOW SLAVE/REPLICA STATUS
    # Whether the image has socat, so the raw and logical copies can run in the pods' containers.
    image_has_socat: bool


FLAVORS = {
    "mariadb": FlavorBench(RECREATED_FILES, "clone-mysql", {"streaming a backup from": "clone_started",
                                             "preparing the backup": "prepare_started",
                                             "clone complete": "clone_done"},
                           "Seconds_Behind_Master", image_has_socat=True),
    "mysql": FlavorBench(("#innodb_redo", "#innodb_temp", "ibtmp1"), "agent",
                         {"with the CLONE plugin": "clone_started", "clone complete": "clone_done"},
                         "Seconds_Behind_Source", image_has_socat=False),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# The cluster

def rendered_manifests(config: dict[str, str], server: str = DEFAULT_SERVER) -> list[dict]:
    """The dev stack for `server` (e.g. mysql-9.7) with one pod, and `config` (stack config keys)
    on top."""
    flavor, version = split_server(server)
    return render_stack(PROJECT_DIR, "dev", {"flavor": flavor, "version": version, "replicas": "1",
                                             **config}, reveal_secrets=True)


def cluster(config: dict[str, str], workdir: Path, server: str = DEFAULT_SERVER) -> StatefulSetHarness:
    """The harness for the rendered component on `server`'s tree; use it as a context manager."""
    return StatefulSetHarness(rendered_manifests(config, server), workdir, root=server_root(server))


def flavor_of(harness: StatefulSetHarness) -> FlavorBench:
    return FLAVORS[Cluster(harness).flavor]


def clone_settings(statefulset: dict) -> dict[str, str]:
    """The tuning variables the container that clones gets from the stack config (MariaDB's
    clone-mysql; MySQL's agent, which reads none of them)."""
    spec = statefulset["spec"]["template"]["spec"]
    clone = next(c for c in spec["initContainers"] + spec["containers"] if c["name"] in ("clone-mysql", "agent"))
    return {e["name"]: e["value"] for e in clone["env"] if e["name"] in TUNING_VARIABLES}


def app_password(harness: StatefulSetHarness) -> str:
    return harness.manifests.secret_data(f"{harness.name}-credentials")["app-password"].decode()


def sh(harness: StatefulSetHarness, pod: str, script: str, timeout: float = 600,
       env: dict[str, str] | None = None) -> str:
    """Runs a bash script in the pod's backup container; its stdout."""
    variables = [f"{name}={value}" for name, value in (env or {}).items()]
    argv = ["env", *variables, "bash", "-c", "set -euo pipefail\n" + script]
    return harness.exec(pod, SIDECAR, argv, timeout=timeout).stdout


def data_bytes(harness: StatefulSetHarness, pod: str) -> int:
    """What a replica needs of the donor's data directory: all but what the server recreates."""
    datadir = harness.claim_path(pod) / "mysql"
    recreated = flavor_of(harness).recreated
    return sum(f.stat().st_size for f in datadir.rglob("*")
               if f.is_file() and f.relative_to(datadir).parts[0] not in recreated)


def data_bytes_by_entry(harness: StatefulSetHarness, pod: str) -> dict[str, int]:
    """data_bytes by entry of the data directory (files, and directories with what they hold),
    the largest first: where the flavors' directories differ in size."""
    datadir = harness.claim_path(pod) / "mysql"
    recreated = flavor_of(harness).recreated
    sizes: dict[str, int] = {}
    for path in datadir.rglob("*"):
        entry = path.relative_to(datadir).parts[0]
        if path.is_file() and entry not in recreated:
            sizes[entry] = sizes.get(entry, 0) + path.stat().st_size
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


# The dataset

def wait_for_app_database(harness: StatefulSetHarness) -> None:
    """The backup sidecar creates the users and the application database once the server runs."""
    query = (f"SELECT COUNT(*) FROM mysql.user u JOIN information_schema.schemata s "
             f"ON s.schema_name = '{APP_DATABASE}' WHERE u.user = '{APP_USER}'")
    harness.wait_until(lambda: harness.run_sql(PRIMARY, query) == [("1",)], 120,
                       "the application user and database")


def table_rows(size_mb: int) -> int:
    return max(1, size_mb * MIB // ROW_BYTES // TABLES)


def _hashes(table: int, prefix: str, count: int, binary: bool) -> str:
    parts = [f"SHA2(CONCAT('{table}:', seq, ':{prefix}{i}'), 512)" for i in range(count)]
    if binary:
        parts = [f"UNHEX({part})" for part in parts]
    return "CONCAT(" + ", ".join(parts) + ")"


def numbered_rows(flavor: str, first: int, last: int) -> tuple[str, str]:
    """(what precedes INSERT, what follows INSERT INTO <table>) so that the SELECT list that
    comes next reads `seq` = first..last: the same rows from each flavor's generator."""
    if flavor == "mariadb":
        # The seq_<from>_to_<to> tables of the Sequence engine exist in every database.
        return "", f"SELECT {{values}} FROM seq_{first}_to_{last}"
    # MySQL stops a recursion deeper than cte_max_recursion_depth (1000 by default).
    return (f"SET SESSION cte_max_recursion_depth = {last - first + 1};",
            f"WITH RECURSIVE numbers (seq) AS (SELECT {first} UNION ALL SELECT seq + 1 FROM numbers "
            f"WHERE seq < {last}) SELECT {{values}} FROM numbers")


def load_table(harness: StatefulSetHarness, table: int, rows: int) -> None:
    # 8 x 64 random bytes and 4 x 128 hex characters per row, all from the row number.
    flavor = Cluster(harness).flavor
    sql = [
        "SET SESSION sql_log_bin = 0;",
        f"CREATE TABLE {APP_DATABASE}.bench{table} (id INT UNSIGNED PRIMARY KEY, "
        "k INT UNSIGNED NOT NULL, raw VARBINARY(512) NOT NULL, "
        "hex VARCHAR(512) CHARACTER SET ascii NOT NULL, KEY (k)) ENGINE=InnoDB;",
    ]
    for first in range(1, rows + 1, LOAD_CHUNK):
        last = min(rows, first + LOAD_CHUNK - 1)
        before, rows_of = numbered_rows(flavor, first, last)
        values = (f"seq, CRC32(CONCAT('{table}:', seq)), {_hashes(table, 'r', 8, True)}, "
                  f"{_hashes(table, 'h', 4, False)}")
        sql.append(f"{before} INSERT INTO {APP_DATABASE}.bench{table} {rows_of.format(values=values)};")
    harness.run_sql(PRIMARY, "\n".join(sql), database=APP_DATABASE, timeout=3600)


def load_dataset(harness: StatefulSetHarness, size_mb: int) -> int:
    """Loads the tables two at a time (two cores); returns the rows per table."""
    rows = table_rows(size_mb)
    harness.run_sql(PRIMARY, "SET SESSION sql_log_bin = 0; "
                             f"CREATE TABLE {APP_DATABASE}.heartbeat (id INT PRIMARY KEY, beat BIGINT, "
                             f"at DATETIME(6)); INSERT INTO {APP_DATABASE}.heartbeat VALUES (1, 0, NOW(6))")
    errors: list[BaseException] = []

    def worker(tables: list[int]) -> None:
        try:
            for table in tables:
                load_table(harness, table, rows)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(list(range(w, TABLES + 1, 2)),)) for w in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return rows


def dataset_digest(harness: StatefulSetHarness) -> str:
    """One value over every row of every table, the same on every flavor for the same rows."""
    digests = [harness.run_sql(PRIMARY, f"SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS(':', id, k, HEX(raw), "
                                        f"hex))) FROM {APP_DATABASE}.bench{table}", timeout=600)[0]
               for table in range(1, TABLES + 1)]
    return " ".join(f"{count}:{digest}" for count, digest in digests)


def settle(harness: StatefulSetHarness, timeout: float = 120) -> None:
    """Waits until InnoDB has written back the load, so the baseline is not a flush storm."""
    harness.run_sql(PRIMARY, "SET GLOBAL innodb_max_dirty_pages_pct = 0")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dirty = harness.run_sql(PRIMARY, "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")[0][1]
        if int(dirty) < 100:
            break
        time.sleep(1)
    harness.run_sql(PRIMARY, "SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT")


# The donor's latency, seen from another namespace on the pod network

def probe_donor(netns_path: str, host: str, password: str, rows: int, samples_path: str,
                stop: multiprocessing.synchronize.Event) -> None:
    """Child process: paced point SELECTs over one connection; 'monotonic latency' lines."""
    with Path(samples_path + ".err").open("w") as errors:
        client = subprocess.Popen(
            ["nsenter", f"--net={netns_path}", "mariadb", "--batch", "--skip-column-names", "--unbuffered",
             "--protocol=tcp", f"--host={host}", f"--user={APP_USER}", APP_DATABASE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
            bufsize=1, env={**os.environ, "MYSQL_PWD": password},
        )
    pick = random.Random(7)
    period = 1.0 / PROBE_RATE
    next_heartbeat = next_query = time.monotonic()
    with Path(samples_path).open("w") as samples:
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_heartbeat:
                client.stdin.write("UPDATE heartbeat SET beat = beat + 1, at = NOW(6) WHERE id = 1; "
                                   "SELECT 0;\n")
                client.stdin.flush()
                client.stdout.readline()
                next_heartbeat = now + HEARTBEAT_EVERY
            table, row = pick.randint(1, TABLES), pick.randint(1, rows)
            start = time.perf_counter()
            client.stdin.write(f"SELECT k FROM bench{table} WHERE id = {row};\n")
            client.stdin.flush()
            if not client.stdout.readline():
                raise RuntimeError("the probe's connection to the donor closed: "
                                   + Path(samples_path + ".err").read_text().strip())
            samples.write(f"{time.monotonic():.6f} {time.perf_counter() - start:.6f}\n")
            next_query += period
            time.sleep(max(0.0, next_query - time.monotonic()))
    client.stdin.close()
    client.wait(timeout=10)


class DonorProbe:
    def __init__(self, harness: StatefulSetHarness, client_netns: Path, rows: int, workdir: Path):
        self.samples_path = workdir / "latency.txt"
        context = multiprocessing.get_context("spawn")  # a process of its own: no GIL shared with the harness
        self._stop = context.Event()
        self._process = context.Process(target=probe_donor, args=(
            str(client_netns), harness.pod_ip(PRIMARY), app_password(harness), rows,
            str(self.samples_path), self._stop), daemon=True)
        self._process.start()
        deadline = time.monotonic() + 30
        while not (self.samples_path.exists() and self.samples_path.stat().st_size):
            if not self._process.is_alive() or time.monotonic() > deadline:
                errors = Path(f"{self.samples_path}.err")
                raise HarnessError("the latency probe did not start: "
                                   + (errors.read_text().strip() if errors.exists() else ""))
            time.sleep(0.1)

    def latencies(self, start: float, end: float) -> list[float]:
        values = []
        for line in self.samples_path.read_text().splitlines():
            at, seconds = line.split()
            if start <= float(at) <= end:
                values.append(float(seconds))
        return values

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.kill()
        if self._process.exitcode not in (0, None, -9):
            raise HarnessError(f"the latency probe failed (exit code {self._process.exitcode})")


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"queries": 0, "p50_ms": None, "p99_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)
    return {"queries": len(values), "p50_ms": at(0.50), "p99_ms": at(0.99)}


# 1. The clone, as the component does it

@dataclass
class JoinTimes:
    pod_created: float = 0.0
    clone_started: float = 0.0
    prepare_started: float = 0.0
    clone_done: float = 0.0
    ready: float = 0.0
    caught_up: float = 0.0
    attempts: int = 1

    @property
    def copy_done(self) -> float:
        """When the copy itself ended: before MariaDB's --prepare; MySQL's clone has none."""
        return self.prepare_started or self.clone_done


def caught_up(harness: StatefulSetHarness) -> bool:
    """No lag, and the primary's GTID position applied (tests/e2e/cluster.py's reading of each
    flavor's GTIDs)."""
    cluster = Cluster(harness)
    lag = cluster.replica_status(REPLICA).get(flavor_of(harness).lag_column)
    return lag == "0" and cluster.holds_position(REPLICA, cluster.gtid_position(PRIMARY))


def join_replica(harness: StatefulSetHarness, timeout: float) -> JoinTimes:
    """Scales to 2 and follows pod 1: creation, the clone's log, Ready, caught up."""
    times = JoinTimes()
    failure: list[BaseException] = []
    # The log of an earlier pod 1 (the harness keeps it) until the new one writes its own.
    container = flavor_of(harness).clone_container
    earlier_log = harness.log(REPLICA, container)

    def scale() -> None:
        try:
            harness.scale_to(2, timeout=timeout)
        except BaseException as error:
            failure.append(error)

    scaler = threading.Thread(target=scale, daemon=True)
    scaler.start()
    marks = flavor_of(harness).clone_marks
    while scaler.is_alive():
        now = time.monotonic()
        if not times.pod_created and harness.pod_phase(REPLICA) is not None:
            times.pod_created = now
        if times.pod_created and not times.clone_done:
            log_text = harness.log(REPLICA, container)
            if log_text == earlier_log:
                log_text = ""
            for text, name in marks.items():
                if text in log_text and not getattr(times, name):
                    setattr(times, name, now)
            times.attempts = 1 + log_text.count("failed; retrying") + log_text.count("next donor is tried")
        time.sleep(0.02)
    scaler.join()
    if failure:
        raise failure[0]
    times.ready = time.monotonic()
    missing = [name for name in marks.values() if not getattr(times, name)]
    if missing:
        raise HarnessError(f"the clone's log lacks the lines of {missing}:\n"
                           + harness.log(REPLICA, container))
    harness.wait_until(lambda: caught_up(harness), timeout, "the new replica caught up")
    times.caught_up = time.monotonic()
    return times


# 2. and 3. The raw and the logical copy, between the same pods

def on_pod_network(harness: StatefulSetHarness, pod: str, script: str, timeout: float = 600,
                   env: dict[str, str] | None = None) -> str:
    """Runs a bash script of this machine on the pod's network namespace; its stdout. It sees
    the pods' data volumes at harness.claim_path, not at their mount points."""
    variables = [f"{name}={value}" for name, value in (env or {}).items()]
    argv = ["nsenter", f"--net={harness.pod_netns_path(pod)}", "env", *variables, "bash", "-c",
            "set -euo pipefail\n" + script]
    try:
        result = run_in_container(argv, timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"a copy on {pod}'s network timed out after {timeout} s") from None
    if result.returncode != 0:
        raise HarnessError(f"a copy on {pod}'s network exited with {result.returncode}: "
                           f"{result.stderr.strip()[-2000:]}")
    return result.stdout


def copy_through_socat(harness: StatefulSetHarness, send: str, receive: str, env: dict[str, str],
                       timeout: float, socat_options: str = "", in_image: bool = True) -> float:
    """Serves the output of script `send` once on pod 0; pod 1 pipes it into `receive`. Seconds.

    in_image: the scripts run in the pods' backup containers (their image has socat); otherwise
    this machine's programs run on the pods' network namespaces (on_pod_network).
    The time is taken on pod 1 from connecting to the end of `receive`.
    """
    run_on = sh if in_image else on_pod_network
    sender_error: list[BaseException] = []

    def serve() -> None:
        try:
            # Not socat's EXEC: socat stops reading from a child that exits non-zero, and tar
            # does when a live server's files change under it.
            run_on(harness, PRIMARY, f"{send} | socat -u {socat_options} STDIN "
                                     f"TCP-LISTEN:{SCRATCH_PORT},reuseaddr", timeout=timeout, env=env)
        except BaseException as error:
            sender_error.append(error)

    sender = threading.Thread(target=serve, daemon=True)
    sender.start()
    harness.wait_until(
        lambda: bool(sender_error) or f":{SCRATCH_PORT}" in run_on(harness, PRIMARY, "ss -ltnH"),
        30, "the sender to listen")
    # No cluster DNS outside the pods' containers: the address.
    source = harness.dns_name(PRIMARY) if in_image else harness.pod_ip(PRIMARY)
    out = run_on(harness, REPLICA, f"""
start=$(date +%s.%N)
socat -u {socat_options} TCP:{source}:{SCRATCH_PORT} STDOUT | {receive}
sync
echo "$start $(date +%s.%N)"
""", timeout=timeout)
    sender.join(timeout=60)
    if sender_error:
        raise sender_error[0]
    start, end = map(float, out.split()[-2:])
    return end - start


def raw_copy(harness: StatefulSetHarness, timeout: float, socat_options: str = "") -> float:
    flavor = flavor_of(harness)
    in_image = flavor.image_has_socat
    if in_image:
        datadir, scratch, run_on = DONOR_DATADIR, "/data/bench-raw", sh
    else:
        datadir = str(harness.claim_path(PRIMARY) / "mysql")
        scratch, run_on = str(harness.claim_path(REPLICA) / "bench-raw"), on_pod_network
    run_on(harness, REPLICA, f"rm -rf {scratch}; mkdir {scratch}")
    try:
        # tar exits 1 when a file changed while it read it: expected of a running server.
        excludes = " ".join(shlex.quote(f"--exclude=./{name}") for name in flavor.recreated)
        # 1 MiB records (-b 2048) instead of tar's 10 KiB: a third faster, and this is the limit.
        send = f"{{ tar -cf - -b 2048 {excludes} -C {datadir} . || [[ $? == 1 ]]; }}"
        receive = f"tar -xf - -b 2048 --read-full-records -C {scratch}"
        return copy_through_socat(harness, send, receive, {}, timeout, socat_options, in_image)
    finally:
        run_on(harness, REPLICA, f"rm -rf {scratch}")


class ScratchServer:
    """A second server of the pod's flavor in pod 1's backup container, on its data volume, with
    the server's default configuration (MySQL: no option file read; the image's only one is the
    pod's)."""

    DATADIR, SOCKET, ERRORS = "/data/bench-logical", "/tmp/bench-logical.sock", "/tmp/bench-logical.err"

    def __init__(self, harness: StatefulSetHarness):
        self.harness = harness
        self.mariadb = Cluster(harness).flavor == "mariadb"
        if self.mariadb:
            initialize = (f"mariadb-install-db --datadir={self.DATADIR} "
                          "--auth-root-authentication-method=normal --skip-test-db >/dev/null")
        else:
            initialize = (f"mysqld --no-defaults --initialize-insecure --datadir={self.DATADIR} "
                          f"--log-error={self.ERRORS}")
        sh(harness, REPLICA, f"rm -rf {self.DATADIR}; {initialize}", timeout=300)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        harness.wait_until(lambda: self.sql("SELECT 1", check=False) == "1\n", 60, "the scratch server")

    def _run(self) -> None:
        if self.mariadb:
            server = (f"exec mariadbd --datadir={self.DATADIR} --socket={self.SOCKET} --skip-networking "
                      f"--skip-log-bin --read-only=0 --skip-slave-start --pid-file=/tmp/bench-logical.pid "
                      f"2>{self.ERRORS}")
        else:
            server = (f"exec mysqld --no-defaults --datadir={self.DATADIR} --socket={self.SOCKET} "
                      f"--skip-networking --mysqlx=OFF --skip-log-bin --secure-file-priv=NULL "
                      f"--pid-file=/tmp/bench-logical.pid --log-error={self.ERRORS}")
        sh(self.harness, REPLICA, server, timeout=7200)

    def client(self) -> str:
        """The command line of a root client on its socket."""
        return (f"mariadb --socket={self.SOCKET} --user=root" if self.mariadb
                else f"mysql --no-defaults --socket={self.SOCKET} --user=root")

    def sql(self, statement: str, check: bool = True) -> str:
        result = self.harness.exec(REPLICA, SIDECAR, [
            *self.client().split(), "--batch", "--skip-column-names", "-e", statement], check=check)
        return result.stdout

    def close(self) -> None:
        admin = "mariadb-admin" if self.mariadb else "mysqladmin --no-defaults"
        self.harness.exec(REPLICA, SIDECAR, [*admin.split(), f"--socket={self.SOCKET}", "--user=root",
                                             "shutdown"], timeout=120)
        self._thread.join(timeout=120)
        sh(self.harness, REPLICA, f"rm -rf {self.DATADIR}")


def mysqldump_over_link(harness: StatefulSetHarness, server: ScratchServer, timeout: float) -> float:
    """MySQL: mysqldump in pod 1 reads pod 0 over the pod link as the application user, piped
    into the scratch server. TLS off, as the socat stream of the MariaDB copy. Seconds."""
    options = "/tmp/bench-dump.cnf"  # the password in a file of the container, not in argv
    harness.exec(REPLICA, SIDECAR, ["bash", "-c", f"umask 077; cat >{options}"],
                 input_text=f"[client]\npassword=\"{app_password(harness)}\"\n")
    try:
        out = sh(harness, REPLICA, f"""
start=$(date +%s.%N)
mysqldump --defaults-file={options} --protocol=tcp --host={harness.dns_name(PRIMARY)} --user={APP_USER} \\
  --ssl-mode=DISABLED --get-server-public-key --single-transaction --hex-blob --no-tablespaces \\
  --set-gtid-purged=OFF {APP_DATABASE} | {server.client()} {APP_DATABASE}
sync
echo "$start $(date +%s.%N)"
""", timeout=timeout)
    finally:
        sh(harness, REPLICA, f"rm -f {options}")
    start, end = map(float, out.split()[-2:])
    return end - start


def logical_copy(harness: StatefulSetHarness, expected_rows: int, timeout: float,
                 socat_options: str = "") -> float:
    server = ScratchServer(harness)
    try:
        server.sql(f"CREATE DATABASE {APP_DATABASE}")
        if server.mariadb:
            dump = (f"mariadb-dump --user=root --host=127.0.0.1 --single-transaction --hex-blob "
                    f"{APP_DATABASE}")
            seconds = copy_through_socat(
                harness, dump, f"{server.client()} {APP_DATABASE}",
                {"MYSQL_PWD": harness.root_password()}, timeout, socat_options)
        else:
            seconds = mysqldump_over_link(harness, server, timeout)
        copied = int(server.sql(f"SELECT COUNT(*) FROM {APP_DATABASE}.bench{TABLES}"))
        if copied != expected_rows:
            raise HarnessError(f"the logical copy has {copied} rows in bench{TABLES}, not {expected_rows}")
        return seconds
    finally:
        server.close()


# The run

def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    disk = shutil.disk_usage(tempfile.gettempdir())
    source = subprocess.run(["df", "--output=source,fstype", tempfile.gettempdir()], capture_output=True,
                            text=True).stdout.splitlines()[-1].split()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory_kb / 2**20, 1),
        "disk": f"{source[0]} ({source[1]}, {disk.total // 2**30} GiB)", "kernel": platform.release(),
        "load_average": os.getloadavg()[0],
    }


def server_version(harness: StatefulSetHarness) -> str:
    """The release pod 0 runs, as the server reports it (e.g. 9.7.4, 10.11.19-MariaDB-0+deb12u1)."""
    return harness.run_sql(PRIMARY, "SELECT VERSION()")[0][0]


def run(size_mb: int, config: dict[str, str], workdir: Path, server: str = DEFAULT_SERVER) -> dict:
    timeout = 600 + size_mb  # generous: the machine is shared
    info = {"size_mb": size_mb, "server": server, "config": config, "machine": machine()}
    with cluster(config, workdir / "harness", server) as harness:
        # The raw and logical copies move their bytes with the socat block size the clone gets.
        clone_env = clone_settings(harness.statefulset)
        info["clone_settings"] = clone_env
        buffer = clone_env.get("TRANSFER_BUFFER_BYTES")
        socat_options = f"-b{buffer}" if buffer else ""
        log("starting pod 0")
        harness.start_statefulset(replicas=1, timeout=300)
        wait_for_app_database(harness)
        info["server_version"] = server_version(harness)
        log(f"loading {size_mb} MB ({TABLES} tables of {table_rows(size_mb)} rows) into {server} "
            f"({info['server_version']})")
        started = time.monotonic()
        rows = load_dataset(harness, size_mb)
        info["load_seconds"] = round(time.monotonic() - started, 1)
        settle(harness)
        info["data_bytes"] = size = data_bytes(harness, PRIMARY)
        info["data_bytes_by_entry"] = data_bytes_by_entry(harness, PRIMARY)
        info["dataset_digest"] = dataset_digest(harness)
        log(f"loaded in {info['load_seconds']} s; {size / MIB:.0f} MiB of the donor's data directory "
            f"to copy; rows (count:digest per table) {info['dataset_digest']}")
        client = harness.attach_client("bench")
        try:
            probe = DonorProbe(harness, client.netns_path, rows, workdir)
            try:
                time.sleep(BASELINE_SECONDS)
                baseline_end = time.monotonic()
                log("adding a replica")
                join = join_replica(harness, timeout)
                clone_seconds = join.clone_done - join.clone_started
                log(f"clone {clone_seconds:.1f} s, pod Ready {join.ready - join.pod_created:.1f} s, "
                    f"caught up {join.caught_up - join.pod_created:.1f} s after its start")
                log("raw copy of the data directory")
                raw_start = time.monotonic()
                raw_seconds = raw_copy(harness, timeout, socat_options)
                raw_end = time.monotonic()
                log(f"raw copy {raw_seconds:.1f} s; logical copy")
                logical_start = time.monotonic()
                logical_seconds = logical_copy(harness, rows, timeout, socat_options)
                logical_end = time.monotonic()
                log(f"logical copy {logical_seconds:.1f} s")
            finally:
                probe.stop()
            info["donor_latency"] = {
                "before": percentiles(probe.latencies(baseline_end - BASELINE_SECONDS, baseline_end)),
                "clone": percentiles(probe.latencies(join.clone_started, join.clone_done)),
                "raw": percentiles(probe.latencies(raw_start, raw_end)),
                "logical": percentiles(probe.latencies(logical_start, logical_end)),
            }
        finally:
            harness.detach_client(client)
    info["join"] = {
        "clone_seconds": round(clone_seconds, 2),
        "stream_seconds": round(join.copy_done - join.clone_started, 2),
        "prepare_seconds": round(join.clone_done - join.copy_done, 2),
        "pod_to_copy_start_seconds": round(join.clone_started - join.pod_created, 2),
        "pod_to_ready_seconds": round(join.ready - join.pod_created, 2),
        "pod_to_caught_up_seconds": round(join.caught_up - join.pod_created, 2),
        "attempts": join.attempts,
    }
    info["seconds"] = {"clone": round(clone_seconds, 2), "raw": round(raw_seconds, 2),
                       "logical": round(logical_seconds, 2)}
    info["mb_per_second"] = {method: round(size / MIB / seconds, 1)
                             for method, seconds in info["seconds"].items()}
    info["ratio_vs_raw"] = round(raw_seconds / clone_seconds, 3)
    info["ratio_vs_logical"] = round(logical_seconds / clone_seconds, 3)
    return info


# The cost of TLS on the stream: the same clone, plain and over mutual TLS (the default), on an
# unconstrained link and on one capped at 1 Gbit/s (the donor's egress, by the harness's tc).
TLS_VARIANTS = {"plain": {"tlsSource": "none"}, "mutual TLS": {}}
LINKS = {"unconstrained": None, "1gbit": 10**9}


def tls_cost(size_mb: int, config: dict[str, str], workdir: Path) -> dict:
    timeout = 600 + size_mb
    info: dict = {"size_mb": size_mb, "config": config, "machine": machine(), "clones": {}}
    for variant, variant_config in TLS_VARIANTS.items():
        with cluster({**config, **variant_config}, workdir / variant.replace(" ", "-")) as harness:
            log(f"{variant}: starting pod 0 and loading {size_mb} MB")
            harness.start_statefulset(replicas=1, timeout=300)
            wait_for_app_database(harness)
            load_dataset(harness, size_mb)
            settle(harness)
            info["data_bytes"] = data_bytes(harness, PRIMARY)
            for link, bits_per_second in LINKS.items():
                harness.limit_egress(PRIMARY, bits_per_second)
                join = join_replica(harness, timeout)
                info["clones"][f"{variant}, {link}"] = {
                    "clone_seconds": round(join.clone_done - join.clone_started, 2),
                    "stream_seconds": round(join.copy_done - join.clone_started, 2)}
                log(f"{variant}, {link}: {info['clones'][f'{variant}, {link}']}")
                # The next clone starts from nothing again (the harness keeps a removed pod's claim).
                harness.scale_to(1, timeout=timeout)
                shutil.rmtree(harness.claim_path(REPLICA))
    for link in LINKS:
        plain, tls = info["clones"][f"plain, {link}"], info["clones"][f"mutual TLS, {link}"]
        info[f"tls_stream_ratio_{link}"] = round(tls["stream_seconds"] / plain["stream_seconds"], 3)
        info[f"tls_clone_ratio_{link}"] = round(tls["clone_seconds"] / plain["clone_seconds"], 3)
    return info


def print_tls_cost(info: dict) -> None:
    size = info["data_bytes"] / MIB
    print(f"data to copy: {size:.0f} MiB")
    for name, clone in info["clones"].items():
        print(f"{name}: clone {clone['clone_seconds']} s, stream {clone['stream_seconds']} s "
              f"({size / clone['stream_seconds']:.0f} MiB/s)")
    print(" ".join(f"{key}={info[key]:.2f}" for key in info if key.startswith("tls_")))


def results_name(kind: str, server: str, size_mb: int) -> str:
    """clone-256mb.json for the default server, clone-mysql-9.7-256mb.json for another."""
    return f"{kind}-{'' if server == DEFAULT_SERVER else server + '-'}{size_mb}mb.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--server", choices=SERVERS, default=DEFAULT_SERVER,
                        help=f"the server the pods run (default {DEFAULT_SERVER})")
    parser.add_argument("--results", type=Path, help="write clone-[<server>-]<size>mb.json into this directory")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="a stack config key for this run, e.g. transferBufferBytes=8192")
    parser.add_argument("--tls-cost", action="store_true",
                        help="instead: the same clone plain and over mutual TLS, on an "
                             "unconstrained link and on one of 1 Gbit/s")
    args = parser.parse_args(argv)
    if args.tls_cost and split_server(args.server)[0] != "mariadb":
        parser.error(f"--tls-cost times MariaDB's socat stream; {args.server} clones with the CLONE "
                     "plugin: run it with a mariadb server")
    return args


def main() -> None:
    args = parse_args()
    config = dict(item.split("=", 1) for item in args.config)
    with tempfile.TemporaryDirectory(prefix="bench-clone-", dir="/var/tmp") as workdir:
        if args.tls_cost:
            info = tls_cost(args.size_mb, config, Path(workdir))
        else:
            info = run(args.size_mb, config, Path(workdir), args.server)
    if args.results:
        args.results.mkdir(parents=True, exist_ok=True)
        name = results_name("clone-tls" if args.tls_cost else "clone", args.server, args.size_mb)
        (args.results / name).write_text(json.dumps(info, indent=2) + "\n")
    if args.tls_cost:
        print_tls_cost(info)
        return
    latency = info["donor_latency"]
    print(f"{info['server']} ({info['server_version']}); load average "
          f"{info['machine']['load_average']:.1f} at the start (the machine is shared)")
    print(f"data to copy: {info['data_bytes'] / MIB:.0f} MiB; rows {info['dataset_digest']}")
    for method in ("clone", "raw", "logical"):
        print(f"{method}: {info['seconds'][method]} s, {info['mb_per_second'][method]} MiB/s, "
              f"donor p50/p99 {latency[method]['p50_ms']}/{latency[method]['p99_ms']} ms")
    print(f"donor p50/p99 before: {latency['before']['p50_ms']}/{latency['before']['p99_ms']} ms")
    join = info["join"]
    print(f"new pod: Ready after {join['pod_to_ready_seconds']} s, caught up after "
          f"{join['pod_to_caught_up_seconds']} s; the copy started {join['pod_to_copy_start_seconds']} s "
          f"after the pod (clone {join['clone_seconds']} s: copy {join['stream_seconds']} s, then "
          f"{join['prepare_seconds']} s of prepare and move)")
    print(f"ratio_vs_raw={info['ratio_vs_raw']:.2f} ratio_vs_logical={info['ratio_vs_logical']:.2f}")


if __name__ == "__main__":
    main()
