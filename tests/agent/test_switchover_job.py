"""The switchover Job's command line: its environment checked before it asks any agent, each
problem one line naming the variable and the fix."""
from __future__ import annotations

import pytest
from mysql_cluster_agent.config import ConfigProblem
from mysql_cluster_agent.switchover import client_from_env, main

KEY = "k" * 32


def job_env(tmp_path, **changes: str) -> dict[str, str]:
    (tmp_path / "topology").mkdir(exist_ok=True)
    (tmp_path / "topology" / "replicas").write_text("3\n")
    (tmp_path / "role-key").write_text(KEY)
    env = {"DB_FLAVOR": "mariadb", "TOPOLOGY_DIR": str(tmp_path / "topology"), "TARGET_ORDINAL": "1",
           "FAILOVER_WAIT_SECONDS": "30", "CATCH_UP_SECONDS": "60", "STATEFULSET_NAME": "mysql",
           "HEADLESS_SERVICE": "mysql", "CLUSTER_NAMESPACE": "db", "CLUSTER_DOMAIN": "cluster.local",
           "AGENT_PORT": "3308", "ROLE_KEY_FILE": str(tmp_path / "role-key")}
    env.update(changes)
    return {k: v for k, v in env.items() if v}


def test_a_job_without_tls_signs_with_the_role_key_and_targets_the_pod_named(tmp_path):
    client, move = client_from_env(job_env(tmp_path))
    assert (move.target, move.failover_wait_seconds, move.catch_up_seconds, client.replicas) == (1, 30, 60, 3)


@pytest.mark.parametrize(("changes", "message"), [
    ({"TARGET_ORDINAL": "3"}, "pod 3 is not a pod of this cluster (replicas 3); set primaryOrdinal below replicas"),
    ({"TARGET_ORDINAL": "one"}, "TARGET_ORDINAL is 'one'; it must be the ordinal of the pod to promote"),
    ({"ROLE_KEY_FILE": ""}, "ROLE_KEY_FILE is not set"),
    ({"DB_FLAVOR": "postgres"}, "DB_FLAVOR is 'postgres'; use mysql or mariadb"),
])
def test_a_wrong_environment_is_named_in_one_line(tmp_path, changes, message):
    with pytest.raises(ConfigProblem, match=message.replace("(", r"\(").replace(")", r"\)")):
        client_from_env(job_env(tmp_path, **changes))


def test_the_job_ends_with_exit_2_and_one_line_on_a_wrong_environment(tmp_path, capsys):
    assert main(job_env(tmp_path, CATCH_UP_SECONDS="soon")) == 2
    assert capsys.readouterr().err == ("switchover: environment variable CATCH_UP_SECONDS is 'soon'; it must be a "
                                       "number of seconds\n")
