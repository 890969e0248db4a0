"""restore-replay.sh, what remains of it after replay-plan (mysql_cluster_agent/replay_plan.py):
the real script with stub tools (the pod of test_backup_trust_script.py) and a plan as the Python
step writes it. It runs the server writable without networking, feeds the prologue once and marks
that it did, replays with the plan's options after the server's own GTID state, and clears the
restore only when the replay succeeded."""
from __future__ import annotations

import pytest

from test_backup_trust_script import NAME, pod  # noqa: F401 (the fixture)

OLD = "3e11fa47-71ca-11e1-9e33-c80aa9000100"
STATE = f"{OLD}:1-6"


@pytest.fixture
def planned(pod, tmp_path):  # noqa: F811 (the fixture imported above)
    """Pod 0 after the restore and replay-plan: one archived log, cut at offset 665."""
    plan = tmp_path / "replay-plan"
    plan.mkdir()
    archive = pod.data / "restore-binlogs"
    archive.mkdir()
    (archive / "mysql-bin.000004").write_text("binary")
    (pod.data / "restore-pending.json").write_text("{}")
    files = {"backup": NAME, "binlogs": f"{archive / 'mysql-bin.000004'}\n", "start-option": "--exclude-gtids=",
             "binlog-options": "--stop-position=665\n", "position-query": "SELECT @@GLOBAL.gtid_executed;\n",
             "up-to": f" up to {OLD}:6", "prologue.sql": "SET sql_log_bin=0;\nRESET BINARY LOGS AND GTIDS;\n"}
    for name, text in files.items():
        (plan / name).write_text(text)
    stubs, calls = tmp_path / "stubs", pod.calls
    bodies = {
        "mysqlbinlog": "echo 'INSERT'",
        "mysqld": f"sleep 60 & child=$!\ntrap 'kill $child; echo stopped >>\"{calls}\"; exit 0' TERM\nwait",
        # Records what it was fed; answers the position query with the server's state.
        "mysql": f'[[ " $* " == *" -e "* ]] && exit 0\ncat >>"{tmp_path}/fed"\n'
                 f'echo "${{STUB_STATE:-{OLD}:1-4}}"\nexit "${{STUB_FAIL:-0}}"',
    }
    for tool, body in bodies.items():
        (stubs / tool).write_text(f'#!/bin/bash\necho "{tool} $*" >>"{calls}"\n{body}\n')
    pod.plan = plan
    pod.fed = lambda: (tmp_path / "fed").read_text() if (tmp_path / "fed").exists() else ""
    pod.run_replay = lambda **env: pod.run("restore-replay.sh", DB_FLAVOR="mysql", DB_VERSION="8.4",
                                           REPLAY_PLAN_DIR=str(plan), **env)
    pod.replays = lambda: [line.split()[1:] for line in calls.read_text().splitlines()
                           if line.startswith("mysqlbinlog ")] if calls.exists() else []
    return pod


def test_the_replay_feeds_the_prologue_then_replays_after_the_servers_state_with_the_plans_options(planned):
    result = planned.run_replay()
    assert result.returncode == 0, result.stderr
    assert "RESET BINARY LOGS AND GTIDS;" in planned.fed()
    assert planned.replays() == [[f"--exclude-gtids={OLD}:1-4", "--stop-position=665",
                                  str(planned.data / "restore-binlogs" / "mysql-bin.000004")]]
    assert f"replaying 1 archived binary logs after GTID {OLD}:1-4 up to {OLD}:6" in result.stderr
    assert f"restore of backup {NAME} complete" in result.stderr


def test_a_finished_replay_clears_the_hand_over_the_archive_and_the_mark(planned):
    assert planned.run_replay().returncode == 0
    assert not [path.name for path in planned.data.iterdir() if path.name.startswith("restore-")]


def test_a_plan_without_prologue_resumes_without_resetting_the_gtid_state(planned):
    (planned.plan / "prologue.sql").unlink()
    result = planned.run_replay()
    assert result.returncode == 0, result.stderr
    assert f"resuming the replay of backup {NAME}" in result.stderr
    assert "RESET" not in planned.fed()


def test_a_failed_replay_keeps_the_archive_the_hand_over_and_the_mark_that_the_prologue_ran(planned):
    result = planned.run_replay(STUB_FAIL="1")
    assert result.returncode != 0
    assert "could not set the GTID state" in result.stderr or "the replay failed" in result.stderr
    # Its server was stopped on the way out, not left to be killed with the container.
    assert "stopped" in planned.calls.read_text().splitlines()
    assert (planned.data / "restore-pending.json").exists()
    assert (planned.data / "restore-binlogs" / "mysql-bin.000004").exists()


def test_without_a_plan_no_restore_is_pending_and_nothing_runs(planned):
    for path in planned.plan.iterdir():
        path.unlink()
    result = planned.run_replay()
    assert result.returncode == 0 and "no restore pending" in result.stderr
    assert not planned.ran("mysqld") and not planned.replays()


@pytest.mark.parametrize("flavor, options", [
    ("mariadb", ["--read-only=OFF"]), ("mysql", ["--read-only=OFF", "--super-read-only=OFF"])])
def test_the_replay_server_runs_writable_whatever_options_the_pod_got(planned, flavor, options):
    """After a restart of pod 0, init-mysql gives it replica.cnf (read-only; super-read-only on
    MySQL, which refuses even root): the replay's server overrides both on its command line."""
    result = planned.run(
        "restore-replay.sh", DB_FLAVOR=flavor, DB_VERSION="8.4" if flavor == "mysql" else "11.8",
        REPLAY_PLAN_DIR=str(planned.plan))
    assert "the server did not start on the restored data" in result.stderr or result.returncode == 0, result.stderr
    [call] = [line.split()[1:] for line in planned.calls.read_text().splitlines()
              if line.startswith(("mariadbd ", "mysqld "))]
    assert all(option in call for option in options), call


def test_a_server_that_stops_before_it_answers_fails_the_replay_showing_the_servers_error(planned, tmp_path):
    """The server's error log stays in the container's scratch directory; its first error line
    comes into the container's log with what failed."""
    (tmp_path / "stubs" / "mysqld").write_text(
        '#!/bin/bash\nfor option; do [[ "$option" == --log-error=* ]] && log=${option#--log-error=}; done\n'
        'echo "[ERROR] [MY-012574] [InnoDB] Unable to lock ./ibdata1" >"$log"\nexit 1\n')
    (tmp_path / "stubs" / "mysql").write_text("#!/bin/bash\nexit 1\n")  # nothing answers
    result = planned.run_replay()
    assert result.returncode != 0
    assert "the server stopped before it was ready: [ERROR] [MY-012574] [InnoDB] Unable to lock ./ibdata1" \
        in result.stderr, result.stderr
    assert "the server did not start on the restored data; the pod retries" in result.stderr
    assert (planned.data / "restore-pending.json").exists()


def test_a_server_that_does_not_shut_down_cleanly_after_the_replay_keeps_the_restore_pending(planned, tmp_path):
    (tmp_path / "stubs" / "mysqld").write_text(
        "#!/bin/bash\nsleep 60 & child=$!\ntrap 'kill $child; exit 1' TERM\nwait\n")
    result = planned.run_replay()
    assert result.returncode != 0
    assert "the server did not shut down cleanly after the replay; the pod retries" in result.stderr, result.stderr
    assert (planned.data / "restore-pending.json").exists()
