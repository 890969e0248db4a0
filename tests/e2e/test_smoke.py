"""Smoke tests of the harness itself, on the hand-written fixture manifest."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from .harness import PodFailed
from .manifests import RenderedManifests

# The harness's own smoke tests: a hand-written manifest for the mariadb image, not the product,
# so one server is enough (the product's scenarios run on each flavor's default).
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("server", ["mariadb-11.8"], indirect=True)]
SMOKE_MANIFESTS = Path(__file__).with_name("fixtures") / "smoke.yaml"


def sockets_listening_on_this_machine_for_this_test() -> list[str]:
    """Listening TCP sockets of the machine's own network namespace held by a process this test
    started (other tests and programs on the machine, e.g. a second xdist worker, have their own)."""
    output = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line for line in output.splitlines()
            if any(_descends_from_this_process(int(pid)) for pid in re.findall(r"pid=(\d+)", line))]


def _descends_from_this_process(pid: int) -> bool:
    while pid > 1:
        if pid == os.getpid():
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


@pytest.mark.timeout(180)
def test_pods_find_each_other_and_keep_their_claims(statefulset_harness):
    harness = statefulset_harness(SMOKE_MANIFESTS)
    harness.start_statefulset(replicas=2)
    assert harness.pod_names() == ["db-0", "db-1"]
    assert harness.pod_ip("db-0") != harness.pod_ip("db-1")

    # Init containers ran with the pod's hostname; $(VAR) args reached the server.
    assert harness.run_sql("db-0", "SELECT @@hostname, @@server_id, @@report_host, @@log_bin") == [
        ("db-0", "100", "db-0.db", "1")]
    assert harness.run_sql("db-1", "SELECT @@server_id, @@read_only, @@innodb_buffer_pool_size") == [
        ("101", "1", str(64 * 1024 * 1024))]

    # pod-1 reaches pod-0 by its DNS names, over TCP (root may log in from pod addresses).
    for name in ("db-0.db", "db-0.db.default", harness.dns_name("db-0")):
        assert harness.run_sql("db-1", "SELECT @@hostname", host=name) == [("db-0",)]
    sidecar = harness.exec("db-1", "backup", ["socat", "-T2", "-", "TCP:db-0.db:3307"])
    assert sidecar.stdout.strip() == "backup-from-db-0"

    # The container looks like the image, not like this machine, and honours
    # its securityContext.
    tools = harness.exec("db-0", "mysql", ["bash", "-c", "command -v ncat python3 || true"])
    assert tools.stdout == ""
    assert harness.exec("db-0", "mysql", ["id", "-un"]).stdout.strip() == "mysql"
    read_only = harness.exec("db-0", "mysql", ["touch", "/etc/anything"], check=False)
    assert "Read-only file system" in read_only.stderr
    harness.exec("db-0", "mysql", ["touch", "/tmp/anything", "/var/run/mysqld/anything"])

    # A new pod keeps its claim and gets a new emptyDir.
    harness.run_sql("db-0", "CREATE DATABASE smoke; CREATE TABLE smoke.t (v TEXT);"
                            "INSERT INTO smoke.t VALUES ('kept'), (NULL)")
    harness.exec("db-0", "backup", ["touch", "/scratch/marker"])
    harness.restart_pod("db-0")
    assert harness.run_sql("db-0", "SELECT v FROM smoke.t ORDER BY v") == [(None,), ("kept",)]
    assert (harness.claim_path("db-0") / "clone-runs").read_text() == "db-0\ndb-0\n"
    assert harness.exec("db-0", "backup", ["ls", "/scratch"]).stdout == ""

    harness.restart_container("db-1", "mysql")
    harness.wait_ready("db-1")
    assert harness.restart_count("db-1", "mysql") == 1
    assert "ready for connections" in harness.log_tail("db-1", "mysql", previous=True)

    harness.scale_to(1)
    assert harness.pod_names() == ["db-0"]
    harness.scale_to(2)
    assert (harness.claim_path("db-1") / "clone-runs").read_text() == "db-1\ndb-1\n"
    # The pods' servers listen in their own network namespaces only.
    assert sockets_listening_on_this_machine_for_this_test() == []

    harness.close()
    assert harness.leftovers() == []


@pytest.mark.timeout(90)
def test_failure_names_pod_container_and_log_tail(statefulset_harness):
    manifests = RenderedManifests.from_yaml_file(SMOKE_MANIFESTS)
    clone = manifests.only("StatefulSet")["spec"]["template"]["spec"]["initContainers"][1]
    clone["command"] = ["bash", "-c", "echo 'no source to clone from' >&2; exit 3"]
    harness = statefulset_harness(manifests)
    with pytest.raises(PodFailed) as failure:
        harness.start_statefulset(replicas=2, timeout=30)
    message = str(failure.value)
    assert "pod db-0 failed: init container clone-mysql exited with code 3" in message
    assert "no source to clone from" in message
    assert harness.pod_names() == ["db-0"]


@pytest.mark.timeout(90)
def test_a_client_namespace_reaches_a_pod_by_its_address_until_it_is_detached(statefulset_harness):
    harness = statefulset_harness(SMOKE_MANIFESTS)
    harness.start_statefulset(replicas=1)
    client = harness.attach_client("smoke")
    connect = ["nsenter", f"--net={client.netns_path}", "bash", "-c",
               f"exec 3<>/dev/tcp/{harness.pod_ip('db-0')}/3306"]
    assert subprocess.run(connect, capture_output=True, timeout=10).returncode == 0
    harness.detach_client(client)
    assert not client.netns_path.exists()


@pytest.mark.timeout(90)
def test_a_containers_log_is_its_whole_output_and_the_tail_its_last_lines(statefulset_harness):
    harness = statefulset_harness(SMOKE_MANIFESTS)
    harness.start_statefulset(replicas=1)
    harness.restart_container("db-0", "mysql")  # the run before is over: its log stays as it is
    log = harness.log("db-0", "mysql", previous=True)
    lines = log.splitlines()
    assert "Initializing database files" in lines[0]  # the entrypoint's first words
    assert harness.log_tail("db-0", "mysql", lines=3, previous=True) == "\n".join(lines[-3:])


# A server whose answer the test sets in /scratch/status ("200 OK", "503 Service Unavailable", or
# "slow"), after reading the request's header.
HTTP_RESPONDER = r"""
set -euo pipefail
cat >/scratch/respond.sh <<'EOF'
while IFS= read -r line && [[ "${line%$'\r'}" != "" ]]; do :; done
status=$(cat /scratch/status 2>/dev/null || echo "200 OK")
if [[ "$status" == slow ]]; then sleep 30; status="200 OK"; fi
printf 'HTTP/1.0 %s\r\nContent-Type: text/plain\r\n\r\nanswered %s\n' "$status" "$status"
EOF
exec socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'bash /scratch/respond.sh'
"""


@pytest.mark.timeout(120)
def test_an_http_get_probe_passes_from_200_to_399_fails_otherwise_and_keeps_the_body(statefulset_harness):
    manifests = RenderedManifests.from_yaml_file(SMOKE_MANIFESTS)
    backup = manifests.only("StatefulSet")["spec"]["template"]["spec"]["containers"][1]
    assert backup["name"] == "backup"
    backup["command"] = ["bash", "-c", HTTP_RESPONDER]
    backup["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 2,
                                "timeoutSeconds": 2, "failureThreshold": 1}
    harness = statefulset_harness(manifests)
    harness.start_statefulset(replicas=1)  # ready: 200

    def answer(status: str) -> None:
        harness.exec("db-0", "backup", ["bash", "-c", f"echo '{status}' >/scratch/status"])

    answer("503 Service Unavailable")
    harness.wait_until(lambda: not harness.is_ready("db-0"), 30, "db-0 unready on a 503")
    failure = harness.probe_failure("db-0", "backup", "readiness")
    assert "answered 503 Service Unavailable" in failure and "503" in failure.rsplit("|", 1)[-1]
    answer("302 Found")
    harness.wait_until(lambda: harness.is_ready("db-0"), 30, "db-0 ready on a redirect")
    answer("slow")
    harness.wait_until(lambda: not harness.is_ready("db-0"), 30, "db-0 unready on a probe past its timeout")
    assert "timed out" in harness.probe_failure("db-0", "backup", "readiness").lower()
