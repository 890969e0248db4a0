"""Pod volumes as directories on this machine, prepared the way the kubelet does.

A volume claim's directory is kept for the whole harness (it survives pod
restarts and scale-down, like a PersistentVolumeClaim); every other volume is
made anew for each start of a pod.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .containers import Mount, fs_group
from .manifests import ManifestError, RenderedManifests

_DEFAULT_PROJECTION_MODE = 0o644


@dataclass(frozen=True)
class PreparedVolume:
    path: Path
    read_only: bool  # configMap and secret volumes are always mounted read-only


def claim_directory(claims_dir: Path, claim: str, pod_name: str) -> Path:
    # The PVC a StatefulSet creates for a pod is named "<claim>-<pod>".
    return claims_dir / f"{claim}-{pod_name}"


def prepare_volumes(
    statefulset: dict, manifests: RenderedManifests, pod_name: str, pod_dir: Path, claims_dir: Path
) -> dict[str, PreparedVolume]:
    pod_spec = statefulset["spec"]["template"]["spec"]
    group = fs_group(pod_spec)
    change_policy = (pod_spec.get("securityContext") or {}).get("fsGroupChangePolicy", "Always")
    volumes: dict[str, PreparedVolume] = {}
    for volume in pod_spec.get("volumes") or []:
        name = volume["name"]
        path = pod_dir / "volumes" / name
        # A generic ephemeral volume is a claim made with the pod and deleted with it: to the
        # pod, a new empty volume at every start, like an emptyDir.
        if "emptyDir" in volume or "ephemeral" in volume:
            path.mkdir(parents=True)
            path.chmod(0o777)
            _apply_fs_group(path, group, read_only=False)
            volumes[name] = PreparedVolume(path, read_only=False)
        elif "configMap" in volume:
            source = volume["configMap"]
            _project(path, manifests.configmap_data(source["name"]), source, group)
            volumes[name] = PreparedVolume(path, read_only=True)
        elif "secret" in volume:
            source = volume["secret"]
            _project(path, manifests.secret_data(source["secretName"]), source, group)
            volumes[name] = PreparedVolume(path, read_only=True)
        elif "persistentVolumeClaim" in volume:
            # A claim the user made: a directory kept for the harness's lifetime, like the others.
            path = claims_dir / volume["persistentVolumeClaim"]["claimName"]
            path.mkdir(parents=True, exist_ok=True)
            _apply_fs_group(path, group, read_only=False)
            volumes[name] = PreparedVolume(path, read_only=False)
        else:
            raise ManifestError(f"volume {name!r}: only emptyDir, ephemeral, configMap, secret "
                                "and persistentVolumeClaim are emulated")
    for template in statefulset["spec"].get("volumeClaimTemplates") or []:
        claim = template["metadata"]["name"]
        if claim in volumes:
            raise ManifestError(f"volume {claim!r} is both a pod volume and a volume claim template")
        path = claim_directory(claims_dir, claim, pod_name)
        # A new volume's root is root-owned; fsGroup then makes it group-writable.
        path.mkdir(parents=True, exist_ok=True)
        if change_policy != "OnRootMismatch" or _root_mismatch(path, group):
            _apply_fs_group(path, group, read_only=False)
        volumes[claim] = PreparedVolume(path, read_only=False)
    return volumes


def container_mounts(container: dict, volumes: dict[str, PreparedVolume]) -> list[Mount]:
    mounts = []
    for volume_mount in container.get("volumeMounts") or []:
        name = volume_mount["name"]
        if name not in volumes:
            raise ManifestError(f"container {container['name']!r} mounts unknown volume {name!r}")
        if "subPathExpr" in volume_mount:
            raise ManifestError("subPathExpr is not emulated")
        volume = volumes[name]
        source = volume.path
        if volume_mount.get("subPath"):
            source = volume.path / volume_mount["subPath"]
            if not source.exists():
                _make_sub_path(volume.path, source)
        read_only = bool(volume_mount.get("readOnly")) or volume.read_only
        mounts.append(Mount(source=source, target=volume_mount["mountPath"], read_only=read_only))
    return mounts


def _make_sub_path(volume_root: Path, sub_path: Path) -> None:
    # The kubelet creates a missing subPath directory with the volume root's
    # mode, so that fsGroup members can still write there.
    if not sub_path.resolve().is_relative_to(volume_root.resolve()):
        raise ManifestError(f"subPath {sub_path} leaves its volume")
    root_stat = volume_root.stat()
    missing = []
    for parent in [sub_path, *sub_path.parents]:
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        directory.mkdir()
        os.chown(directory, -1, root_stat.st_gid)
        directory.chmod(root_stat.st_mode & 0o7777)


def refresh_projected_volumes(pod_spec: dict, manifests: RenderedManifests,
                              volumes: dict[str, PreparedVolume]) -> None:
    """What the kubelet does some time after a mounted ConfigMap or Secret changed: the pod's
    files show the new data, each replaced whole (by rename), while its containers run on. An
    immutable one cannot change, and the kubelet stops watching it (the agent's, whose files lie
    in directories)."""
    group = fs_group(pod_spec)
    for volume in pod_spec.get("volumes") or []:
        if volume["name"] not in volumes:
            continue
        if "configMap" in volume:
            source = volume["configMap"]
            if manifests.get("ConfigMap", source["name"]).get("immutable"):
                continue
            data = manifests.configmap_data(source["name"])
        elif "secret" in volume:
            source = volume["secret"]
            data = manifests.secret_data(source["secretName"])
        else:
            continue
        staging = volumes[volume["name"]].path.with_name(volume["name"] + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        _project(staging, data, source, group)
        for file in staging.iterdir():
            os.replace(file, volumes[volume["name"]].path / file.name)
        staging.rmdir()


def _project(path: Path, data: dict[str, bytes], source: dict, group: int | None) -> None:
    """Write configMap or secret keys as files, honouring items and modes."""
    default_mode = source.get("defaultMode", _DEFAULT_PROJECTION_MODE)
    if source.get("items"):
        selected = [(item["key"], item["path"], item.get("mode", default_mode)) for item in source["items"]]
    else:
        selected = [(key, key, default_mode) for key in data]
    path.mkdir(parents=True)
    for key, relative, mode in selected:
        if key not in data:
            if source.get("optional"):
                continue
            raise ManifestError(f"key {key!r} is missing from {source}")
        file = path / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data[key])
        file.chmod(mode)
    _apply_fs_group(path, group, read_only=True)


def _root_mismatch(path: Path, group: int | None) -> bool:
    """fsGroupChangePolicy OnRootMismatch: only a volume whose root is not yet right is changed."""
    if group is None:
        return False
    status = path.stat()
    return status.st_gid != group or status.st_mode & 0o2770 != 0o2770


def _apply_fs_group(path: Path, group: int | None, read_only: bool) -> None:
    """fsGroup: group ownership, group access and setgid directories, recursively."""
    if group is None:
        return
    file_mask = 0o440 if read_only else 0o660
    for directory, _, files in os.walk(path):
        os.chown(directory, -1, group)
        os.chmod(directory, (os.stat(directory).st_mode & 0o7777) | file_mask | 0o110 | 0o2000)
        for name in files:
            file = os.path.join(directory, name)
            if os.path.islink(file):
                continue
            os.chown(file, -1, group)
            os.chmod(file, (os.stat(file).st_mode & 0o7777) | file_mask)
