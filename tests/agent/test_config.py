"""The agent's configuration from its container's environment: every mistake one clear line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mysql_cluster_agent.config import ConfigProblem, read_config, read_peer_config

ENV = {"POD_NAME": "mysql-2", "STATEFULSET_NAME": "mysql", "HEADLESS_SERVICE": "mysql",
       "CLUSTER_NAMESPACE": "db", "CLUSTER_DOMAIN": "cluster.local", "DB_FLAVOR": "mariadb",
       "AGENT_PORT": "3308", "MYSQL_SOCKET": "/var/run/mysqld/mysqld.sock",
       "ROOT_PASSWORD_FILE": "/etc/mysql-cluster/secrets/root-password",
       "TOPOLOGY_DIR": "/etc/mysql-cluster/topology"}
LOCAL_SERVER = ("MYSQL_SOCKET", "ROOT_PASSWORD_FILE")
PEERS_ENV = {name: value for name, value in ENV.items() if name not in LOCAL_SERVER}


def test_the_pod_environment_gives_the_pods_own_name_and_no_tls():
    config = read_config(ENV)
    assert (config.ordinal, config.own_host, config.tls) == (
        2, "mysql-2.mysql.db.svc.cluster.local", None)


def test_tls_dir_gives_the_secrets_three_files():
    config = read_config({**ENV, "TLS_DIR": "/etc/mysql-cluster/tls"})
    assert config.tls is not None
    assert [str(path) for path in (config.tls.ca, config.tls.cert, config.tls.key)] == [
        "/etc/mysql-cluster/tls/ca.crt", "/etc/mysql-cluster/tls/tls.crt",
        "/etc/mysql-cluster/tls/tls.key"]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("POD_NAME", None, "environment variable POD_NAME is not set"),
    ("POD_NAME", "other-2", "is not a pod of StatefulSet 'mysql'"),
    ("DB_FLAVOR", "postgres", "DB_FLAVOR is 'postgres'; use one of mysql, mariadb"),
    ("AGENT_PORT", "70000", "AGENT_PORT is '70000'; use a TCP port number"),
    ("MYSQL_SOCKET", "mysqld.sock", "set it to the absolute path of the local server's unix socket"),
    ("CLUSTER_DOMAIN", "Cluster Local", "CLUSTER_DOMAIN is 'Cluster Local', not"),
])
def test_a_wrong_variable_is_named_with_what_it_should_hold(name, value, message):
    env = {key: val for key, val in ENV.items() if key != name}
    if value is not None:
        env[name] = value
    with pytest.raises(ConfigProblem, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_config(env)


def test_the_command_line_reports_a_wrong_environment_in_one_line_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "mysql_cluster_agent", "serve"],
                            env={**ENV, "DB_FLAVOR": ""}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "agent: environment variable DB_FLAVOR is ''; use one of mysql, mariadb\n"


def test_the_command_line_names_its_commands_when_given_another():
    result = subprocess.run([sys.executable, "-m", "mysql_cluster_agent", "promote"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("usage: python3 -m mysql_cluster_agent")


def test_the_peers_part_needs_neither_the_local_socket_nor_the_root_password():
    config = read_peer_config(PEERS_ENV)
    assert (config.ordinal, config.own_host, config.agent_port) == (2, "mysql-2.mysql.db.svc.cluster.local", 3308)
    assert not hasattr(config, "root_password_file")


def test_the_whole_configuration_still_needs_the_root_password_file():
    with pytest.raises(ConfigProblem, match="ROOT_PASSWORD_FILE"):
        read_config({name: value for name, value in ENV.items() if name != "ROOT_PASSWORD_FILE"})


def test_the_donor_step_runs_without_the_socket_and_the_root_password(tmp_path: Path):
    (tmp_path / "data/mysql/mysql").mkdir(parents=True)
    env = {**PEERS_ENV, "DONOR_DIR": str(tmp_path), "DATA_VOLUME": str(tmp_path / "data"), "DATA_SUBDIR": "mysql",
           "MAX_REPLICATION_LAG_SECONDS": "10", "CLONE_ATTEMPTS": "1"}
    result = subprocess.run([sys.executable, "-m", "mysql_cluster_agent", "donor"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "holds a database and is not being rebuilt or cloned; no donor needed" in result.stderr


def test_automatic_failover_is_off_while_the_topology_has_no_grace_period(tmp_path):
    config = read_config({**ENV, "TOPOLOGY_DIR": str(tmp_path)})
    assert config.failover_grace_seconds() == 0
    (tmp_path / "failover-grace-seconds").write_text("45")
    assert config.failover_grace_seconds() == 45
