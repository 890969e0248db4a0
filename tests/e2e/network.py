"""Pod networking: one network namespace per pod, joined by a bridge.

The bridge lives in a namespace of its own (the "hub"), so no interface,
address or route is ever added to the machine's own network namespace. Pod
addresses come from POD_SUBNET and exist only inside these namespaces:
nothing outside them can reach or be reached through them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

POD_SUBNET = ipaddress.ip_network("10.231.0.0/24")
NETNS_DIR = Path("/run/netns")
# Every namespace this harness creates is named "<prefix>-<pid>-<n>-<what>",
# so a later run can recognise namespaces left by a run that was killed.
NAMESPACE_PREFIX = "mdbe2e"
_OWNED_NAME = re.compile(rf"^{NAMESPACE_PREFIX}-(\d+)-")
_COMMAND_TIMEOUT = 10


def ip(*args: str) -> str:
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=_COMMAND_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _tc(*args: str, missing_ok: bool = False) -> None:
    result = subprocess.run(
        ["tc", *args], capture_output=True, text=True, timeout=_COMMAND_TIMEOUT, check=False
    )
    # Deleting the root qdisc of an interface that has only its default one says this.
    missing = "handle of zero" in result.stderr
    if result.returncode != 0 and not (missing_ok and missing):
        raise RuntimeError(f"tc {' '.join(args)} failed: {result.stderr.strip()}")


@dataclass(frozen=True)
class PodAttachment:
    netns: str
    ip: str
    hub_interface: str

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns


def pids_in_namespace(netns: str) -> list[int]:
    result = subprocess.run(
        ["ip", "netns", "pids", netns], capture_output=True, text=True, timeout=_COMMAND_TIMEOUT,
        check=False,
    )
    return [int(pid) for pid in result.stdout.split()]


def delete_namespace(netns: str) -> None:
    """Kill whatever still runs in the namespace, then remove it."""
    for pid in pids_in_namespace(netns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if (NETNS_DIR / netns).exists():
        ip("netns", "delete", netns)


def _process_alive(pid: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    # A killed process stays a zombie until its parent reaps it.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def remove_stale_namespaces() -> list[str]:
    """Delete namespaces left by harness runs whose process no longer runs."""
    removed = []
    for netns in sorted(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else []:
        match = _OWNED_NAME.match(netns)
        if match and not _process_alive(match.group(1)):
            delete_namespace(netns)
            removed.append(netns)
    return removed


def namespace_id(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def ids_of_other_namespaces(own_prefix: str) -> set[tuple[int, int]]:
    """The ids of the named network namespaces that are not this network's."""
    ids = set()
    for path in NETNS_DIR.glob("*") if NETNS_DIR.is_dir() else []:
        if not path.name.startswith(own_prefix + "-"):
            try:
                ids.add(namespace_id(path))
            except OSError:  # removed meanwhile
                continue
    return ids


class PodNetwork:
    """A private layer-2 segment that pods join and leave."""

    _sequence = 0

    def __init__(self):
        PodNetwork._sequence += 1
        self.name_prefix = f"{NAMESPACE_PREFIX}-{os.getpid()}-{PodNetwork._sequence}"
        self.hub = f"{self.name_prefix}-hub"
        self._addresses_in_use: set[str] = set()
        # Hosts from .10 up; a restarted pod gets a fresh address, as it would in a cluster.
        self._next_host = 10
        ip("netns", "add", self.hub)
        try:
            ip("-n", self.hub, "link", "set", "lo", "up")
            ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            ip("-n", self.hub, "link", "set", "br0", "up")
        except Exception:
            delete_namespace(self.hub)
            raise
        # Every namespace this network ever made, by id: processes left in one are leftovers.
        self.namespace_ids = {namespace_id(self.hub_path)}

    @property
    def hub_path(self) -> Path:
        return NETNS_DIR / self.hub

    def attach(self, pod_name: str) -> PodAttachment:
        address = self._allocate_address()
        netns = f"{self.name_prefix}-{pod_name}"
        hub_interface = f"v{address.split('.')[-1]}"
        ip("netns", "add", netns)
        try:
            ip("-n", netns, "link", "set", "lo", "up")
            ip("-n", self.hub, "link", "add", hub_interface, "type", "veth",
               "peer", "name", "eth0", "netns", netns)
            ip("-n", self.hub, "link", "set", hub_interface, "master", "br0", "up")
            ip("-n", netns, "addr", "add", f"{address}/{POD_SUBNET.prefixlen}", "dev", "eth0")
            ip("-n", netns, "link", "set", "eth0", "up")
        except Exception:
            delete_namespace(netns)
            self._addresses_in_use.discard(address)
            raise
        attachment = PodAttachment(netns=netns, ip=address, hub_interface=hub_interface)
        self.namespace_ids.add(namespace_id(attachment.netns_path))
        return attachment

    def limit_egress(self, attachment: PodAttachment, bits_per_second: int | None) -> None:
        """Shape what the pod sends through eth0 with a token bucket; None removes it."""
        if bits_per_second is None:
            _tc("-n", attachment.netns, "qdisc", "del", "dev", "eth0", "root", missing_ok=True)
            return
        # A bucket of ~50 ms of traffic (at least one full-size frame) keeps the rate smooth.
        burst = max(bits_per_second // 8 // 20, 2048)
        _tc("-n", attachment.netns, "qdisc", "replace", "dev", "eth0", "root", "tbf",
            "rate", f"{bits_per_second}bit", "burst", str(burst), "latency", "1s")

    def detach(self, attachment: PodAttachment) -> None:
        # Removing the namespace destroys its veth end, and with it the hub end.
        delete_namespace(attachment.netns)
        self._addresses_in_use.discard(attachment.ip)

    def close(self) -> None:
        for netns in self.owned_namespaces():
            delete_namespace(netns)
        self._addresses_in_use.clear()

    def owned_namespaces(self) -> list[str]:
        if not NETNS_DIR.is_dir():
            return []
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(self.name_prefix + "-"))

    def _allocate_address(self) -> str:
        hosts = list(POD_SUBNET.hosts())
        for _ in range(len(hosts)):
            candidate = str(POD_SUBNET.network_address + self._next_host)
            self._next_host = self._next_host + 1 if self._next_host < len(hosts) else 10
            if candidate not in self._addresses_in_use:
                self._addresses_in_use.add(candidate)
                return candidate
        raise RuntimeError(f"no free address left in {POD_SUBNET}")
