"""clone-mysql: a new replica receives the backup of the donors the donor step chose (by default
here the pod before it), crash-safely."""
from __future__ import annotations

import pytest
from scripted_pod import (
    STREAM_CLONE_SERVERS,
    backup_tool,
    donor_files,
    stream_tool,
)
from server_model import info_prefix

pytest_plugins = ["pod_fixtures"]

DONOR = "mysql-1.mysql.mysql-dev.svc.cluster.local"  # the pod before pod 2


def assert_installed(pod) -> None:
    """The data directory holds the whole prepared backup and nothing else."""
    datadir = pod.data / "mysql"
    prefix = info_prefix(pod.server)
    files = sorted(str(p.relative_to(datadir)) for p in datadir.rglob("*") if p.is_file())
    expected = sorted(name for name, _ in donor_files(pod.server) if name != "auto.cnf")
    assert files == expected
    prepared = "log-applied" if pod.server.startswith("mariadb") else "full-prepared"
    assert f"backup_type = {prepared}\n" in (datadir / f"{prefix}_checkpoints").read_text()
    assert not (pod.data / "clone-staging").exists()


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_pod_0_starts_a_new_database_when_the_donor_step_found_no_other_pod(make_pod, server):
    pod = make_pod(server, 0)
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    assert run.calls == []
    assert "pod 0 starts a new database" in run.stderr
    assert list(pod.data.iterdir()) == []


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_without_a_donor_choice_the_clone_stops_pointing_at_the_donor_step(make_pod, server):
    pod = make_pod(server, 2)
    for path in pod.volume("donor").iterdir():
        path.unlink()
    run = pod.run("clone-mysql")
    assert run.status == 1
    assert "no donor was chosen (see the donor container's log)" in run.stderr
    assert run.calls == [] and list(pod.data.iterdir()) == []


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_a_replica_installs_the_prepared_backup_of_the_pod_before_it(make_pod, server):
    pod = make_pod(server, 2)
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    staging = str(pod.data / "clone-staging")
    tls = pod.volume("tls")  # TLS is on by default: the donor is verified, and verifies us
    assert [call["addresses"] for call in run.of("socat")] == [[
        f"OPENSSL:{DONOR}:3307,connect-timeout=10,cert={tls}/tls.crt,key={tls}/tls.key,"
        f"cafile={tls}/ca.crt,verify=1", "STDOUT"]]
    assert run.argvs(stream_tool(server)) == [["-x", "-C", staging]]
    assert run.argvs(backup_tool(server)) == [["--prepare", f"--target-dir={staging}"]]
    assert_installed(pod)
    assert run.sleeps == []


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_clone_leaves_where_it_stands_to_the_agent_in_the_backups_info_files(make_pod, server):
    pod = make_pod(server, 2)
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    # The agent reads them (mysql_cluster_agent/backup_info.py, tests/agent/test_role_loop.py).
    assert (pod.data / "replication-source").read_text() == "backup-info\n"
    assert (pod.data / "mysql" / f"{info_prefix(server)}_binlog_info").exists()
    assert f"clone complete from {DONOR}" in run.stderr


def test_the_donors_server_uuid_is_not_inherited(make_pod):
    pod = make_pod("mariadb 11.8", 1)
    assert pod.run("clone-mysql").status == 0
    assert not (pod.data / "mysql" / "auto.cnf").exists()


def test_a_data_directory_with_a_database_is_kept_and_not_cloned(make_pod):
    pod = make_pod("mariadb 11.8", 1)
    (pod.data / "mysql" / "mysql").mkdir(parents=True)
    (pod.data / "mysql" / "ibdata1").write_text("the replica's own data")
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    assert run.calls == []
    assert (pod.data / "mysql" / "ibdata1").read_text() == "the replica's own data"


def test_an_empty_data_directory_made_by_the_kubelet_is_replaced_by_the_clone(make_pod):
    pod = make_pod("mariadb 11.8", 2)
    (pod.data / "mysql").mkdir()
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    assert_installed(pod)


def test_a_data_directory_with_files_but_no_database_stops_the_clone(make_pod):
    pod = make_pod("mariadb 11.8", 1)
    (pod.data / "mysql").mkdir()
    (pod.data / "mysql" / "ibdata1").write_text("something, not from a clone")
    run = pod.run("clone-mysql")
    assert run.status == 1
    assert "holds files but no database" in run.stderr
    assert run.calls == []
    assert (pod.data / "mysql" / "ibdata1").read_text() == "something, not from a clone"


