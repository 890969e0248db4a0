"""The rebuild of a diverged server (a failed-over primary that came back) is finished by the
mysql container before it starts the server (server.sh), whose image has the clone's tools; it
survives a restart of that container: the mark names where the diverged data goes."""
from __future__ import annotations

pytest_plugins = ["pod_fixtures"]

SERVER = "mariadb 10.11"


def cut_short(make_pod, datadir_files: dict[str, str], pending: str | None = None):
    """Pod 2 whose server was stopped for a rebuild: the mark, and what the data directory holds."""
    pod = make_pod(SERVER, 2)
    datadir = pod.data / "mysql"
    for name, text in datadir_files.items():
        (datadir / name).parent.mkdir(parents=True, exist_ok=True)
        (datadir / name).write_text(text)
    if pending is not None:
        (pod.data / "replication-source").write_text(pending)
    (pod.data / "rebuild").write_text(f"{pod.data}/diverged-20260101T000000Z\n")
    return pod


def server_started(pod) -> bool:
    """The image's entrypoint ran with the server program (its no-op stand-in records argv)."""
    argv = pod.control / "argv.log"
    return argv.exists() and "docker-entrypoint.sh\0mariadbd\0" in argv.read_text()


def test_a_marked_rebuild_sets_the_diverged_data_aside_and_clones_before_the_server_starts(make_pod):
    pod = cut_short(make_pod, {"mysql/user.frm": "diverged", "ibdata1": "diverged"})
    run = pod.run("mysql")
    assert run.status == 0, run.stderr
    assert "this pod's data is rebuilt from a peer" in run.stderr
    aside = pod.data / "diverged-20260101T000000Z"
    assert sorted(str(p.relative_to(aside)) for p in aside.rglob("*") if p.is_file()) == [
        "ibdata1", "mysql/user.frm"]
    # The clone's stream from a peer, then the server through the image's entrypoint.
    assert [call["argv"][-1] for call in run.of("socat")] == ["STDOUT"]
    assert server_started(pod)
    assert (pod.data / "mysql" / "mysql").is_dir() and not (pod.data / "rebuild").exists()


def test_the_rebuild_copies_the_donor_the_agent_chose(make_pod):
    pod = cut_short(make_pod, {"ibdata1": "diverged"})
    pod.choose_donors(0)  # the agent writes them before it stops the server (role_loop.py)
    run = pod.run("mysql")
    assert run.status == 0, run.stderr
    assert [call["addresses"][0].split(":")[1] for call in run.of("socat")] == [pod.host(0)]


def test_a_rebuild_whose_clone_had_completed_keeps_it(make_pod):
    pod = cut_short(make_pod, {"mysql/db.opt": "cloned", "ibdata1": "cloned"}, pending="0-100-26\n")
    run = pod.run("mysql")
    assert run.status == 0, run.stderr
    assert "the rebuild's clone is complete" in run.stderr
    assert run.of("socat") == []
    assert (pod.data / "mysql" / "ibdata1").read_text() == "cloned"
    assert not (pod.data / "diverged-20260101T000000Z").exists()
    assert not (pod.data / "rebuild").exists()


def test_a_rebuild_mark_naming_no_diverged_directory_stops_the_server_container_saying_what_to_write(
        make_pod):
    pod = cut_short(make_pod, {"ibdata1": "diverged"})
    (pod.data / "rebuild").write_text("")
    run = pod.run("mysql")
    assert run.status == 1
    assert "does not name a diverged-* directory" in run.stderr
    assert (pod.data / "mysql" / "ibdata1").read_text() == "diverged"
    assert not server_started(pod)


def test_without_a_rebuild_mark_the_server_starts_at_once(make_pod):
    pod = make_pod(SERVER, 1)
    run = pod.run("mysql")
    assert run.status == 0, run.stderr
    assert server_started(pod)


def test_a_mysql_rebuild_sets_the_data_aside_and_starts_a_new_writable_database_for_the_agent_to_clone_into(
        make_pod):
    pod = make_pod("mysql 9.7", 2)
    (pod.data / "mysql" / "mysql").mkdir(parents=True)
    (pod.data / "mysql" / "ibdata1").write_text("diverged")
    (pod.data / "rebuild").write_text(f"{pod.data}/diverged-20260101T000000Z\n")
    (pod.data / "clone").touch()  # the agent's, written after the rebuild mark (role.py)
    run = pod.run("mysql")
    assert run.status == 0, run.stderr
    assert (pod.data / "diverged-20260101T000000Z" / "ibdata1").read_text() == "diverged"
    assert "the pod's agent copies a donor into the running server" in run.stderr
    assert run.of("socat") == [] and not (pod.data / "rebuild").exists()
    assert (pod.data / "clone").exists()
    # The entrypoint makes the new database as root: the server starts writable for that.
    argv = (pod.control / "argv.log").read_text()
    assert "docker-entrypoint.sh\0mysqld\0--super-read-only=OFF" in argv, argv


def test_a_server_with_its_database_starts_read_only_whatever_options_init_mysql_copied(make_pod):
    # Pod 0's first start copies the writable primary's options; a rebuild restarts its server
    # container alone, with those options still in place.
    pod = make_pod("mysql 9.7", 0)
    (pod.data / "mysql" / "mysql").mkdir(parents=True)
    run = pod.run("mysql")
    assert run.status == 0, run.stderr
    assert "docker-entrypoint.sh\0mysqld\0--super-read-only=ON" in (pod.control / "argv.log").read_text()
