"""The file system trees that the servers' containers run from, one per server (flavor-version).

A container's root is the image stand-in layer (image.py) over such a tree. MariaDB 10.11 is what
this machine (Debian 12) installs, so its tree is the machine's own ``/``. MariaDB 11.8 comes from
Debian 13 and MySQL 9.7 from Debian's development suite (``sid``, the only suite that packages
MySQL): each tree is built with debootstrap from Debian's archive once per machine and kept under
CACHE_DIR, named after what it was built from, so that a changed package list builds anew.
``sid`` moves daily, so a tree records the server version it holds and one of another line is
refused rather than tested as if it were the line asked for.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .containers import host_mysql

CACHE_DIR = Path("/var/cache/mysql-cluster-e2e")
# A first build downloads and unpacks 700 to 900 MB; about a minute with a fast mirror.
BUILD_TIMEOUT = 1200
# What the harness and the scripts run inside a container, from the tree.
_COMMON_COMMANDS = ("bash", "chroot", "env", "realpath", "setpriv")
_MARIADB_COMMANDS = ("mariadbd", "mariadb", "mariadb-admin", "mariadb-install-db", "mariadb-upgrade",
                     "mariadb-backup", "mbstream", "socat")
# mysqld and its client; pt-table-checksum checks replicas' data (run from the tree by the tests).
_MYSQL_COMMANDS = ("mysqld", "mysql", "mysqladmin", "mysqlbinlog", "pt-table-checksum")
_BUILT_MARK = ".mysql-cluster-e2e-built"
_SERVER_VERSION_MARK = ".mysql-cluster-e2e-server-version"


@dataclass(frozen=True)
class DebianTree:
    """How a server's tree is built: a Debian suite and the packages on top of minbase."""

    suite: str
    packages: tuple[str, ...]
    # The program whose --version names the server release the tree holds.
    server_program: str
    # Installed by apt in the finished tree: debootstrap resolves a dependency with alternatives
    # by its first one, which can conflict with the packages above.
    apt_packages: tuple[str, ...] = ()
    # Where the release is in the program's --version.
    version_pattern: str = r"\bVer\s+(\d+\.\d+\.\d+)"
    # Whether the tree has a mysql account, given this machine's ids (a server's tree).
    mysql_account: bool = True

    def description(self, uid: int, gid: int) -> str:
        """What the tree is built from, in one line (its cache name is a digest of it)."""
        text = f"{self.suite} minbase {','.join(sorted(self.packages))}"
        text += f" mysql={uid}:{gid}" if self.mysql_account else ""
        return text + (f" apt={','.join(sorted(self.apt_packages))}" if self.apt_packages else "")


DEBIAN_13 = DebianTree("trixie", ("mariadb-server", "mariadb-backup", "socat"), "mariadbd")
# percona-toolkit: pt-table-checksum, a check of replicas' data written by nobody here. Its Perl
# driver's first alternative pulls mariadb-common, which mysql-server conflicts with.
DEBIAN_SID = DebianTree("sid", ("mysql-server", "mysql-client"), "mysqld",
                        apt_packages=("percona-toolkit",))
# The stand-in of the official python image the agent runs in (its default, a 3.13 release on
# Debian 13: mysql_cluster/settings.py DEFAULT_AGENT_IMAGE): Debian 13's own Python 3.13.
PYTHON_TREE = DebianTree("trixie", ("python3",), "python3", version_pattern=r"^Python (\d+\.\d+\.\d+)",
                         mysql_account=False)
PYTHON_LINE = "3.13"


class ServerRootError(Exception):
    """The tree of a server cannot be had on this machine."""


@dataclass(frozen=True)
class ServerRoot:
    flavor: str  # "mysql" or "mariadb"
    version: str  # the server's release line, e.g. "11.8"
    path: Path  # the tree under the image layer

    @property
    def name(self) -> str:
        """The server as tests name it (their ids), e.g. mysql-9.7."""
        return f"{self.flavor}-{self.version}"

    def problems(self) -> list[str]:
        """What the tree lacks for the harness (empty when nothing)."""
        bin_dirs = os.pathsep.join(str(self.path / directory)
                                   for directory in ("usr/sbin", "usr/bin", "sbin", "bin"))
        commands = _COMMON_COMMANDS + (_MARIADB_COMMANDS if self.flavor == "mariadb"
                                       else _MYSQL_COMMANDS)
        problems = [f"command {name!r} not found in {self.path}"
                    for name in commands if not shutil.which(name, path=bin_dirs)]
        ids = _account_ids(self.path, "mysql")
        if ids is None:
            problems.append(f"{self.path} has no 'mysql' user (install {self.flavor}-server)")
        elif ids != (host_mysql().pw_uid, host_mysql().pw_gid):
            problems.append(f"the 'mysql' user of {self.path} has ids {ids}, this machine's "
                            f"{(host_mysql().pw_uid, host_mysql().pw_gid)}")
        return problems


# What this machine (Debian 12) installs itself.
MACHINE_SERVER = ServerRoot("mariadb", "10.11", Path("/"))
# Each flavor's default first: every scenario runs on these (tests/e2e/README.md, "The servers").
DEFAULT_SERVERS = ("mysql-9.7", "mariadb-11.8")
SERVERS = (*DEFAULT_SERVERS, MACHINE_SERVER.name)
_BUILT_TREES = {"mariadb-11.8": DEBIAN_13, "mysql-9.7": DEBIAN_SID}


