"""An application outside the database pods that reaches the cluster through its Services.

It runs in a client network namespace of its own (``attach_client``) and, for every connection,
looks up the Service's Ready endpoints and target port again, as a client of a ClusterIP Service would through
kube-proxy. The writer inserts one row per transaction and records which inserts the server
acknowledged: those are the committed rows every pod must end up holding, exactly once.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from .cluster import Cluster


class ServiceClient:
    def __init__(self, cluster: Cluster, workdir: Path, name: str = "app"):
        self.cluster = cluster
        self.harness = cluster.harness
        self.network = self.harness.attach_client(name)
        self.options = workdir / f"{name}-client.cnf"
        self.options.write_text(f'[client]\nuser={cluster.app_user}\npassword="{cluster.app_password}"\n')
        self.options.chmod(0o600)

    def sql(self, pod: str, sql: str, port: int = 3306) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--net={self.network.netns_path}", "mariadb",
             f"--defaults-extra-file={self.options}", "--connect-timeout=1", "--batch",
             "--skip-column-names", f"--host={self.harness.pod_ip(pod)}", f"--port={port}", self.cluster.app_database,
             "-e", sql], capture_output=True, text=True, timeout=10, check=False)

    def writer(self, service: str, first: int = 1) -> Writer:
        writer = Writer(self, service, first)
        writer.start()
        return writer


class Writer(threading.Thread):
    """Inserts rows first, first+1, ... into events through the Service, one per transaction."""

    def __init__(self, client: ServiceClient, service: str, first: int):
        super().__init__(name=f"writer-{service}", daemon=True)
        self.client, self.service, self.next = client, service, first
        self.acked: list[tuple[float, int]] = []  # (time, seq) of acknowledged inserts
        self.failed: list[tuple[float, int, str]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            seq, self.next = self.next, self.next + 1
            endpoints = self.client.harness.service_endpoints(self.service)
            if not endpoints:
                self.failed.append((time.monotonic(), seq, f"{self.service} has no endpoints"))
                time.sleep(0.05)
                continue
            try:
                result = self.client.sql(endpoints[0], f"INSERT INTO events VALUES ({seq}, SHA2({seq}, 256))",
                                         self.client.harness.service_target_port(self.service))
            except subprocess.TimeoutExpired:
                self.failed.append((time.monotonic(), seq, "timed out"))
                continue
            if result.returncode == 0:
                self.acked.append((time.monotonic(), seq))
            else:
                self.failed.append((time.monotonic(), seq, result.stderr.strip()))

    def stop(self) -> list[int]:
        """Stop writing; the acknowledged rows."""
        self._halt.set()
        self.join(timeout=30)
        return [seq for _, seq in self.acked]

    def longest_gap(self, since: float) -> float:
        """The longest time without an acknowledged write since `since` (monotonic)."""
        times = [since] + [at for at, _ in self.acked if at >= since]
        return max((later - earlier for earlier, later in zip(times, times[1:])), default=0.0)
