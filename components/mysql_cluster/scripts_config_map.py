"""The shell scripts of scripts/, shipped to the pods as files of a ConfigMap.

The ConfigMap's name carries a digest of the scripts, so a pod only ever runs the scripts of its
own revision: a changed script makes a new ConfigMap, the pod template names it, and the pods
roll. The scripts source their helpers from the directory they run from, the mount.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

SCRIPTS_DIR = "/opt/mysql-cluster/scripts"
VOLUME = "scripts"
# Readable by every user: the containers run as uid 999, whatever group the files get.
FILE_MODE = 0o444
DIGEST_LENGTH = 10


@lru_cache(maxsize=None)
def script_files() -> dict[str, str]:
    """Every script by file name, as the package ships them."""
    package = resources.files("mysql_cluster.scripts")
    return {entry.name: entry.read_text(encoding="utf-8")
            for entry in sorted(package.iterdir(), key=lambda entry: entry.name)
            if entry.name.endswith(".sh")}


def scripts_digest() -> str:
    digest = hashlib.sha256()
    for name, text in script_files().items():
        digest.update(f"{name}\0{text}\0".encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def script_command(name: str) -> list[str]:
    """The container or probe command that runs script `name` from the mount."""
    if name not in script_files():
        raise ValueError(f"no script {name} in scripts/")
    return ["bash", f"{SCRIPTS_DIR}/{name}"]


def scripts_config_map(resource_name: str, metadata: meta.ObjectMetaArgs,
                       opts: pulumi.ResourceOptions) -> core.ConfigMap:
    """The ConfigMap of the scripts; `metadata` names it from the cluster and scripts_digest().

    Immutable, so a change of content can only come as a new ConfigMap under a new name: Pulumi
    creates it, updates the StatefulSet that names it, and deletes the old one last.
    """
    return core.ConfigMap(resource_name, metadata=metadata, data=script_files(), immutable=True,
                          opts=opts)


def scripts_volume(config_map_name: pulumi.Input[str]) -> core.VolumeArgs:
    return core.VolumeArgs(name=VOLUME, config_map=core.ConfigMapVolumeSourceArgs(
        name=config_map_name, default_mode=FILE_MODE))


def scripts_mount() -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=VOLUME, mount_path=SCRIPTS_DIR, read_only=True)