def split_server(server: str) -> tuple[str, str]:
    """A server's name (mysql-9.7) as its flavor and version."""
    flavor, _, version = server.partition("-")
    return flavor, version


def server_root(server: str) -> ServerRoot:
    """The tree `server` (e.g. mysql-9.7) runs from; a Debian tree is built on first use."""
    if server == MACHINE_SERVER.name:
        return MACHINE_SERVER
    if server not in _BUILT_TREES:
        raise ServerRootError(f"no root tree for {server} (only {', '.join(SERVERS)})")
    flavor, version = split_server(server)
    recipe = _BUILT_TREES[server]
    tree = debian_tree(recipe)
    found = _recorded_release(tree, recipe)
    if not found.startswith(f"{version}."):
        raise ServerRootError(
            f"the Debian {recipe.suite} tree {tree} holds {recipe.server_program} {found}, not a "
            f"{version} release: Debian's {recipe.suite} has moved to another line; pin the harness "
            f"to it (server_roots.py, tests/e2e/README.md) or keep a tree of {version}")
    return ServerRoot(flavor, version, tree)


def python_root() -> Path:
    """The tree the agent's containers run from (the python image's stand-in), built on first use."""
    tree = debian_tree(PYTHON_TREE)
    found = _recorded_release(tree, PYTHON_TREE)
    if not found.startswith(f"{PYTHON_LINE}."):
        raise ServerRootError(f"the Debian {PYTHON_TREE.suite} tree {tree} holds Python {found}, "
                              f"not {PYTHON_LINE} as the default agent image")
    return tree


def debian_tree(recipe: DebianTree) -> Path:
    """A Debian tree of `recipe`, built once per machine.

    Its mysql account gets this machine's mysql ids: the official images run the server as 999,
    which the harness maps to this machine's account, so a data directory written by one
    version's pods stays the server's own under the other's (an upgrade in place).
    """
    uid, gid = host_mysql().pw_uid, host_mysql().pw_gid
    description = recipe.description(uid, gid)
    tree = CACHE_DIR / f"{recipe.suite}-{hashlib.sha256(description.encode()).hexdigest()[:12]}"
    if (tree / _BUILT_MARK).exists():
        return tree
    if not shutil.which("debootstrap"):
        raise ServerRootError("command 'debootstrap' not found (tools/install.sh installs it)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Concurrent runs wait for one build instead of building twice.
    with open(CACHE_DIR / f"{recipe.suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (tree / _BUILT_MARK).exists():
            _build(tree, recipe, description, uid, gid)
    return tree


def _build(tree: Path, recipe: DebianTree, description: str, uid: int, gid: int) -> None:
    partial = tree.with_name(tree.name + ".partial")
    log = tree.with_name(tree.name + ".log")
    shutil.rmtree(partial, ignore_errors=True)  # left by a build that was killed
    shutil.rmtree(tree, ignore_errors=True)
    # In a mount namespace of its own, the /proc and /sys that debootstrap mounts in the tree
    # vanish with it, even when it is killed.
    steps = ['debootstrap --variant=minbase --include="$1" "$2" "$3"']
    if recipe.apt_packages:
        steps.append('mount -t proc proc "$3/proc" && chroot "$3" env DEBIAN_FRONTEND=noninteractive '
                     'apt-get install -y --no-install-recommends "${@:4}"')
    command = ["unshare", "--mount", "--propagation", "private", "bash", "-ec", "\n".join(steps),
               "build", ",".join(recipe.packages), recipe.suite, str(partial), *recipe.apt_packages]
    with open(log, "w") as output:
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=output,
                                    stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ServerRootError(f"the build took over {BUILD_TIMEOUT} s; see {log}") from None
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServerRootError(f"building the Debian {recipe.suite} tree failed (exit "
                              f"{result.returncode}; {log}; {recipe.suite} can be briefly "
                              f"uninstallable during a library transition):\n{tail}")
    if recipe.mysql_account:
        _renumber_account(partial, "mysql", uid, gid)
    (partial / _SERVER_VERSION_MARK).write_text(_server_release(partial, recipe) + "\n")
    (partial / _BUILT_MARK).write_text(description + "\n")
    partial.rename(tree)


def _recorded_release(tree: Path, recipe: DebianTree) -> str:
    """The server release the tree holds, as recorded when it was built (a tree built before the
    record existed gets it now)."""
    mark = tree / _SERVER_VERSION_MARK
    if not mark.exists():
        # Written whole and renamed: another test run (an xdist worker) may be reading it.
        partial = mark.with_name(f"{mark.name}.{os.getpid()}")
        partial.write_text(_server_release(tree, recipe) + "\n")
        partial.rename(mark)
    return mark.read_text().strip()


def _server_release(tree: Path, recipe: DebianTree) -> str:
    """The release (e.g. 9.7.4) of the server program in `tree`, from its --version."""
    result = subprocess.run(["chroot", str(tree), recipe.server_program, "--version"],
                            capture_output=True, text=True, timeout=60)
    # "/usr/sbin/mysqld  Ver 9.7.4-1 for Linux ...", "mariadbd  Ver 11.8.9-MariaDB-...",
    # "Python 3.13.5"
    found = re.search(recipe.version_pattern, result.stdout)
    if result.returncode != 0 or not found:
        raise ServerRootError(f"{recipe.server_program} --version in {tree} gave no release: "
                              f"{(result.stdout + result.stderr).strip()[:300]}")
    return found.group(1)


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
