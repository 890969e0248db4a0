"""What the program costs to run: render time and peak memory against replicas and clusters.

    python bench/render_cost.py [--repeat 3]

Each point runs in a fresh interpreter (imports excluded from the timing) under the Pulumi mock
runtime, as `python -m mysql_cluster.tooling.render` does. Replicas only change a number in the
StatefulSet, so their cost should be flat; each cluster adds the same resources, so clusters
should cost linearly. The last lines compare the largest point with the smallest.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROGRAM = Path(__file__).resolve().parent / "many_clusters.py"

_MEASURE = r"""
import json, sys, time, tracemalloc
from pathlib import Path
from mysql_cluster.tooling.mock_runtime import run_program
program, clusters, replicas = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
config = {"bench:clusters": clusters, "bench:replicas": replicas}
run_program(program, "bench", "bench", config)  # warm-up: first-use costs are not the program's
start = time.perf_counter()
resources = run_program(program, "bench", "bench", config)
seconds = time.perf_counter() - start
# Memory in a run of its own: tracing allocations slows the run several times over.
tracemalloc.start()
run_program(program, "bench", "bench", config)
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "resources": len(resources)}))
"""


def measure(clusters: int, replicas: int, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _MEASURE, str(PROGRAM), str(clusters), str(replicas)],
                             check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    best = min(runs, key=lambda run: run["seconds"])  # the least disturbed run on a shared machine
    return {"clusters": clusters, "replicas": replicas, **best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [measure(1, replicas, args.repeat) for replicas in (1, 3, 9, 27)]
    rows += [measure(clusters, 3, args.repeat) for clusters in (1, 4, 16)]
    print("| clusters | replicas | resources | render (ms) | peak memory (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['clusters']} | {row['replicas']} | {row['resources']} | "
              f"{row['seconds'] * 1000:.0f} | {row['peak_bytes'] / 2**20:.1f} |")
    by_replicas = {r["replicas"]: r for r in rows[:4]}
    by_clusters = {r["clusters"]: r for r in rows[4:]}
    print(f"replicas_27_vs_1_time={by_replicas[27]['seconds'] / by_replicas[1]['seconds']:.2f} "
          f"replicas_27_vs_1_memory={by_replicas[27]['peak_bytes'] / by_replicas[1]['peak_bytes']:.2f}")
    print(f"clusters_16_vs_1_time={by_clusters[16]['seconds'] / by_clusters[1]['seconds']:.2f} "
          f"clusters_16_vs_1_memory={by_clusters[16]['peak_bytes'] / by_clusters[1]['peak_bytes']:.2f} "
          "(linear: 16)")


if __name__ == "__main__":
    main()