@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_leftovers_of_an_interrupted_clone_are_discarded_before_streaming_again(make_pod, server):
    pod = make_pod(server, 2)
    staging = pod.data / "clone-staging"
    (staging / "mysql").mkdir(parents=True)
    (staging / "half-copied.ibd").write_text("partial")
    (staging / f"{info_prefix(server)}_checkpoints").write_text("backup_type = full-prepared\n")
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    assert [call["into_empty_directory"] for call in run.of(stream_tool(server))] == [True]
    assert_installed(pod)


FAILED_STAGES = {
    "connection refused": ({"transfers": ["refused", "ok"]}, "the transfer failed"),
    "connection reset mid-stream": ({"transfers": ["broken", "ok"]}, "the transfer failed"),
    "donor closed the stream early": ({"transfers": ["cut", "ok"]},
                                      "the stream ended before the backup was complete"),
    "prepare fails": ({"prepare": ["fail", "ok"]}, "--prepare failed"),
    "prepare leaves the backup unprepared": ({"prepare": ["unmarked", "ok"]},
                                             "the backup is not marked as prepared"),
}


@pytest.mark.parametrize("stage", FAILED_STAGES)
def test_a_failed_attempt_is_discarded_and_retried_after_2_seconds(make_pod, stage):
    scenario, reason = FAILED_STAGES[stage]
    pod = make_pod("mariadb 11.8", 2)
    pod.scenario.update(scenario)
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    assert reason in run.stderr
    assert "attempt 1 failed; retrying in 2s" in run.stderr
    assert run.sleeps == ["2"]
    assert [call["into_empty_directory"] for call in run.of("mbstream")] == [True, True]
    assert_installed(pod)


def test_a_clone_that_keeps_failing_gives_up_after_5_attempts_with_doubling_delays(make_pod):
    pod = make_pod("mariadb 11.8", 2)
    pod.scenario["transfers"] = ["broken"]
    run = pod.run("clone-mysql")
    assert run.status == 1
    assert len(run.of("socat")) == 5
    assert run.sleeps == ["2", "4", "8", "16"]
    assert f"giving up after 5 attempts to clone from {DONOR}" in run.stderr
    assert not (pod.data / "mysql").exists()


def test_a_restart_after_giving_up_clones_again_from_scratch(make_pod):
    pod = make_pod("mariadb 11.8", 2)
    pod.scenario["prepare"] = ["fail"] * 5 + ["ok"]
    assert pod.run("clone-mysql").status == 1
    assert not (pod.data / "mysql").exists()
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    assert [call["into_empty_directory"] for call in run.of("mbstream")] == [True]
    assert_installed(pod)


def test_each_attempt_copies_the_next_donor_so_one_that_failed_is_retried_last(make_pod):
    pod = make_pod("mariadb 11.8", 3)
    pod.choose_donors(2, 1)
    pod.scenario["transfers"] = ["broken", "broken", "ok"]
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    donors = [call["addresses"][0].split(":")[1] for call in run.of("socat")]
    assert donors == [pod.host(2), pod.host(1), pod.host(2)]
    assert f"clone complete from {pod.host(2)}" in run.stderr
    assert_installed(pod)


@pytest.mark.parametrize("tls", [{}, {"tlsSource": "none"}], ids=["tls", "no tls"])
@pytest.mark.parametrize("server", STREAM_CLONE_SERVERS)
def test_the_clone_fails_at_once_with_one_line_naming_backup_image_where_it_has_no_socat(make_pod, server, tls):
    pod = make_pod(server, 2, **tls)
    pod.tools = pod.tools - {"socat"}
    run = pod.run("clone-mysql")
    assert run.status == 1
    [fatal] = [line for line in run.stderr.splitlines() if "FATAL" in line]
    assert fatal.endswith("FATAL: this backupImage has no socat, which carries the backup stream: choose a backupImage with socat (the official mariadb images have it)")
    assert run.calls == []


def test_the_clone_uses_mariabackup_where_the_image_has_only_the_old_name(make_pod):
    pod = make_pod("mariadb 10.11", 2)
    pod.tools = pod.tools - {"mariadb-backup"} | {"mariabackup"}
    run = pod.run("clone-mysql")
    assert run.settled, run.stderr
    assert len(run.of("mariabackup")) == 1
    assert_installed(pod)
