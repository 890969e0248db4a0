"""Table and plot of the clone benchmark: bench/results/clone-*.json -> clone.md and clone.png.

    python -m bench.clone --size-mb 1024 --results bench/results   # once per size
    python bench/plot.py [--results bench/results]

Needs matplotlib (bench/requirements.txt). Each size is its own run of bench/clone.py, so compare
the ratios, measured within one run, rather than absolute times across rows.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

METHODS = {"clone": "clone (mariadb-backup stream)", "raw": "raw copy (tar | socat)",
           "logical": "logical copy (mariadb-dump | mariadb)"}
MIB = 2**20


def load(results: Path) -> list[dict]:
    runs = [json.loads(path.read_text()) for path in results.glob("clone-*mb.json")]
    if not runs:
        raise SystemExit(f"no clone-*mb.json in {results}: run python -m bench.clone --results {results} first")
    return sorted(runs, key=lambda run: run["size_mb"])


def latency(stats: dict) -> str:
    return f"{stats['p50_ms']} / {stats['p99_ms']}"


def table(runs: list[dict]) -> str:
    lines = [
        "| dataset | data copied (MiB) | clone s (MiB/s) | raw copy s (MiB/s) | logical copy s (MiB/s) "
        "| clone / raw | clone / logical | clone: stream + prepare (s) | new pod Ready / caught up (s) "
        "| donor p50 / p99 ms: before | during clone | during raw | during logical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        seconds, speed, donor, join = run["seconds"], run["mb_per_second"], run["donor_latency"], run["join"]
        cells = [f"{run['size_mb']} MB", f"{run['data_bytes'] / MIB:.0f}"]
        cells += [f"{seconds[m]:.1f} ({speed[m]:.0f})" for m in METHODS]
        cells += [f"{run['ratio_vs_raw']:.2f}", f"{run['ratio_vs_logical']:.1f}",
                  f"{join['stream_seconds']:.1f} + {join['prepare_seconds']:.1f}",
                  f"{join['pod_to_ready_seconds']:.1f} / {join['pod_to_caught_up_seconds']:.1f}"]
        cells += [latency(donor[phase]) for phase in ("before", "clone", "raw", "logical")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine(runs: list[dict]) -> str:
    facts = runs[0]["machine"]
    loads = ", ".join(f"{run['size_mb']} MB: {run['machine']['load_average']:.1f}" for run in runs)
    settings = {json.dumps(run["clone_settings"], sort_keys=True) for run in runs}
    return "\n".join([
        f"- CPU: {facts['cpu']}, {facts['cores']} cores; memory {facts['memory_gib']} GiB",
        f"- disk: {facts['disk']}; kernel {facts['kernel']}",
        f"- server: {facts['mariadb']}",
        f"- load average (1 min) when each run started: {loads}. The machine was shared with other "
        "developers' test runs, so absolute times vary between runs; the ratios compare methods "
        "measured in the same run.",
        f"- clone settings the scripts got: {', '.join(sorted(settings))}",
    ])


def plot(runs: list[dict], path: Path) -> None:
    # Right: clone and raw copy alone, which the logical copy's scale flattens on the left.
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.5))
    sizes = [run["data_bytes"] / MIB for run in runs]
    for axes, methods in zip(panels, (list(METHODS), ["clone", "raw"])):
        for method in methods:
            axes.plot(sizes, [run["seconds"][method] for run in runs], marker="o",
                      label=METHODS[method], color=f"C{list(METHODS).index(method)}")
        axes.set_xlabel("data copied (MiB)")
        axes.set_ylabel("time (s)")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
        axes.legend()
    panels[0].set_title("All three methods")
    panels[1].set_title("Clone against the raw copy")
    figure.suptitle("Time to copy a MariaDB 10.11 dataset to a new pod")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    runs = load(args.results)
    plot(runs, args.results / "clone.png")
    (args.results / "clone.md").write_text(
        "# How fast a new replica joins\n\n"
        "Written by `bench/plot.py` from the `clone-*mb.json` files of `bench/clone.py`; see its "
        "docstring for the method. Times in seconds, throughput in MiB/s of the data copied "
        "(the donor's data directory less the redo log and temporary tablespace). The clone's "
        "prepare time runs from its log line \"preparing the backup\" to \"clone complete\": "
        "`--prepare` and the syncs before the rename.\n\n"
        + table(runs) + "\n\n![time against size](clone.png)\n\n## Machine\n\n" + machine(runs) + "\n")
    print(f"wrote {args.results / 'clone.md'} and {args.results / 'clone.png'}")


if __name__ == "__main__":
    main()
