"""init-config, the init-mysql step: the server's identity (server-id, report-host) and the options
of the role it starts in, copied from the ConfigMap; every failure one line saying what to do."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mysql_cluster_agent.init_config import main

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
REPLICA_CNF = "[mysqld]\nread-only=ON\n"
PRIMARY_CNF = "[mysqld]\nread-only=OFF\n"


@dataclass
class Step:
    env: dict[str, str]
    conf: Path
    config_map: Path
    datadir: Path

    def written(self) -> dict[str, str]:
        return {path.name: path.read_text() for path in sorted(self.conf.iterdir())}


@pytest.fixture
def step(tmp_path: Path) -> Step:
    conf, config_map = tmp_path / "conf", tmp_path / "config-map"
    conf.mkdir()
    config_map.mkdir()
    (config_map / "primary.cnf").write_text(PRIMARY_CNF)
    (config_map / "replica.cnf").write_text(REPLICA_CNF)
    env = {"POD_NAME": "mysql-0", "STATEFULSET_NAME": "mysql", "HEADLESS_SERVICE": "mysql-headless",
           "CLUSTER_NAMESPACE": "shop", "CLUSTER_DOMAIN": "cluster.local", "CONF_DIR": str(conf),
           "CONFIG_MAP_DIR": str(config_map), "SERVER_ID_OFFSET": "100", "DATA_VOLUME": str(tmp_path / "data"),
           "DATA_SUBDIR": "mysql"}
    return Step(env, conf, config_map, tmp_path / "data" / "mysql")


@pytest.mark.parametrize(("pod", "has_database", "role", "server_id"), [
    ("mysql-0", False, "primary", 100),  # the image's entrypoint creates the database as root
    ("mysql-0", True, "replica", 100),  # a restarted pod 0 starts read-only; its agent decides
    ("mysql-2", False, "replica", 102),  # a new replica, about to be cloned
    ("mysql-2", True, "replica", 102),
    ("mysql-12", False, "replica", 112),
])
def test_the_pod_starts_with_its_roles_options_and_a_server_id_from_its_ordinal(
        step, capsys, pod, has_database, role, server_id):
    step.env["POD_NAME"] = pod
    if has_database:
        (step.datadir / "mysql").mkdir(parents=True)
    assert main(step.env) == 0
    assert step.written() == {
        f"{role}.cnf": PRIMARY_CNF if role == "primary" else REPLICA_CNF,
        "server-id.cnf": f"[mysqld]\nserver-id={server_id}\nreport-host={pod}.mysql-headless.shop.svc.cluster.local\n"}
    assert re.fullmatch(rf"{STAMP} init-mysql: pod {pod.rpartition('-')[2]} starts with the {role} options "
                        rf"and server-id {server_id}\n", capsys.readouterr().err)


def test_the_written_files_are_readable_by_the_server_whatever_the_umask(step):
    previous = os.umask(0o077)
    try:
        assert main(step.env) == 0
    finally:
        os.umask(previous)
    assert {path.name: path.stat().st_mode & 0o777 for path in step.conf.iterdir()} == {
        "primary.cnf": 0o644, "server-id.cnf": 0o644}


def _no_conf_dir(step: Step) -> None:
    step.conf.rmdir()


def _conf_dir_is_a_file(step: Step) -> None:
    step.conf.rmdir()
    step.conf.write_text("")


def _no_replica_cnf(step: Step) -> None:
    step.env["POD_NAME"] = "mysql-1"
    (step.config_map / "replica.cnf").unlink()


def _no_primary_cnf(step: Step) -> None:
    (step.config_map / "primary.cnf").unlink()


@pytest.mark.parametrize(("broken", "message"), [
    (_no_conf_dir, r"configuration directory .*/conf is not writable by uid \d+; mount the pod's conf volume there"),
    (_conf_dir_is_a_file, r"configuration directory .*/conf is not writable"),
    (_no_replica_cnf, r".*/config-map/replica.cnf is missing from the ConfigMap \(No such file or directory\); "
                      r"the server options ConfigMap must hold primary.cnf and replica.cnf"),
    (_no_primary_cnf, r".*/config-map/primary.cnf is missing from the ConfigMap"),
    (lambda step: step.env.update(POD_NAME="mysql"),
     r"POD_NAME 'mysql' is not a pod of StatefulSet 'mysql' \(<statefulset>-<ordinal>\); POD_NAME must be "
     r"the pod's own name"),
    (lambda step: step.env.update(POD_NAME="mysql-x"), r"POD_NAME 'mysql-x' is not a pod of StatefulSet"),
    (lambda step: step.env.pop("POD_NAME"), r"environment variable POD_NAME is not set"),
    (lambda step: step.env.update(SERVER_ID_OFFSET="ten"),
     r"environment variable SERVER_ID_OFFSET is 'ten'; set it to a whole number"),
    (lambda step: step.env.update(CONF_DIR="conf.d"),
     r"environment variable CONF_DIR is 'conf.d'; set it to the absolute path of the server's option files"),
    (lambda step: step.env.pop("DATA_SUBDIR"), r"environment variable DATA_SUBDIR is ''; set it to"),
])
def test_a_failure_is_one_line_saying_what_failed_and_what_to_do_and_writes_nothing(
        step, capsys, broken, message):
    broken(step)
    assert main(step.env) == 1
    assert re.fullmatch(rf"{STAMP} init-mysql: FATAL: {message}.*\n", capsys.readouterr().err)
    assert not step.conf.is_dir() or step.written() == {}


def test_the_agents_command_line_runs_the_step(step):
    result = subprocess.run([sys.executable, "-m", "mysql_cluster_agent", "init-config"], env=step.env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.endswith(" init-mysql: pod 0 starts with the primary options and server-id 100\n")
    assert set(step.written()) == {"primary.cnf", "server-id.cnf"}
