"""What stands in for the official ``mariadb`` image on this machine.

Containers run the machine's own MariaDB packages. To behave like the image
rather than like a Debian install, every container's root file system is an
overlay of the machine's ``/`` adjusted by ``ImageLayer`` (see
tests/e2e/README.md, "Image stand-in").
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .manifests import ManifestError

ENTRYPOINT_SCRIPT = Path(__file__).with_name("image") / "docker-entrypoint.sh"
ENTRYPOINT_PATH = "/usr/local/bin/docker-entrypoint.sh"
IMAGE_DEFAULT_COMMAND = ["mariadbd"]
IMAGE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Tools this machine has and the image lacks; scripts must not come to rely on them.
ABSENT_FROM_IMAGE = ("nc", "nc.*", "ncat", "netcat", "python3", "python3.*", "curl", "wget")

# The image comments these settings out of every packaged config file; Debian's
# 50-server.cnf would otherwise bind the server to 127.0.0.1 only.
_IMAGE_COMMENTED_OUT = re.compile(r"^(bind-address|log|user\s)", re.MULTILINE)
_IMAGE_SKIPCACHE_CNF = "[mariadb]\nhost-cache-size=0\nskip-name-resolve\n"


@dataclass(frozen=True)
class ImageLayer:
    etc_mysql: Path
    entrypoint: Path
    absent_commands: tuple[str, ...]


def build_image_layer(dest: Path, absent_commands: tuple[str, ...] = ABSENT_FROM_IMAGE) -> ImageLayer:
    """Prepare, once per harness, the files that make a container look like the image."""
    etc_mysql = dest / "etc-mysql"
    shutil.copytree("/etc/mysql", etc_mysql, symlinks=False)
    for cnf in etc_mysql.rglob("*.cnf"):
        cnf.write_text(_IMAGE_COMMENTED_OUT.sub(r"#\1", cnf.read_text()))
    for top_level in (etc_mysql / "my.cnf", etc_mysql / "mariadb.cnf"):
        if top_level.exists():
            top_level.write_text(_mounted_config_last(top_level.read_text()))
    (etc_mysql / "mariadb.conf.d" / "05-skipcache.cnf").write_text(_IMAGE_SKIPCACHE_CNF)
    return ImageLayer(etc_mysql=etc_mysql, entrypoint=ENTRYPOINT_SCRIPT, absent_commands=absent_commands)


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
    if repository != "mariadb":
        raise ManifestError(
            f"container {container['name']!r} relies on the entrypoint of image {image!r}, "
            "and only the mariadb image's entrypoint is emulated"
        )
    return [ENTRYPOINT_PATH] + (args or IMAGE_DEFAULT_COMMAND)
