"""backup sidecar: serving backups to the next pod once the pod's agent has given the server its
role (the role itself: tests/agent)."""
from __future__ import annotations

import re

import pytest
import server_model
from scripted_pod import (
    STREAM_CLONE_SERVERS,
    PASSWORDS,
    backup_tool,
    donor_files,
)

pytest_plugins = ["pod_fixtures"]

# One connection at a time, each served by the exported stream_backup function. Which way the
# data flows is checked by the tests where a peer receives a backup.
def socat_listen(pod) -> list[str]:
    """socat's addresses: mutual TLS with the pod's certificate (TLS is on by default), served
    only to a peer whose certificate names this pod."""
    tls, env = pod.volume("tls"), pod.env("backup")
    own_name = (f"{pod.name}.{env['HEADLESS_SERVICE']}.{env['CLUSTER_NAMESPACE']}.svc."
                f"{env['CLUSTER_DOMAIN']}")
    return [f"OPENSSL-LISTEN:3307,reuseaddr,fork,max-children=1,cert={tls}/tls.crt,"
            f"key={tls}/tls.key,cafile={tls}/ca.crt,verify=1,commonname={own_name}",
            "EXEC:bash -c stream_backup"]


def cloned_replica(make_pod, server: str, **config):
    """Pod 1 after a successful clone-mysql."""
    pod = make_pod(server, 1, **config)
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    return pod


def client_options_files(pod) -> list[str]:
    return sorted(p.name for p in pod.volume("client-options").iterdir())


def role_taken(pod):
    """The pod's agent has given the server its role (role_loop.py makes the mark)."""
    (pod.volume("client-options") / "role-taken").touch()
    return pod


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_sidecar_serves_no_backup_before_the_agent_has_given_the_server_its_role(make_pod, server):
    pod = make_pod(server, 0)
    pod.scenario["stopped_at_sleep"] = "1"
    run = pod.run("backup")
    assert run.stopped, run.stderr
    assert "waiting for the agent to give the server its role" in run.stderr
    assert run.of("socat") == [] and run.statements == []


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_sidecar_serves_backups_on_port_3307_with_socat(make_pod, server):
    pod = role_taken(make_pod(server, 0))
    run = pod.run("backup")
    assert run.settled, run.stderr
    assert [call["addresses"] for call in run.of("socat")] == [socat_listen(pod)]


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_a_peer_receives_a_hot_backup_taken_as_the_backup_user(make_pod, server):
    pod = role_taken(cloned_replica(make_pod, server))
    pod.scenario["serve_once"] = True
    run = pod.run("backup")
    assert run.settled, run.stderr
    assert [call["served_status"] for call in run.of("socat")] == [0], run.stderr
    [backup] = run.of(backup_tool(server))
    options, *rest = backup["argv"]
    assert re.fullmatch(f"--defaults-extra-file={pod.volume('client-options')}/backup\\.[0-9]+\\.backup\\.cnf", options)
    lsn_dir = rest.pop(4)
    assert re.fullmatch(f"--extra-lsndir={pod.volume('tmp')}/tmp\\.\\w+", lsn_dir)
    assert rest == ["--backup", "--slave-info", "--stream=xbstream", "--parallel=2", "--host=127.0.0.1",
                    "--port=3306", f"--target-dir={pod.volume('tmp')}"]
    assert backup["login"] == {"user": "backup", "password": PASSWORDS["backup-password"],
                               "mode": "0o600"}
    assert pod.served_stream == donor_files(server, pod.server_state) + [end_record(server, pod)]


def end_record(server: str, pod) -> tuple[str, str]:
    """What the sidecar appends to a whole backup: its own line, then the tool's info file."""
    info = dict(donor_files(server, pod.server_state))[f"{server_model.info_prefix(server)}_info"]
    return "mysql-cluster-backup-end", "\nmysql-cluster: the backup tool finished\n" + info


def test_a_failed_backup_ends_the_peers_stream_with_an_error(make_pod):
    pod = role_taken(make_pod("mariadb 11.8", 0))
    pod.scenario["serve_once"] = True
    pod.scenario["backup_fails"] = True
    run = pod.run("backup")
    assert [call["served_status"] for call in run.of("socat")] == [1]


@pytest.mark.parametrize("tls", [{}, {"tlsSource": "none"}], ids=["tls", "no tls"])
@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_sidecar_fails_at_once_with_one_line_naming_backup_image_where_it_has_no_socat(make_pod, server, tls):
    pod = make_pod(server, 0, **tls)
    pod.tools = pod.tools - {"socat"}
    run = pod.run("backup")
    assert run.status == 1
    assert run.stderr.strip().splitlines()[-1].endswith("FATAL: this backupImage has no socat, which carries the backup stream: choose a backupImage with socat (the official mariadb images have it)")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.calls == []


def test_once_the_sidecar_has_ended_no_option_file_is_left(make_pod):
    pod = role_taken(make_pod("mariadb 11.8", 0))
    assert pod.run("backup").settled
    assert client_options_files(pod) == ["role-taken"]
