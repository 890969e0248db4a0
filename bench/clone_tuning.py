"""Which settings make a clone faster, and what each costs the donor, measured in one run.

    python -m bench.clone_tuning --size-mb 256 [--repeat 2] [--only TEXT ...]

Sets up what bench/clone.py sets up (the dataset on pod 0, a replica cloned by the component,
the latency probe), then runs the clone pipeline again by hand between pod 0's and pod 1's backup
containers with settings changed: the commands of scripts/sidecar.sh and scripts/clone.sh
(`mariadb-backup --backup --stream=xbstream | socat` on the donor, `socat | mbstream -x`, then
`mariadb-backup --prepare` on the receiver), as root instead of the backup user. What a stack
config key tunes (transferBufferBytes: socat's -b on both ends; backupParallel: the backup's
--parallel) a variant sets as that key: its value reaches the pipeline through the StatefulSet
rendered with it, as the scripts get it. Other options, which no key exposes, are given as
options of the tools. The raw copy of
bench/clone.py, with socat's default and with a 1 MiB block, is the reference. Each round runs
every variant once, in a shuffled order (fixed seed), so that a disturbance of the shared
machine does not land on one variant only; the table shows medians over the rounds. The stream
time includes a sync of the received files, so the prepare time is the tool's own.

Stream compression is tried with zstd and lz4, which this machine has; the mariadb image may not
(mariadb-backup's own --compress needs qpress to unpack, which the image lacks).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import clone
from bench.clone import PRIMARY, REPLICA, log, sh

BIG = 1048576
# socat's own block size and no backup parallelism: the scripts before tuning.
UNTUNED = {"transferBufferBytes": "8192", "backupParallel": "1"}


@dataclass(frozen=True)
class Variant:
    name: str
    config: dict[str, str]  # stack config keys
    backup_options: str = ""  # added to mariadb-backup --backup
    extract_options: str = ""  # added to mbstream -x
    compressor: str = ""  # command that compresses stdin; "<command> -d" decompresses
    prepare_options: str = ""  # added to mariadb-backup --prepare


def tuned(buffer: int, parallel: int) -> dict[str, str]:
    return {"transferBufferBytes": str(buffer), "backupParallel": str(parallel)}


VARIANTS = [
    Variant("socat's block, no backup parallelism", UNTUNED),
    Variant("backup --parallel=4", tuned(8192, 4)),
    Variant("mbstream --parallel=4", UNTUNED, extract_options="--parallel=4"),
    Variant("socat -b 65536", tuned(65536, 1)),
    Variant("socat -b 262144", tuned(262144, 1)),
    Variant("socat -b 1048576", tuned(BIG, 1)),
    Variant("zstd -1 on the stream", UNTUNED, compressor="zstd -1 -q"),
    Variant("lz4 -1 on the stream", UNTUNED, compressor="lz4 -1 -q"),
    Variant("prepare --use-memory=512M", UNTUNED, prepare_options="--use-memory=512M"),
    Variant("-b 1048576, backup --parallel=2", tuned(BIG, 2)),
    Variant("-b 1048576, backup --parallel=4", tuned(BIG, 4)),
    Variant("-b 1048576, backup and mbstream --parallel=4", tuned(BIG, 4),
            extract_options="--parallel=4"),
    # The backup tool reads data files with O_DIRECT (its default flush method); tar reads them
    # through the page cache.
    Variant("-b 1048576, backup --innodb-flush-method=fsync", tuned(BIG, 1),
            backup_options="--innodb-flush-method=fsync"),
    # The backup waits for its redo log copier, which looks for new log once a second by default.
    Variant("-b 1048576, backup --parallel=2 --log-copy-interval=100", tuned(BIG, 2),
            backup_options="--log-copy-interval=100"),
    Variant("-b 1048576, backup --parallel=2 --innodb-flush-method=fsync", tuned(BIG, 2),
            backup_options="--innodb-flush-method=fsync"),
]
RAW = "raw copy (reference)"
RAW_BIG_BUFFER = "raw copy, socat -b 1048576"
STAGING = "/data/bench-clone"
ROOT_OPTIONS = "/tmp/bench-root.cnf"


def clone_by_hand(harness, variant: Variant, settings: dict[str, str],
                  timeout: float) -> tuple[float, float]:
    """(stream seconds, prepare seconds) of one clone with the variant's settings: `settings` are
    the variables the scripts get from its config (clone.clone_settings)."""
    backup = (f"mariadb-backup --defaults-extra-file={ROOT_OPTIONS} --backup --slave-info --stream=xbstream "
              f"--host=127.0.0.1 --port=3306 --target-dir=/tmp --parallel={settings['BACKUP_PARALLEL']} "
              f"{variant.backup_options} 2>/tmp/bench-backup.log")
    extract = f"mbstream -x -C {STAGING} {variant.extract_options}"
    if variant.compressor:
        backup += f" | {variant.compressor}"
        extract = f"{variant.compressor} -d | {extract}"
    options = f"-b {settings['TRANSFER_BUFFER_BYTES']}"
    sh(harness, REPLICA, f"rm -rf {STAGING}; mkdir {STAGING}")
    try:
        stream = clone.copy_through_socat(harness, backup, extract, {}, timeout, options)
        out = sh(harness, REPLICA, f"""
