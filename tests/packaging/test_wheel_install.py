"""The wheel is all another project needs. Built from this tree and installed into a fresh virtual
environment, it runs a separate program (consumer/) from a directory that has no scripts/: two
clusters, orders and billing, in the namespace shop, through the program's own provider."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from stack_manifests import container, find, host_path, lay_out_config_maps

PROJECT_DIR = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CLUSTERS = ("orders", "billing")
NAMESPACE = "shop"


def _copy_sources(destination: Path) -> None:
    """Copies what pyproject.toml builds the wheel from, and nothing else of the work tree."""
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    destination.mkdir()
    for name in ("pyproject.toml", project["project"]["readme"],
                 *project["tool"]["setuptools"]["package-dir"].values()):
        source, target = PROJECT_DIR / name, destination / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def _run(command: list[str], cwd: Path) -> str:
    # Nothing of this interpreter's environment may leak into the fresh one.
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies, nothing else."""
    work = tmp_path_factory.mktemp("wheel")
    # A copy keeps the build's own files (build/, *.egg-info) out of the work tree.
    _copy_sources(work / "source")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"),
          str(work / "source")], cwd=work)
    (wheel,) = (work / "dist").glob("mysql_cluster-*.whl")
    # This interpreter's pip installs into the new environment, which then needs none of its
    # own; the dependencies' bytecode is compiled when imported, for the few modules that are.
    _run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], cwd=work)
    _run([sys.executable, "-m", "pip", "--python", str(work / "venv" / "bin" / "python"),
          "install", "--quiet", "--no-compile", "--disable-pip-version-check", str(wheel)],
         cwd=work)
    return work / "venv"


@pytest.fixture(scope="module")
def consumer(venv, tmp_path_factory) -> dict[str, Any]:
    """What record_consumer.py reports for consumer/, run by the virtual environment's python
    in isolated mode (-I: neither the script's directory nor PYTHONPATH is on sys.path)."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    return json.loads(_run([str(venv / "bin" / "python"), "-I", str(HERE / "record_consumer.py"),
                            str(HERE / "consumer" / "__main__.py")], cwd=elsewhere))


def _kubernetes(consumer: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in consumer["resources"] if r["type"].startswith("kubernetes:")]


def _owner(resource: dict[str, Any]) -> str:
    """The cluster that registered the resource: every resource name starts with its name."""
    (cluster,) = [c for c in CLUSTERS if resource["name"].startswith(f"{c}-")]
    return cluster


def _statefulset(consumer: dict[str, Any], cluster: str) -> dict[str, Any]:
    (statefulset,) = [r["inputs"] for r in _kubernetes(consumer)
                      if r["type"] == "kubernetes:apps/v1:StatefulSet" and _owner(r) == cluster]
    return statefulset


def test_the_program_imports_the_package_from_the_virtual_environment(consumer, venv):
    assert Path(consumer["package"]).is_relative_to(venv)


def test_the_two_clusters_share_no_resource_name(consumer):
    pulumi_names = [r["name"] for r in consumer["resources"]]
    assert len(pulumi_names) == len(set(pulumi_names))
    objects = [(r["inputs"]["kind"], r["inputs"]["metadata"]["namespace"],
                r["inputs"]["metadata"]["name"]) for r in _kubernetes(consumer)]
    assert {namespace for _, namespace, _ in objects} == {NAMESPACE}
    assert len(objects) == len(set(objects))


def _pod_selector(manifest: dict[str, Any]) -> dict[str, str]:
    spec = manifest.get("spec", {})
    if manifest["kind"] == "Service":
        return spec["selector"]
    if manifest["kind"] == "NetworkPolicy":
        return spec["podSelector"]["matchLabels"]
    if manifest["kind"] in ("StatefulSet", "PodDisruptionBudget"):
        return spec["selector"]["matchLabels"]
    return {}


def test_each_cluster_labels_and_selects_only_its_own_pods(consumer):
    selecting = set()
    for resource in _kubernetes(consumer):
        instance = {"app.kubernetes.io/instance": _owner(resource)}
        manifest = resource["inputs"]
        assert manifest["metadata"]["labels"].items() >= instance.items()
        if _pod_selector(manifest):
            assert _pod_selector(manifest).items() >= instance.items(), manifest["kind"]
            selecting.add(manifest["kind"])
    assert selecting == {"Service", "NetworkPolicy", "StatefulSet", "PodDisruptionBudget"}


def test_every_kubernetes_resource_is_managed_by_the_programs_provider(consumer):
    resources = _kubernetes(consumer)
    assert resources
    for resource in resources:
        provider_urn = resource["provider"].rpartition("::")[0]  # "<urn>::<id>"
        assert provider_urn.endswith("pulumi:providers:kubernetes::shop-cluster"), resource["name"]


def _manifests(consumer: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    return [r["inputs"] for r in _kubernetes(consumer) if _owner(r) == cluster]


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_the_shipped_init_step_names_each_pod_by_its_own_clusters_host(consumer, cluster,
                                                                      tmp_path):
    """init-mysql, run as the manifest says with the agent's code from the ConfigMap it mounts
    and with the container's environment, writes the host the pod reports to the primary: the
    agent computes every host from that environment."""
    manifests = _manifests(consumer, cluster)
    config_maps = lay_out_config_maps(manifests, "init-mysql", tmp_path)
    init = container(find(manifests, "StatefulSet"), "init-mysql")
    env = {var["name"]: host_path(var["value"], config_maps) for var in init["env"] if "value" in var}
    env.update(POD_NAME=f"{cluster}-1", CONF_DIR=str(tmp_path), PATH=os.environ["PATH"])
    # The python image's python3: this interpreter.
    assert init["command"][0] == "python3"
    subprocess.run([sys.executable, *init["command"][1:]], env=env, check=True, capture_output=True, timeout=60)
    assert (f"report-host={cluster}-1.{cluster}.{NAMESPACE}.svc.cluster.local\n"
            in (tmp_path / "server-id.cnf").read_text())


def test_both_clusters_ship_the_packaged_scripts_in_config_maps_of_their_own(consumer):
    scripts = {}
    for cluster in CLUSTERS:
        (config_map,) = [m for m in _manifests(consumer, cluster) if m["kind"] == "ConfigMap"
                         and m["metadata"]["name"].startswith(f"{cluster}-scripts-")]
        scripts[cluster] = config_map["data"]
    assert scripts["orders"] == scripts["billing"]
    assert scripts["orders"] == {path.name: path.read_text(encoding="utf-8")
                                 for path in (PROJECT_DIR / "scripts").glob("*.sh")}


def test_the_modules_the_policy_pack_imports_come_with_the_wheel(venv, tmp_path):
    pack = (PROJECT_DIR / "policy" / "cluster_policies.py").read_text(encoding="utf-8")
    modules = re.findall(r"^from (mysql_cluster\.\w+) import", pack, flags=re.MULTILINE)
    assert modules, "the policy pack no longer imports the package's parsers"
    program = ("import importlib, json, sys; "
               "print(json.dumps([importlib.import_module(m).__file__ for m in sys.argv[1:]]))")
    files = _run([str(venv / "bin" / "python"), "-I", "-c", program, *modules], cwd=tmp_path)
    assert all(Path(file).is_relative_to(venv) for file in json.loads(files))
