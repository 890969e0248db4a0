"""`python -m mysql_cluster.render`: prints a stack's manifests as YAML, writes them to files, or
says in one line what is wrong. Most tests run it as a command; the option parsing alone is
tested in-process, where it is quicker."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mysql_cluster.render import (REDACTED, SECURE_PLACEHOLDER, main, manifests_yaml,
                                  render_stack)

from .conftest import PROJECT_DIR, find

# What `pulumi config set --secret` leaves in a stack file (this one decrypts to nothing).
CIPHERTEXT = "v1:Xq3bJm0aN2Ew9lRk:YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="


def render_cli(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mysql_cluster.render", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def dev() -> subprocess.CompletedProcess:
    return render_cli("--stack", "dev")


@pytest.fixture(scope="module")
def bad_value() -> subprocess.CompletedProcess:
    return render_cli("--stack", "dev", "--config", "replicas=0")


def test_prints_the_stacks_manifests_as_yaml(dev):
    assert dev.returncode == 0, dev.stderr
    assert [m["kind"] for m in yaml.safe_load_all(dev.stdout)] == [
        "Secret", "Secret", "ConfigMap", "ConfigMap", "ConfigMap", "ConfigMap", "Service", "Service",
        "Service", "StatefulSet",
        "PodDisruptionBudget", "NetworkPolicy", "NetworkPolicy", "Job", "PersistentVolumeClaim",
        "PersistentVolumeClaim"]


def test_prints_nothing_else(dev):
    assert dev.stderr == ""


def test_prints_exactly_what_another_run_renders(dev):
    # Another process, another hash seed: the same text means an order (of documents and of
    # keys) that depends on neither.
    assert dev.stdout == manifests_yaml(render_stack(PROJECT_DIR, "dev"))


def test_prints_numbers_as_plain_integers(dev):
    statefulset = find(list(yaml.safe_load_all(dev.stdout)), "StatefulSet")
    assert statefulset["spec"]["replicas"] == 2
    assert "  replicas: 2\n" in dev.stdout


def test_config_option_overrides_the_stack_file(capsys):
    assert main(["--project-dir", str(PROJECT_DIR), "--stack", "dev", "--config", "replicas=4",
                 "--config", "mysql-cluster:namespace=shop"]) == 0
    statefulset = find(list(yaml.safe_load_all(capsys.readouterr().out)), "StatefulSet")
    assert (statefulset["spec"]["replicas"], statefulset["metadata"]["namespace"]) == (4, "shop")


def test_bad_value_exits_non_zero_without_output(bad_value):
    assert bad_value.returncode != 0
    assert bad_value.stdout == ""


def test_bad_value_is_explained_in_one_line_naming_key_and_value(bad_value):
    assert bad_value.stderr == ("error: invalid value for config key 'replicas' (argument "
                                "'replicas'): 0; use a whole number from 1 to 99\n")


def test_missing_stack_file_is_explained_in_one_line(capsys):
    assert main(["--project-dir", str(PROJECT_DIR), "--stack", "staging"]) != 0
    assert capsys.readouterr().err == \
        f"error: {PROJECT_DIR / 'Pulumi.staging.yaml'} does not exist\n"


def test_out_writes_one_file_per_resource(dev, tmp_path):
    result = render_cli("--stack", "dev", "--out", str(tmp_path / "manifests"))
    assert result.returncode == 0, result.stderr
    files = {path.name: list(yaml.safe_load_all(path.read_text()))
             for path in (tmp_path / "manifests").iterdir()}
    printed = {f"{m['kind'].lower()}-{m['metadata']['name']}.yaml": [m]
               for m in yaml.safe_load_all(dev.stdout)}
    assert files == printed


@pytest.fixture(scope="module")
def project_with_secure_value(tmp_path_factory) -> Path:
    """A copy of the project whose `secure` stack stores the root password encrypted."""
    project = tmp_path_factory.mktemp("project")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, project / name)
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    stack["config"]["mysql-cluster:rootPassword"] = {"secure": CIPHERTEXT}
    (project / "Pulumi.secure.yaml").write_text(yaml.safe_dump(stack))
    return project


def test_encrypted_stack_value_renders_redacted(project_with_secure_value):
    result = render_cli("--stack", "secure", cwd=project_with_secure_value)
    assert result.returncode == 0, result.stderr
    assert find(list(yaml.safe_load_all(result.stdout)), "Secret", "mysql-credentials")["stringData"][
        "root-password"] == REDACTED
    assert CIPHERTEXT not in result.stdout


def test_encrypted_stack_value_stands_in_as_a_placeholder(project_with_secure_value):
    manifests = render_stack(project_with_secure_value, "secure", reveal_secrets=True)
    assert find(manifests, "Secret", "mysql-credentials")["stringData"]["root-password"] == \
        SECURE_PLACEHOLDER
