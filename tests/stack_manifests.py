"""Where the project is, and how tests pick resources out of rendered manifests.

On the import path of every test (pytest's `pythonpath`), so test directories need not import
each other's conftest.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = tuple(sorted(path.name.split(".")[1] for path in PROJECT_DIR.glob("Pulumi.*.yaml")))

Manifests = list[dict[str, Any]]


def matching(manifests: Manifests, kind: str, name: Optional[str] = None) -> Manifests:
    """Every manifest of `kind` (named `name`, when given)."""
    return [m for m in manifests
            if m.get("kind") == kind and (name is None or m["metadata"]["name"] == name)]


def find(manifests: Manifests, kind: str, name: Optional[str] = None) -> dict[str, Any]:
    """The one manifest of `kind` (and `name`, when several)."""
    matches = matching(manifests, kind, name)
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def server_config_map(manifests: Manifests) -> dict[str, Any]:
    """The ConfigMap with the servers' .cnf files (the other one holds the scripts)."""
    (config_map,) = [m for m in manifests
                     if m["kind"] == "ConfigMap" and "primary.cnf" in m.get("data", {})]
    return config_map


def container(statefulset: dict[str, Any], name: str) -> dict[str, Any]:
    spec = statefulset["spec"]["template"]["spec"]
    for candidate in spec.get("initContainers", []) + spec["containers"]:
        if candidate["name"] == name:
            return candidate
    raise AssertionError(f"no container {name}")


def mounted_config_maps(manifests: Manifests, container_name: str) -> dict[str, dict[str, str]]:
    """The files of every ConfigMap the StatefulSet's container `container_name` mounts, by the
    path it mounts them at, as the rendered manifests give them: by their path in the volume
    when the volume lists its items (the agent's packages), else by key."""
    statefulset = find(manifests, "StatefulSet")
    volumes = {volume["name"]: volume["configMap"]
               for volume in statefulset["spec"]["template"]["spec"]["volumes"]
               if "configMap" in volume}

    def files(volume: dict[str, Any]) -> dict[str, str]:
        data = find(manifests, "ConfigMap", volume["name"])["data"]
        items = volume.get("items") or [{"key": key, "path": key} for key in data]
        return {item["path"]: data[item["key"]] for item in items}
    return {mount["mountPath"]: files(volumes[mount["name"]])
            for mount in container(statefulset, container_name).get("volumeMounts", [])
            if mount["name"] in volumes}


def lay_out_config_maps(manifests: Manifests, container_name: str, root: Path) -> dict[str, Path]:
    """Writes the ConfigMaps the container mounts into directories under root; the directory of
    each by the path the container mounts it at."""
    directories = {}
    for number, (mount_path, files) in enumerate(mounted_config_maps(manifests, container_name).items()):
        directories[mount_path] = root / f"config-map-{number}"
        directories[mount_path].mkdir(parents=True)
        for name, text in files.items():
            (directories[mount_path] / name).parent.mkdir(parents=True, exist_ok=True)
            (directories[mount_path] / name).write_text(text, encoding="utf-8")
    return directories


def host_path(path: str, directories: dict[str, Path]) -> str:
    """`path` as the container sees it, moved into the directory laid out for its mount (or
    unchanged when no such mount holds it)."""
    for mount_path, directory in directories.items():
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            return str(directory / path[len(mount_path):].lstrip("/"))
    return path


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod template (metadata and spec) of a StatefulSet, Job or CronJob."""
    spec = workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
    return spec["template"]


def workload_pod_specs(manifests: Manifests) -> dict[str, dict[str, Any]]:
    """Every workload's pod spec, by kind: the StatefulSet, the switchover Job, the backup
    CronJob ("CronJob") and the restore drill's ("CronJob:restore-drill", by its component)."""
    specs = {}
    for manifest in manifests:
        key = manifest["kind"]
        if key == "CronJob":
            component = manifest["metadata"]["labels"]["app.kubernetes.io/component"]
            key = "CronJob" if component == "backup" else f"CronJob:{component}"
        elif key not in ("StatefulSet", "Job"):
            continue
        specs[key] = pod_template(manifest)["spec"]
    return specs


def mounted_secret_files(pod_spec: dict[str, Any], container_name: str
                         ) -> dict[str, tuple[str, Optional[list[str]]]]:
    """The Secrets a container of `pod_spec` mounts, by the path it mounts each at: the Secret's
    name and the keys the volume mounts (None: every key)."""
    volumes = {volume["name"]: volume["secret"] for volume in pod_spec["volumes"]
               if "secret" in volume}
    candidates = pod_spec.get("initContainers", []) + pod_spec["containers"]
    (found,) = [candidate for candidate in candidates if candidate["name"] == container_name]
    files = {}
    for mount in found.get("volumeMounts", []):
        if mount["name"] in volumes:
            assert mount.get("readOnly") is True, mount
            secret = volumes[mount["name"]]
            items = secret.get("items")
            files[mount["mountPath"]] = (secret["secretName"],
                                         None if items is None else [item["key"] for item in items])
    return files
