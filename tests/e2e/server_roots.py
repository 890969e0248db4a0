"""The file system trees that the servers' containers run from, one per MariaDB version.

A container's root is the image stand-in layer (image.py) over such a tree. MariaDB 10.11 is what
this machine (Debian 12) installs, so its tree is the machine's own ``/``. MariaDB 11.8 comes from
Debian 13: its tree is built with debootstrap from Debian's archive once per machine and kept
under CACHE_DIR, named after what it was built from, so that a changed package list builds anew.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .containers import host_mysql

CACHE_DIR = Path("/var/cache/mysql-cluster-e2e")
DEBIAN_13 = "trixie"
DEBIAN_13_PACKAGES = ("mariadb-server", "mariadb-backup", "socat")
# A first build downloads and unpacks about 700 MB; about a minute with a fast mirror.
BUILD_TIMEOUT = 1200
# What the harness and the scripts run inside a container, from the tree.
SERVER_COMMANDS = (
    "bash", "chroot", "env", "realpath", "setpriv", "mariadbd", "mariadb", "mariadb-admin",
    "mariadb-install-db", "mariadb-upgrade", "mariadb-backup", "mbstream", "socat",
)
VERSIONS = ("11.8", "10.11")
_BUILT_MARK = ".mysql-cluster-e2e-built"


class ServerRootError(Exception):
    """The tree of a server version cannot be had on this machine."""


@dataclass(frozen=True)
class ServerRoot:
    version: str  # MariaDB version line, e.g. "11.8"
    path: Path  # the tree under the image layer

    def problems(self) -> list[str]:
        """What the tree lacks for the harness (empty when nothing)."""
        bin_dirs = os.pathsep.join(str(self.path / directory)
                                   for directory in ("usr/sbin", "usr/bin", "sbin", "bin"))
        problems = [f"command {name!r} not found in {self.path}"
                    for name in SERVER_COMMANDS if not shutil.which(name, path=bin_dirs)]
        ids = _account_ids(self.path, "mysql")
        if ids is None:
            problems.append(f"{self.path} has no 'mysql' user (install mariadb-server)")
        elif ids != (host_mysql().pw_uid, host_mysql().pw_gid):
            problems.append(f"the 'mysql' user of {self.path} has ids {ids}, this machine's "
                            f"{(host_mysql().pw_uid, host_mysql().pw_gid)}")
        return problems


# What this machine (Debian 12) installs itself.
MACHINE_SERVER = ServerRoot("10.11", Path("/"))


def server_root(version: str) -> ServerRoot:
    """The tree MariaDB `version` runs from; the Debian 13 tree is built on first use."""
    if version == MACHINE_SERVER.version:
        return MACHINE_SERVER
    if version == "11.8":
        return ServerRoot(version, debian13_tree())
    raise ServerRootError(f"no root tree for MariaDB {version} (only {', '.join(VERSIONS)})")


def debian13_tree() -> Path:
    """Debian 13 with MariaDB 11.8, its backup tool and socat, built once per machine.

    Its mysql account gets this machine's mysql ids: both official images run MariaDB as 999,
    which the harness maps to this machine's account, so a data directory written by one
    version's pods stays the server's own under the other's (an upgrade in place).
    """
    uid, gid = host_mysql().pw_uid, host_mysql().pw_gid
    recipe = f"{DEBIAN_13} minbase {','.join(sorted(DEBIAN_13_PACKAGES))} mysql={uid}:{gid}"
    tree = CACHE_DIR / f"{DEBIAN_13}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    if (tree / _BUILT_MARK).exists():
        return tree
    if not shutil.which("debootstrap"):
        raise ServerRootError("command 'debootstrap' not found (tools/install.sh installs it)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Concurrent runs wait for one build instead of building twice.
    with open(CACHE_DIR / f"{DEBIAN_13}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (tree / _BUILT_MARK).exists():
            _build(tree, recipe, uid, gid)
    return tree


def _build(tree: Path, recipe: str, uid: int, gid: int) -> None:
    partial = tree.with_name(tree.name + ".partial")
    log = tree.with_name(tree.name + ".log")
    shutil.rmtree(partial, ignore_errors=True)  # left by a build that was killed
    shutil.rmtree(tree, ignore_errors=True)
    # In a mount namespace of its own, the /proc and /sys that debootstrap mounts in the tree
    # vanish with it, even when it is killed.
    command = ["unshare", "--mount", "--propagation", "private", "debootstrap",
               "--variant=minbase", f"--include={','.join(DEBIAN_13_PACKAGES)}", DEBIAN_13,
               str(partial)]
    with open(log, "w") as output:
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=output,
                                    stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ServerRootError(f"debootstrap took over {BUILD_TIMEOUT} s; see {log}") from None
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServerRootError(f"debootstrap exited with {result.returncode} ({log}):\n{tail}")
    _renumber_account(partial, "mysql", uid, gid)
    (partial / _BUILT_MARK).write_text(recipe + "\n")
    partial.rename(tree)


def _account_ids(tree: Path, name: str) -> tuple[int, int] | None:
    for line in (tree / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    return None


def _renumber_account(tree: Path, name: str, uid: int, gid: int) -> None:
    """Give the tree's user and group `name` these ids, and its files with them."""
    old = _account_ids(tree, name)
    if old is None:
        raise ServerRootError(f"debootstrap made no '{name}' user in {tree}")
    passwd, group = tree / "etc" / "passwd", tree / "etc" / "group"
    for table, new in ((passwd, uid), (group, gid)):
        holders = [line.split(":")[0] for line in table.read_text().splitlines()
                   if line.split(":")[2] == str(new) and line.split(":")[0] != name]
        if holders:
            raise ServerRootError(f"{table}: id {new} already belongs to {holders[0]}")
    _set_fields(passwd, name, {2: uid, 3: gid})
    _set_fields(group, name, {2: gid})
    for directory, _, files in os.walk(tree):
        for entry in (directory, *(os.path.join(directory, f) for f in files)):
            status = os.lstat(entry)
            if status.st_uid == old[0] or status.st_gid == old[1]:
                os.lchown(entry, uid if status.st_uid == old[0] else -1,
                          gid if status.st_gid == old[1] else -1)


def _set_fields(table: Path, name: str, values: dict[int, int]) -> None:
    """Set numbered fields of entry `name` of an /etc/passwd-style table."""
    lines = []
    for line in table.read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            for index, value in values.items():
                fields[index] = str(value)
        lines.append(":".join(fields))
    table.write_text("\n".join(lines) + "\n")
