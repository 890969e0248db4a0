"""Passwords reach the servers only through option files and SQL on stdin: never a ConfigMap, a
container's command or environment, a process's argv, the log, or a `bash -x` trace."""
from __future__ import annotations

import json

import pytest
from scripted_pod import (
    MARKERS,
    ONE_PER_FLAVOR,
    SERVERS,
    STREAM_CLONE_SERVERS,
    admin_client,
)

pytest_plugins = ["pod_fixtures"]


@pytest.mark.parametrize("server", SERVERS)
def test_the_passwords_are_in_the_secret_and_nowhere_else_in_the_manifests(rendered, server):
    holding = {f"{m['kind']}/{m['metadata']['name']}": [marker in json.dumps(m) for marker in MARKERS]
               for m in rendered(server)}
    assert {name: found for name, found in holding.items() if any(found)} == {
        "Secret/mysql-credentials": [True] * len(MARKERS)}


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_no_password_reaches_argv_or_output_even_traced(make_pod, server):
    primary, replica = make_pod(server, 0), make_pod(server, 2)
    for pod in (primary, replica):
        pod.scenario["serve_once"] = True
        assert pod.run("init-mysql", trace=True).status == 0
        assert pod.run("clone-mysql", trace=True).status == 0
        # The pod's agent gives the server its role (tests/agent): a writable primary, a replica.
        if pod is primary:
            pod.update_server(lambda state: state["variables"].update(read_only="OFF"))
        else:
            pod.replicating()
        (pod.volume("client-options") / "role-taken").touch()
        sidecar = pod.run("backup", trace=True)
        assert sidecar.settled
        # The backup user's password was used: a backup served.
        assert [call["served_status"] for call in sidecar.of("socat")] == [0]
        assert pod.run("mysql", probe="livenessProbe", trace=True).status == 0
    assert primary.password_leaks() + replica.password_leaks() == []


# A Secret made from a file may hold any bytes; the option files escape line breaks.
@pytest.mark.parametrize("server", ONE_PER_FLAVOR)
def test_a_password_with_a_newline_reaches_the_server_whole_and_is_never_printed(make_pod, server):
    pod = make_pod(server, 0, existingSecret="db-credentials")
    password = "rootQx7Vd first line\nsecond line\tend"
    pod.path_in("mysql", "/etc/mysql-cluster/secrets/root-password").write_text(password)
    pod.scenario["accounts"]["root"] = password
    runs = [pod.run("mysql", probe="livenessProbe", trace=True)]
    assert [run.status for run in runs] == [0]
    assert [call["login"]["password"] for run in runs for call in run.of(admin_client(server))] == [password]
    assert not [run for run in runs if "second line" in run.stdout + run.stderr]
    assert pod.password_leaks() == []
