"""What the agent's primary port costs a client, against connecting to the server directly.

    python -m bench.primary_port [--server mysql-9.7] [--queries 5000] [--connections 400]
                                 [--result-mib 256] [--clients 16,64] [--seconds 8] [--results DIR]

With automaticFailover the primary Service targets every agent's primary port, and the agent
forwards each connection to the server it last saw writable
(components/mysql_cluster_agent/primary_port.py). Here a real server of the e2e harness's trees
(--server, MariaDB 10.11 by default, this machine's own) listens on a loopback port, and the real
PrimaryPort, routed to that port, runs in a process of its own (as in the agent, a process beside
the server) that imports nothing else, so that its CPU time and memory are its own. The server
resolves no host names, as the component's option file has it. The client is PyMySQL, the agent's
driver, from this process (and, for the concurrency runs, from two processes of threads). Each
figure is taken direct and through the port in the same run:

1. Latency: `SELECT 1` on one open connection, --queries times each way, alternating blocks of
   100 between the two connections so that a change of the machine's load falls on both.
2. Connection: connect, authenticate, `SELECT 1`, close; --connections times each way, alternating.
3. Throughput: one result of --result-mib rows of 1 MiB each (REPEAT, rows numbered by a
   recursive CTE, the same statement on both flavors), read row by row (unbuffered cursor),
   twice each way, alternating; MiB/s over both reads.
4. Concurrency: for each of --clients, that many connections running `SELECT 1` back to back for
   --seconds; queries/s, p50/p99 latency, CPU per query of the clients (getrusage in each client
   process), the server and the forwarding process (/proc), and the forwarding process's threads
   and memory.

Everything shares this machine's cores: the forwarding process's CPU time is taken from the
client and the server, which is part of what it costs here; on a cluster the agent's container
has CPU of its own. The server's own CPU seconds are printed beside the port's for scale.

Progress goes to stderr. The last line on stdout holds the ratios through the port over direct:
`latency_p50_ratio=… latency_p99_ratio=… connect_p50_ratio=… connect_p99_ratio=…
throughput_ratio=… qps_<K>_ratio=…` (above 1 for latencies: slower; below 1 for throughput and
queries/s: less). --results DIR writes DIR/primary-port[-<server>].json.
Run it from the project directory, as a module; as root (the server runs as the mysql user).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.synchronize
import os
import resource
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The test modules imported below (tests/scripts/real_servers.py starts a scratch server in a
# tree, as the script tests do) import their neighbours as pytest's `pythonpath = ["tests"]`
# (pyproject.toml) lets them.
sys.path.insert(0, str(PROJECT_DIR / "tests"))

import pymysql  # noqa: E402
import pymysql.cursors  # noqa: E402

from bench.clone import DEFAULT_SERVER, MIB, log, machine  # noqa: E402
from tests.e2e.server_roots import SERVERS  # noqa: E402
from tests.scripts.real_servers import REAL_SERVERS, RealServer, start_server  # noqa: E402

USER = "bench"
BLOCK = 100  # latency queries per connection before switching to the other
ROW_BYTES = MIB
CLIENT_PROCESSES = 2  # one per core: PyMySQL is pure Python, one process would be the bottleneck
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The forwarding process: it imports the port's module alone, so that its memory is the port's
# (Python's own, about 10 MiB, included). It serves until its standard input closes.
FORWARD = """
import sys
from mysql_cluster_agent.primary_port import PrimaryRoute, serve_primary_port
route = PrimaryRoute()
route.set("127.0.0.1")
server = serve_primary_port(0, route, int(sys.argv[1]), lambda line: print(line, file=sys.stderr, flush=True))
print(server.server_address[1], flush=True)
sys.stdin.read()
"""


@dataclass
class Usage:
    cpu_s: float
    rss_kib: int
    peak_rss_kib: int
    threads: int


def usage(pid: int) -> Usage:
    """CPU seconds (user + system), resident and peak resident memory and threads of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return Usage((int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(status["VmRSS"].split()[0]),
                 int(status["VmHWM"].split()[0]), int(status["Threads"]))


class Forwarder:
    def __init__(self, mysql_port: int):
        self.process = subprocess.Popen([sys.executable, "-c", FORWARD, str(mysql_port)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the primary port's process did not start (exit {self.process.poll()})")
        self.port = int(line)

    def usage(self) -> Usage:
        return usage(self.process.pid)

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# Measurements

def connect(port: int, password: str, **options) -> pymysql.connections.Connection:
    """Plain TCP: PyMySQL 2.2 would otherwise try TLS wherever a server offers it (MySQL makes
    itself a certificate), and build an SSL context at each connection (about 40 ms here, the
    client's cost, not the path's). The port forwards TLS as it forwards any bytes."""
    return pymysql.connect(host="127.0.0.1", port=port, user=USER, password=password, ssl_disabled=True,
                           **options)


def select_one(connection: pymysql.connections.Connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchall()


def quantile_us(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6, 1)


def latencies(ports: dict[str, int], password: str, queries: int) -> dict[str, list[float]]:
    connections = {way: connect(port, password) for way, port in ports.items()}
    samples: dict[str, list[float]] = {way: [] for way in ports}
    for _ in range(0, queries, BLOCK):
        for way, connection in connections.items():
            for _ in range(BLOCK):
                started = time.perf_counter()
                select_one(connection)
                samples[way].append(time.perf_counter() - started)
    for connection in connections.values():
        connection.close()
    return samples


def connection_costs(ports: dict[str, int], password: str, count: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {way: [] for way in ports}
    for _ in range(count):
        for way, port in ports.items():
            started = time.perf_counter()
            connection = connect(port, password)
            select_one(connection)
            connection.close()
            samples[way].append(time.perf_counter() - started)
    return samples


def big_result(flavor: str, rows: int) -> str:
    """`rows` rows of ROW_BYTES bytes each; MySQL's recursive CTEs stop at 1000 levels unless told."""
    limit = "SET SESSION cte_max_recursion_depth = {rows}; " if flavor == "mysql" else ""
    return (limit.format(rows=rows) + f"WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            f"WHERE i < {rows}) SELECT CAST(REPEAT('x', {ROW_BYTES}) AS BINARY) FROM n")


def read_result(port: int, password: str, statement: str) -> tuple[int, float]:
    """Bytes of the result's values and the seconds from sending the statement to the last row."""
    connection = connect(port, password, cursorclass=pymysql.cursors.SSCursor)
    received = 0
    with connection.cursor() as cursor:
        *setup, query = statement.split("; ")
        for line in setup:
            cursor.execute(line)
        started = time.perf_counter()
        cursor.execute(query)
        for (value,) in cursor:
            received += len(value)
        seconds = time.perf_counter() - started
    connection.close()
    return received, seconds


def load_client(port: int, password: str, threads: int, seconds: float,
                ready: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:
    """Child process: `threads` connections, each running SELECT 1 back to back for `seconds`
    from the moment every client process is connected; puts its CPU seconds meanwhile and the latencies."""
    connections = [connect(port, password) for _ in range(threads)]
    samples: list[list[float]] = [[] for _ in connections]
    ready.wait()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    deadline = time.perf_counter() + seconds

    def run(connection: pymysql.connections.Connection, into: list[float]) -> None:
        while (started := time.perf_counter()) < deadline:
            select_one(connection)
            into.append(time.perf_counter() - started)

    workers = [threading.Thread(target=run, args=pair) for pair in zip(connections, samples)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for connection in connections:
        connection.close()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    results.put((cpu_s, [value for values in samples for value in values]))


def concurrent_queries(port: int, password: str, clients: int, seconds: float,
                       watched: list[int]) -> tuple[list[float], float, dict[int, Usage], int]:
    """Latencies of `clients` connections' queries over `seconds`, the clients' CPU seconds, the
    CPU each watched process used meanwhile (as Usage, cpu_s the difference) and the most threads
    the last one had."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(CLIENT_PROCESSES + 1)
    results = context.Queue()
    shares = [clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)]
    processes = [context.Process(target=load_client, args=(port, password, share, seconds, ready, results))
                 for share in shares]
    for process in processes:
        process.start()
    try:
        ready.wait(timeout=120)
    except threading.BrokenBarrierError:
        codes = [process.exitcode for process in processes]
        raise RuntimeError(f"{clients} clients did not all connect within 120 s (client processes' "
                           f"exit codes {codes}; their errors above)") from None
    before = {pid: usage(pid) for pid in watched}
    most_threads = 0
    while any(process.is_alive() for process in processes) and results.qsize() < len(processes):
        most_threads = max(most_threads, usage(watched[-1]).threads)
        time.sleep(0.2)
    reports = [results.get(timeout=120) for _ in processes]
    samples = [value for _, values in reports for value in values]
    after = {pid: usage(pid) for pid in watched}
    for process in processes:
        process.join(timeout=30)
    spent = {pid: Usage(after[pid].cpu_s - before[pid].cpu_s, after[pid].rss_kib, after[pid].peak_rss_kib,
                        after[pid].threads) for pid in watched}
    return samples, sum(cpu_s for cpu_s, _ in reports), spent, most_threads


# The run

def results_file(server: str) -> str:
    """primary-port.json for the default server, primary-port-mysql-9.7.json for another."""
    return f"primary-port{'' if server == DEFAULT_SERVER else '-' + server}.json"


def scratch_server(server: str) -> tuple[RealServer, int, str]:
    """A fresh server listening on a loopback port, and a bench account's password (never in argv)."""
    name = next(model for model, tree in REAL_SERVERS.items() if tree == server)
    port = free_port()
    real = start_server(name, f"skip-networking=0\nport={port}\nbind-address=127.0.0.1\nskip-name-resolve\n"
                              f"max-connections=500\nmax-allowed-packet=64M\n")
    password = secrets.token_hex(16)
    outcome = real.run(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{password}'")
    if outcome.error:
        raise RuntimeError(f"creating the bench account on {server}: {outcome.error}")
    # MySQL's caching_sha2_password sends the password in full only over a secure transport (TLS,
    # or the socket) the first time; once cached, plain TCP logins use its scramble (PyMySQL has
    # no RSA here). One login over the socket fills the cache; on MariaDB it changes nothing.
    pymysql.connect(unix_socket=str(real.directory / "mysqld.sock"), user=USER, password=password,
                    ssl_disabled=True).close()
    return real, port, password


def run(args: argparse.Namespace) -> dict:
    flavor = args.server.split("-")[0]
    log(f"starting {args.server}")
    real, mysql_port, password = scratch_server(args.server)
    try:
        forwarder = Forwarder(mysql_port)
        try:
            return measure(args, flavor, real, mysql_port, password, forwarder)
        finally:
            forwarder.stop()
    finally:
        real.stop()


def measure(args: argparse.Namespace, flavor: str, real: RealServer, mysql_port: int, password: str,
            forwarder: Forwarder) -> dict:
    ports = {"direct": mysql_port, "proxy": forwarder.port}
    server_pid = real.process.pid
    idle = forwarder.usage()
    info: dict = {"server": args.server, "server_version": real.value("VERSION()"), "machine": machine(),
                  "queries": args.queries, "connections": args.connections, "result_mib": args.result_mib,
                  "seconds": args.seconds, "proxy_idle_rss_kib": idle.rss_kib}

    log(f"latency: {args.queries} x SELECT 1 each way")
    samples = latencies(ports, password, args.queries)
    info["latency_us"] = {way: {"p50": quantile_us(values, 0.5), "p99": quantile_us(values, 0.99)}
                          for way, values in samples.items()}

    log(f"connections: {args.connections} each way")
    samples = connection_costs(ports, password, args.connections)
    info["connect_us"] = {way: {"p50": quantile_us(values, 0.5), "p99": quantile_us(values, 0.99)}
                          for way, values in samples.items()}
    info["proxy_after_connections"] = forwarder.usage().__dict__

    log(f"throughput: {args.result_mib} MiB result, twice each way")
    statement = big_result(flavor, args.result_mib)
    moved = {way: [0, 0.0] for way in ports}
    proxy_cpu = server_cpu = 0.0
    for _ in range(2):
        for way, port in ports.items():
            cpu_before, server_before = forwarder.usage().cpu_s, usage(server_pid).cpu_s
            received, seconds = read_result(port, password, statement)
            if received != args.result_mib * ROW_BYTES:
                raise RuntimeError(f"{way}: {received} bytes received, not {args.result_mib} MiB")
            moved[way][0] += received
            moved[way][1] += seconds
            if way == "proxy":
                proxy_cpu += forwarder.usage().cpu_s - cpu_before
                server_cpu += usage(server_pid).cpu_s - server_before
    info["throughput_mib_s"] = {way: received / MIB / seconds for way, (received, seconds) in moved.items()}
    info["throughput_proxy_cpu_s_per_gib"] = proxy_cpu / (moved["proxy"][0] / 2**30)
    info["throughput_server_cpu_s_per_gib"] = server_cpu / (moved["proxy"][0] / 2**30)

    info["concurrency"] = {}
    for clients in args.clients:
        figures: dict = {}
        for way, port in ports.items():
            log(f"concurrency: {clients} clients for {args.seconds} s, {way}")
            values, client_cpu_s, spent, most_threads = concurrent_queries(port, password, clients, args.seconds,
                                                             [server_pid, forwarder.process.pid])
            figures[way] = {"qps": len(values) / args.seconds, "p50_us": quantile_us(values, 0.5),
                            "p99_us": quantile_us(values, 0.99), "client_cpu_s": client_cpu_s,
                            "server_cpu_s": spent[server_pid].cpu_s}
            if way == "proxy":
                proxy = spent[forwarder.process.pid]
                figures[way].update(proxy_cpu_s=proxy.cpu_s, proxy_threads_most=most_threads,
                                    proxy_rss_kib=proxy.rss_kib, proxy_peak_rss_kib=proxy.peak_rss_kib)
        info["concurrency"][str(clients)] = figures
    info["proxy_end"] = forwarder.usage().__dict__
    return info


def ratios(info: dict) -> dict[str, float]:
    found = {f"latency_{q}_ratio": info["latency_us"]["proxy"][q] / info["latency_us"]["direct"][q]
             for q in ("p50", "p99")}
    found.update({f"connect_{q}_ratio": info["connect_us"]["proxy"][q] / info["connect_us"]["direct"][q]
                  for q in ("p50", "p99")})
    found["throughput_ratio"] = info["throughput_mib_s"]["proxy"] / info["throughput_mib_s"]["direct"]
    for clients, figures in info["concurrency"].items():
        found[f"qps_{clients}_ratio"] = figures["proxy"]["qps"] / figures["direct"]["qps"]
    return found


def report(info: dict) -> None:
    print(f"{info['server']} ({info['server_version']}); load average {info['machine']['load_average']:.1f} "
          f"at the start (the machine is shared); client PyMySQL {pymysql.__version__}")
    for title, key in (("SELECT 1 on an open connection", "latency_us"),
                       ("connect + authenticate + SELECT 1 + close", "connect_us")):
        figures = info[key]
        print(f"{title}: direct p50/p99 {figures['direct']['p50']:.0f}/{figures['direct']['p99']:.0f} us, "
              f"proxy {figures['proxy']['p50']:.0f}/{figures['proxy']['p99']:.0f} us")
    throughput = info["throughput_mib_s"]
    print(f"large result: direct {throughput['direct']:.0f} MiB/s, proxy {throughput['proxy']:.0f} MiB/s; "
          f"proxy CPU {info['throughput_proxy_cpu_s_per_gib']:.2f} s/GiB "
          f"(server {info['throughput_server_cpu_s_per_gib']:.2f} s/GiB)")
    for clients, figures in info["concurrency"].items():
        direct, proxy = figures["direct"], figures["proxy"]

        def per_query(way: dict, cpu_s: float) -> float:
            return 1e6 * cpu_s / max(1, way["qps"] * info["seconds"])
        for name, way in (("direct", direct), ("proxy", proxy)):
            port = f", port {per_query(way, way['proxy_cpu_s']):.0f}" if name == "proxy" else ""
            print(f"{clients} clients, {name}: {way['qps']:.0f} q/s, p50/p99 {way['p50_us'] / 1000:.2f}/"
                  f"{way['p99_us'] / 1000:.1f} ms; CPU us/query: clients {per_query(way, way['client_cpu_s']):.0f}, "
                  f"server {per_query(way, way['server_cpu_s']):.0f}{port}")
        print(f"{clients} clients, the port's process: CPU {proxy['proxy_cpu_s']:.1f} s in "
              f"{info['seconds']:.0f} s, threads up to {proxy['proxy_threads_most']}, "
              f"RSS {proxy['proxy_rss_kib'] / 1024:.0f} MiB")
    end = info["proxy_end"]
    print(f"proxy process: RSS {info['proxy_idle_rss_kib'] / 1024:.0f} MiB idle, "
          f"{end['rss_kib'] / 1024:.0f} MiB at the end, peak {end['peak_rss_kib'] / 1024:.0f} MiB; "
          f"CPU {end['cpu_s']:.1f} s in all")
    print(" ".join(f"{name}={value:.2f}" for name, value in ratios(info).items()))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=SERVERS, default=DEFAULT_SERVER,
                        help=f"the server (default {DEFAULT_SERVER}, this machine's)")
    parser.add_argument("--queries", type=int, default=5000, help="SELECT 1 per way for the latency")
    parser.add_argument("--connections", type=int, default=400, help="connections per way")
    parser.add_argument("--result-mib", type=int, default=256, help="size of the large result")
    parser.add_argument("--clients", type=lambda text: [int(n) for n in text.split(",")], default=[16, 64],
                        help="concurrent clients, comma-separated (default 16,64)")
    parser.add_argument("--seconds", type=float, default=8, help="length of each concurrency run")
    parser.add_argument("--results", type=Path, help="write primary-port[-<server>].json into this directory")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    info = run(args)
    if args.results:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / results_file(args.server)).write_text(json.dumps(info, indent=2) + "\n")
    report(info)


if __name__ == "__main__":
    main()
