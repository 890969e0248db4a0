"""How long writes stop during a planned switchover under load, and how long a replica that is cut
off from the primary keeps receiving reads.

    python -m bench.switchover [--rounds 3] [--config KEY=VALUE ...] [--results DIR]

Runs the real component (MariaDB 10.11, 3 pods) in the end-to-end harness (tests/e2e/). An
application in a client network namespace inserts one row per transaction through the primary
Service (its Ready endpoint, looked up for every connection) without pause.

- write_unavailable_s: for each switchover (primaryOrdinal 0 -> 1, then back, `rounds` times), the
  longest time between two acknowledged inserts from the re-rendered manifests' apply until the
  new primary acknowledges writes. The harness moves the Service's endpoint at once when the Job
  has completed; a real cluster adds kube-proxy's propagation (about a second).
- stale_read_window_s: the network of replica pod 1 is cut; the time until the read Service stops
  selecting it (it cannot see the primary's heartbeat nor any peer), against maxReplicationLagSeconds
  plus the readiness probe's window (2 x 5 s).

The last line holds the figures (worst of the rounds): `write_unavailable_s=W stale_read_window_s=S`.
Run it from the project directory, as a module, so that `tests.e2e` is importable; as root.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from mysql_cluster.tooling.render import render_stack
from tests.e2e.cluster import Cluster
from tests.e2e.harness import StatefulSetHarness
from tests.e2e.service_client import ServiceClient

PROJECT_DIR = Path(__file__).resolve().parent.parent
PODS = 3
PROBE_WINDOW_S = 10  # the readiness probe: failureThreshold 2 x periodSeconds 5


def manifests(config: dict[str, str], primary: int):
    return render_stack(PROJECT_DIR, "dev", {"flavor": "mariadb", "version": "10.11",
                                            "replicas": str(PODS), **config,
                                            "primaryOrdinal": str(primary)}, reveal_secrets=True)


def switchover_pause(harness: StatefulSetHarness, writer, config: dict[str, str],
                     target: int) -> tuple[float, int]:
    """The longest time without an acknowledged write, and how many writes failed meanwhile."""
    started = time.monotonic()
    harness.apply(manifests(config, target))
    applied = time.monotonic()
    harness.wait_until(lambda: writer.acked[-1][0] > applied, 30, f"writes acknowledged by pod {target}")
    return writer.longest_gap(started), len([at for at, *_ in writer.failed if at >= started])


def stale_read_window(harness: StatefulSetHarness) -> float:
    harness.cut_network("mysql-1")
    cut = time.monotonic()
    harness.wait_until(lambda: "mysql-1" not in harness.service_endpoints("mysql-read"), 120,
                       "mysql-1 out of the read Service")
    window = time.monotonic() - cut
    harness.restore_network("mysql-1")
    harness.wait_until(lambda: "mysql-1" in harness.service_endpoints("mysql-read"), 120,
                       "mysql-1 back in the read Service")
    return window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    config = dict(item.split("=", 1) for item in args.config)
    lag_limit = int(config.get("maxReplicationLagSeconds", 30))
    with tempfile.TemporaryDirectory(prefix="bench-switchover-") as workdir:
        harness = StatefulSetHarness(manifests(config, 0), Path(workdir))
        try:
            harness.start_statefulset(PODS)
            cluster = Cluster(harness)
            cluster.create_events_table()
            writer = ServiceClient(cluster, Path(workdir)).writer("mysql-primary")
            harness.wait_until(lambda: len(writer.acked) > 100, 60, "writes under way")
            pauses, windows = [], []
            for round_number in range(1, args.rounds + 1):
                for target in (1, 0):
                    pause, failed = switchover_pause(harness, writer, config, target)
                    pauses.append(pause)
                    print(f"round {round_number}: switchover to pod {target}: writes stopped "
                          f"{pause:.2f} s ({failed} inserts refused)", flush=True)
                windows.append(stale_read_window(harness))
                print(f"round {round_number}: cut-off replica received reads for {windows[-1]:.1f} s "
                      f"(maxReplicationLagSeconds {lag_limit} + probe window {PROBE_WINDOW_S})", flush=True)
            rate = len(writer.acked) / (writer.acked[-1][0] - writer.acked[0][0])
            writer.stop()
        finally:
            harness.close()
    result = {"rounds": args.rounds, "config": config, "writes_per_second": round(rate, 1),
              "write_unavailable_s": [round(p, 2) for p in pauses],
              "stale_read_window_s": [round(w, 1) for w in windows],
              "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}"}
    print(f"writes per second through the primary Service: {rate:.0f}; median pause "
          f"{statistics.median(pauses):.2f} s, median stale-read window {statistics.median(windows):.1f} s")
    if args.results:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "switchover.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"write_unavailable_s={max(pauses):.2f} stale_read_window_s={max(windows):.1f}")


if __name__ == "__main__":
    main()
