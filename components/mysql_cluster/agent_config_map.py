"""The agent's code, shipped to the pods as files of a ConfigMap: the mysql_cluster_agent package
and the source of PyMySQL, its one dependency, taken from the installed release at render time,
with PyMySQL's licence (MIT, which allows shipping its source with the notice).

Like the scripts (scripts_config_map.py) the ConfigMap is immutable and its name carries a
digest of the files, so a pod only ever runs the agent of its own revision. ConfigMap keys are
flat names; the volume's items lay the files out as the packages' directories again.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata, resources
from importlib.resources.abc import Traversable

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

AGENT_DIR = "/opt/mysql-cluster/agent"
VOLUME = "agent"
AGENT_PACKAGE = "mysql_cluster_agent"
DRIVER_DISTRIBUTION = "PyMySQL"
DRIVER_PACKAGE = "pymysql"
LICENSES_DIR = "licenses"
# Readable by every user: the containers run as uid 999, whatever group the files get.
FILE_MODE = 0o444
DIGEST_LENGTH = 10


def _python_files(package: str) -> dict[str, str]:
    """Every .py file of an installed package, by its path below the package's parent."""
    files: dict[str, str] = {}

    def walk(directory: Traversable, path: str) -> None:
        for entry in sorted(directory.iterdir(), key=lambda entry: entry.name):
            if entry.is_dir() and entry.name != "__pycache__":
                walk(entry, f"{path}/{entry.name}")
            elif entry.is_file() and entry.name.endswith(".py"):
                files[f"{path}/{entry.name}"] = entry.read_text(encoding="utf-8")
    walk(resources.files(package), package)
    return files


def _driver_license() -> str:
    for file in metadata.files(DRIVER_DISTRIBUTION) or ():
        if file.name.startswith(("LICENSE", "COPYING")):
            return file.read_text(encoding="utf-8")
    raise RuntimeError(f"the installed {DRIVER_DISTRIBUTION} has no licence file; reinstall it "
                       "from requirements.txt")


@lru_cache(maxsize=None)
def agent_files() -> dict[str, str]:
    """Every file the agent runs with, by its path below AGENT_DIR."""
    version = metadata.version(DRIVER_DISTRIBUTION)
    return {
        **_python_files(AGENT_PACKAGE),
        **_python_files(DRIVER_PACKAGE),
        f"{LICENSES_DIR}/{DRIVER_DISTRIBUTION}-{version}-LICENSE": _driver_license(),
    }


def config_map_key(path: str) -> str:
    """A file's key in the ConfigMap (keys hold no '/')."""
    return path.replace("/", "..")


def agent_digest() -> str:
    digest = hashlib.sha256()
    for path, text in agent_files().items():
        digest.update(f"{path}\0{text}\0".encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def agent_config_map(resource_name: str, metadata_args: meta.ObjectMetaArgs,
                     opts: pulumi.ResourceOptions) -> core.ConfigMap:
    """The ConfigMap of the agent's files; `metadata_args` names it from the cluster and
    agent_digest(). Immutable: a change comes as a new ConfigMap under a new name, which Pulumi
    creates before the StatefulSet that names it moves on, and deletes after."""
    return core.ConfigMap(resource_name, metadata=metadata_args, immutable=True, opts=opts,
                          data={config_map_key(path): text for path, text in agent_files().items()})


def agent_volume(config_map_name: pulumi.Input[str]) -> core.VolumeArgs:
    return core.VolumeArgs(name=VOLUME, config_map=core.ConfigMapVolumeSourceArgs(
        name=config_map_name, default_mode=FILE_MODE,
        items=[core.KeyToPathArgs(key=config_map_key(path), path=path) for path in agent_files()]))


def agent_mount() -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=VOLUME, mount_path=AGENT_DIR, read_only=True)
