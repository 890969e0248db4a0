"""Table and plot of the clone benchmark: bench/results/clone-*.json -> clone.md and clone.png.

    python -m bench.clone --size-mb 1024 --results bench/results   # once per size
    python -m bench.clone --server mysql-9.7 --size-mb 256 --results bench/results
    python bench/plot.py [--results bench/results]

Needs matplotlib (bench/requirements.txt). Each size is its own run of bench/clone.py, so compare
the ratios, measured within one run, rather than absolute times across rows. One table per
server; the plot is of MariaDB 10.11, the server with runs at several sizes.
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
# Results written before bench/clone.py had --server name no server: they ran on this machine's
# MariaDB 10.11, which stays the plotted one.
PLOTTED_SERVER = "mariadb-10.11"
SERVER_TITLES = {"mariadb-10.11": "MariaDB 10.11 (mariadb-backup stream, mariadb-dump)",
                 "mariadb-11.8": "MariaDB 11.8 (mariadb-backup stream, mariadb-dump)",
                 "mysql-9.7": "MySQL 9.7 (CLONE plugin, mysqldump)"}


def server(run: dict) -> str:
    return run.get("server", PLOTTED_SERVER)


def load(results: Path) -> list[dict]:
    runs = [json.loads(path.read_text()) for path in results.glob("clone-*mb.json")]
    runs = [run for run in runs if "seconds" in run]  # not the --tls-cost results
    if not runs:
        raise SystemExit(f"no clone-*mb.json in {results}: run python -m bench.clone --results {results} first")
    return sorted(runs, key=lambda run: (server(run) != PLOTTED_SERVER, server(run), run["size_mb"]))


def latency(stats: dict) -> str:
    return f"{stats['p50_ms']} / {stats['p99_ms']}"


def table(runs: list[dict]) -> str:
    lines = [
        "| dataset | data copied (MiB) | clone s (MiB/s) | raw copy s (MiB/s) | logical copy s (MiB/s) "
        "| clone / raw | clone / logical | clone: copy + prepare (s) | pod created → copy starts (s) "
        "| new pod Ready / caught up (s) "
        "| donor p50 / p99 ms: before | during clone | during raw | during logical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        seconds, speed, donor, join = run["seconds"], run["mb_per_second"], run["donor_latency"], run["join"]
        cells = [f"{run['size_mb']} MB", f"{run['data_bytes'] / MIB:.0f}"]
        cells += [f"{seconds[m]:.1f} ({speed[m]:.0f})" for m in METHODS]
        cells += [f"{run['ratio_vs_raw']:.2f}", f"{run['ratio_vs_logical']:.1f}",
                  f"{join['stream_seconds']:.1f} + {join['prepare_seconds']:.1f}",
                  f"{join['pod_to_copy_start_seconds']:.1f}" if "pod_to_copy_start_seconds" in join else "–",
                  f"{join['pod_to_ready_seconds']:.1f} / {join['pod_to_caught_up_seconds']:.1f}"]
        cells += [latency(donor[phase]) for phase in ("before", "clone", "raw", "logical")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def command(run: dict) -> str:
    """The command line that wrote the run's results."""
    words = ["python -m bench.clone"]
    if server(run) != PLOTTED_SERVER:
        words.append(f"--server {server(run)}")
    words.append(f"--size-mb {run['size_mb']}")
    words += [f"--config {key}={value}" for key, value in sorted((run.get("config") or {}).items())]
    return " ".join(words + ["--results bench/results"])


def tables(runs: list[dict]) -> str:
    servers = list(dict.fromkeys(server(run) for run in runs))
    sections = []
    for name in servers:
        runs_of = [run for run in runs if server(run) == name]
        commands = "\n".join(command(run) for run in runs_of)
        sections.append(f"### {SERVER_TITLES.get(name, name)}\n\n```sh\n{commands}\n```\n\n" + table(runs_of))
    return "\n\n".join(sections)


def machine(runs: list[dict]) -> str:
    facts = runs[0]["machine"]
    loads = ", ".join(f"{server(run)} {run['size_mb']} MB: {run['machine']['load_average']:.1f}"
                      for run in runs)
    # Older results name the machine's MariaDB under "machine"; newer ones the pods' server.
    versions = ", ".join(dict.fromkeys(f"{server(run)}: {run.get('server_version') or run['machine']['mariadb']}"
                                       for run in runs))
    settings = {json.dumps(run["clone_settings"], sort_keys=True) for run in runs}
    return "\n".join([
        f"- CPU: {facts['cpu']}, {facts['cores']} cores; memory {facts['memory_gib']} GiB",
        f"- disk: {facts['disk']}; kernel {facts['kernel']}",
        f"- servers: {versions}",
        f"- load average (1 min) when each run started: {loads}. The machine was shared with other "
        "developers' test runs, so absolute times vary between runs; the ratios compare methods "
        "measured in the same run.",
        f"- clone settings the scripts got: {', '.join(sorted(settings))}",
    ])


def plot(runs: list[dict], path: Path) -> None:
    runs = [run for run in runs if server(run) == PLOTTED_SERVER]
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
        "(the donor's data directory less the redo log and temporary tablespaces). MariaDB's "
        "prepare time runs from its log line \"preparing the backup\" to \"clone complete\": "
        "`--prepare` and the syncs before the rename; MySQL's CLONE has no prepare (its copy "
        "runs to \"clone complete\", the move into place included), and it starts a temporary "
        "server to receive the copy before the copy starts (\"pod created → copy starts\").\n\n"
        + tables(runs) + "\n\n![time against size](clone.png)\n\n## Machine\n\n" + machine(runs) + "\n")
    print(f"wrote {args.results / 'clone.md'} and {args.results / 'clone.png'}")


if __name__ == "__main__":
    main()
