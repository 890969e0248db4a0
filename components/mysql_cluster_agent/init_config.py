"""The `init-mysql` init container: gives the server its identity before it starts, a server-id
derived from the pod's ordinal and the pod's DNS name as its report-host, and its role's options
copied from the server options ConfigMap (mysql_cluster/server_option_files.py).

Every server starts read-only (replica.cnf), whatever its role: the pod's agent makes the primary
writable once it knows no other pod is (decide.py). The one exception is pod 0 starting without a
database, which the image's entrypoint is about to create as root, which MySQL's super-read-only
would refuse: it starts with primary.cnf.

The files are written by the pod's user (the pod's securityContext: the server's uid, and its
group by fsGroup) and readable by every user, as the ConfigMap's own files are, so that the server
reads them whatever its image's umask.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigProblem, PodIdentity, read_pod_identity
from .replay_plan import log_line

STEP = "init-mysql"
SERVER_ID_FILE = "server-id.cnf"
FILE_MODE = 0o644


@dataclass(frozen=True)
class ServerIdentity:
    """What the server of this pod starts as."""

    ordinal: int
    role: str  # "primary" or "replica": the name of its .cnf in the ConfigMap
    server_id: int
    report_host: str

    def option_file(self) -> str:
        return f"[mysqld]\nserver-id={self.server_id}\nreport-host={self.report_host}\n"


def server_identity(pod: PodIdentity, server_id_offset: int, has_database: bool) -> ServerIdentity:
    """server-id 0 means "no replication", hence the offset."""
    role = "primary" if pod.ordinal == 0 and not has_database else "replica"
    return ServerIdentity(pod.ordinal, role, server_id_offset + pod.ordinal, pod.own_host)


def _path(env: Mapping[str, str], name: str, what: str) -> Path:
    value = env.get(name, "")
    if not value.startswith("/"):
        raise ConfigProblem(f"environment variable {name} is {value[:80]!r}; set it to the absolute path of {what}")
    return Path(value)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(FILE_MODE)


def write_options(env: Mapping[str, str]) -> ServerIdentity:
    """Writes the server's option files into CONF_DIR; raises ConfigProblem naming what is wrong
    and what to do."""
    pod = read_pod_identity(env)
    conf_dir = _path(env, "CONF_DIR", "the server's option files directory (the pod's conf volume)")
    config_map_dir = _path(env, "CONFIG_MAP_DIR", "the mounted server options ConfigMap")
    subdir = env.get("DATA_SUBDIR", "")
    if not subdir or "/" in subdir:
        raise ConfigProblem(f"environment variable DATA_SUBDIR is {subdir[:80]!r}; set it to the data directory's name")
    datadir = _path(env, "DATA_VOLUME", "the data volume") / subdir
    offset = env.get("SERVER_ID_OFFSET", "")
    if not offset.isdigit():
        raise ConfigProblem(f"environment variable SERVER_ID_OFFSET is {offset[:40]!r}; set it to a whole number")
    if not (conf_dir.is_dir() and os.access(conf_dir, os.W_OK)):
        raise ConfigProblem(f"configuration directory {conf_dir} is not writable by uid {os.getuid()}; mount the "
                            "pod's conf volume there, writable by the pod's user")
    # Whether a database exists (the image's entrypoint made one) decides whether it starts writable.
    identity = server_identity(pod, int(offset), (datadir / "mysql").is_dir())
    source = config_map_dir / f"{identity.role}.cnf"
    try:
        options = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigProblem(f"{source} is missing from the ConfigMap ({error.strerror}); the server options "
                            "ConfigMap must hold primary.cnf and replica.cnf: run pulumi up to render it again") from None
    try:
        _write(conf_dir / SERVER_ID_FILE, identity.option_file())
        _write(conf_dir / source.name, options)
    except OSError as error:
        raise ConfigProblem(f"cannot write the server's options in {conf_dir}: {error.strerror}; the pod's conf "
                            "volume must have room and be writable by the pod's user") from None
    return identity


def main(env: Mapping[str, str] = os.environ) -> int:
    log = log_line(STEP)
    try:
        identity = write_options(env)
    except ConfigProblem as problem:
        log(f"FATAL: {problem}")
        return 1
    log(f"pod {identity.ordinal} starts with the {identity.role} options and server-id {identity.server_id}")
    return 0
