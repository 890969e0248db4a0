"""restore-drill.sh, the scratch server's checks, which the verdict (mysql_cluster_agent/
restore_drill.py) judges: the real script with stub tools (the pod of test_backup_trust_script.py)
and a stub client answering as a server would. It writes what the client printed, untouched, for
the verdict; a table that does not read back whole does not end it, so that the verdict names it."""
from __future__ import annotations

import pytest

from mysql_cluster_agent.restore_drill import compare_chunks, read_tables
from test_backup_trust_script import pod  # noqa: F401 (the fixture)

TABLES = "CHECKSUM TABLE `app`.`events` EXTENDED;\nCHECKSUM TABLE `app`.`orders` EXTENDED;\n"
CHUNKS = "db\ttbl\tchunk\tts\tthis_crc\tthis_cnt\tsource_crc\tsource_cnt\napp\tevents\t1\t2026-01-01 02:00:00\tab\t6\tab\t6\n"


@pytest.fixture
def drill(pod, tmp_path):  # noqa: F811 (the fixture imported above)
    results = tmp_path / "drill-results"
    results.mkdir()
    (results / "position-query").write_text("SELECT @@GLOBAL.gtid_current_pos;\n")
    stubs = tmp_path / "stubs"
    (tmp_path / "tables").write_text(TABLES)
    (tmp_path / "chunks").write_text(CHUNKS)
    bodies = {
        "mariadbd": "sleep 60 & child=$!\ntrap 'kill $child; exit 0' TERM\nwait",
        # Answers each query as a server whose percona.checksums has STUB_COLUMNS; CHECKSUM TABLE
        # fails on app.orders when STUB_BROKEN is set.
        "mariadb": f"""query=${{*: -1}}
[[ " $* " == *" -e "* ]] || query=$(cat)
case "$query" in
  "SELECT 1") ;;
  *information_schema.columns*) [[ -z "${{STUB_COLUMNS:-}}" ]] || printf '%s\\n' $STUB_COLUMNS ;;
  *"FROM percona.checksums"*) cat "{tmp_path}/chunks" ;;
  *information_schema.tables*) cat "{tmp_path}/tables" ;;
  *gtid_current_pos*) echo 0-1-42 ;;
  *"CHECKSUM TABLE"*) printf 'app.events\\t3081573225\\n'
    [[ -z "${{STUB_BROKEN:-}}" ]] || {{ echo "ERROR 1877 (HY000) at line 2: The table 'app.orders' is corrupt" >&2; exit 1; }}
    printf 'app.orders\\t0\\n' ;;
  *) exit 1 ;;
esac""",
    }
    for tool, body in bodies.items():
        (stubs / tool).write_text(f'#!/bin/bash\necho "{tool} $*" >>"{pod.calls}"\n{body}\n')
    pod.results = results
    pod.run_drill = lambda **env: pod.run("restore-drill.sh", DRILL_RESULTS_DIR=str(results), **env)
    return pod


def printed(drill, name: str) -> list[str]:
    return (drill.results / name).read_text().splitlines()


def test_the_script_writes_every_tables_checksum_and_pt_table_checksums_table_as_printed(drill):
    result = drill.run_drill(STUB_COLUMNS="db tbl chunk ts this_crc this_cnt source_crc source_cnt")
    assert result.returncode == 0, result.stderr
    assert (drill.results / "position").read_text() == "0-1-42\n"
    assert (drill.results / "checksum-statements").read_text() == TABLES
    assert [(t.table, t.checksum) for t in read_tables(printed(drill, "checksum-statements"),
                                                        printed(drill, "checksums"), "")] == [
        ("app.events", 3081573225), ("app.orders", 0)]
    assert (drill.results / "percona-checksums").read_text() == CHUNKS
    assert compare_chunks(printed(drill, "checksums-columns"), printed(drill, "percona-checksums")).compared == 1


def test_without_percona_checksums_the_script_reads_no_such_table(drill):
    result = drill.run_drill()
    assert result.returncode == 0, result.stderr
    assert (drill.results / "percona-checksums").read_text() == ""
    assert "FROM percona.checksums" not in drill.calls.read_text()


def test_a_table_that_does_not_read_back_whole_leaves_its_error_for_the_verdict_to_name(drill):
    result = drill.run_drill(STUB_BROKEN="1")
    assert result.returncode == 0, result.stderr
    assert "CHECKSUM TABLE stopped at a table that does not read back whole" in result.stderr
    with pytest.raises(Exception, match="table `app`.`orders` of the restored backup does not read back whole: "
                                        "ERROR 1877 \\(HY000\\): The table 'app.orders' is corrupt"):
        read_tables(printed(drill, "checksum-statements"), printed(drill, "checksums"),
                    (drill.results / "checksum-errors").read_text())