start=$(date +%s.%N)
mariadb-backup --prepare {variant.prepare_options} --target-dir={STAGING} 2>/tmp/bench-prepare.log
sync
echo "$start $(date +%s.%N)"
""", timeout=timeout)
        start, end = map(float, out.split()[-2:])
        return stream, end - start
    finally:
        sh(harness, REPLICA, f"rm -rf {STAGING}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the variants whose name contains TEXT (and the raw copies)")
    args = parser.parse_args()
    variants = [v for v in VARIANTS if not args.only or any(text in v.name for text in args.only)]
    # What the scripts would get from each variant's config, as the component renders it.
    settings = {v.name: clone.clone_settings(next(m for m in clone.rendered_manifests(v.config)
                                                  if m["kind"] == "StatefulSet"))
                for v in variants}
    timeout = 600 + args.size_mb
    names = [v.name for v in variants] + [RAW, RAW_BIG_BUFFER]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    latency: dict[str, list[float]] = {name: [] for name in times}
    with tempfile.TemporaryDirectory(prefix="bench-clone-tuning-", dir="/var/tmp") as workdir, \
            clone.cluster({}, Path(workdir) / "harness") as harness:
        harness.start_statefulset(replicas=1, timeout=300)
        clone.wait_for_app_database(harness)
        log(f"loading {args.size_mb} MB")
        rows = clone.load_dataset(harness, args.size_mb)
        clone.settle(harness)
        size = clone.data_bytes(harness, PRIMARY)
        harness.scale_to(2, timeout=timeout)
        harness.exec(PRIMARY, clone.SIDECAR, ["bash", "-c", f"umask 077; cat >{ROOT_OPTIONS}"],
                     input_text=f"[client]\nuser=root\npassword={harness.root_password()}\n")
        client = harness.attach_client("bench")
        try:
            probe = clone.DonorProbe(harness, client.netns_path, rows, Path(workdir))
            try:
                shuffle = random.Random(11)
                for round_number in range(1, args.repeat + 1):
                    order = [*variants, RAW, RAW_BIG_BUFFER]
                    shuffle.shuffle(order)
                    for variant in order:
                        name = variant if isinstance(variant, str) else variant.name
                        start = time.monotonic()
                        if variant == RAW:
                            result = (clone.raw_copy(harness, timeout), 0.0)
                        elif variant == RAW_BIG_BUFFER:
                            result = (clone.raw_copy(harness, timeout, f"-b {BIG}"), 0.0)
                        else:
                            result = clone_by_hand(harness, variant, settings[name], timeout)
                        latency[name] += probe.latencies(start, time.monotonic())
                        times[name].append(result)
                        log(f"round {round_number}: {name}: stream {result[0]:.1f} s, "
                            f"prepare {result[1]:.1f} s")
            finally:
                probe.stop()
        finally:
            harness.detach_client(client)
    raw = statistics.median(stream for stream, _ in times[RAW])
    print(f"{size / clone.MIB:.0f} MiB to copy, {args.repeat} rounds, medians; "
          f"ratio = raw copy time / clone time")
    print("| variant | stream (s) | prepare (s) | clone (s) | ratio vs raw | donor p50 / p99 (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, results in times.items():
        stream = statistics.median(r[0] for r in results)
        prepare = statistics.median(r[1] for r in results)
        total = statistics.median(r[0] + r[1] for r in results)
        probe_stats = clone.percentiles(latency[name])
        print(f"| {name} | {stream:.1f} | {prepare:.1f} | {total:.1f} | {raw / total:.2f} | "
              f"{probe_stats['p50_ms']} / {probe_stats['p99_ms']} |")


if __name__ == "__main__":
    sys.exit(main())
