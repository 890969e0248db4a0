"""restore-drill-lib.sh's reading of binary logs (binlog_gtids): what the drill's chain check takes
from the binlog tool's decoding of each archived log, here printed by a stub as mysqlbinlog 9.7.4
and mariadb-binlog print real logs. The chain arithmetic itself runs on real servers (tests/e2e)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from scripted_pod import dialect_env

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
UUID = "273ebbbe-f157-11f1-acf8-02fc00000001"
TAGGED = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:tg:5"


def decoded(previous: list[str], gtids: list[str]) -> str:
    """A log as mysqlbinlog decodes it: its Previous-GTIDs event (the set one member a line, or
    "[empty]"), then each transaction's GTID event, then the AUTOMATIC it ends with."""
    members = [f"# {member}{',' if index < len(previous) - 1 else ''}"
               for index, member in enumerate(previous)] or ["# [empty]"]
    events = "".join(f"# at {300 + i}\n#261206  9:26:57 server id 1  end_log_pos 411 CRC32 0x88ed84c5 \tGTID\t"
                     f"last_committed=1\tsequence_number=2\trbr_only=no\n"
                     f"SET @@SESSION.GTID_NEXT= '{gtid}'/*!*/;\nBEGIN\n" for i, gtid in enumerate(gtids))
    return ("# at 127\n#261206  9:26:57 server id 1  end_log_pos 242 CRC32 0xeed4ed53 \tPrevious-GTIDs\n"
            + "\n".join(members) + "\n" + events
            + "SET @@SESSION.GTID_NEXT= 'AUTOMATIC' /* added by mysqlbinlog */ /*!*/;\n")


def binlog_gtids(tmp_path: Path, logs: dict[str, str], flavor: str = "mysql") -> list[str]:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, text in logs.items():
        (tmp_path / name).write_text(text)
    tool = stubs / ("mysqlbinlog" if flavor == "mysql" else "mariadb-binlog")
    tool.write_text('#!/bin/bash\nexec cat "$1"\n')
    tool.chmod(0o755)
    script = (f"source {SCRIPTS}/lib.sh; source {SCRIPTS}/restore-drill-lib.sh; "
              f"binlog_gtids {' '.join(str(tmp_path / name) for name in logs)}")
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "DB_FLAVOR": flavor, **dialect_env(flavor)}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, check=True,
                          capture_output=True, text=True).stdout.splitlines()


def test_each_mysql_log_gives_its_previous_gtids_set_and_its_transactions_in_order(tmp_path):
    assert binlog_gtids(tmp_path, {
        "mysql-bin.000001": decoded([], [f"{UUID}:1", f"{UUID}:2"]),
        "mysql-bin.000003": decoded([f"{UUID}:1-4", TAGGED], [f"{UUID}:5"]),
    }) == [f"mysql-bin.000001 [] {UUID}:1 {UUID}:2",
           f"mysql-bin.000003 [{UUID}:1-4,{TAGGED}] {UUID}:5"]


def test_a_mysql_log_without_transactions_gives_its_set_alone(tmp_path):
    assert binlog_gtids(tmp_path, {"mysql-bin.000002": decoded([f"{UUID}:1-3"], [])}) == [
        f"mysql-bin.000002 [{UUID}:1-3]"]


def test_a_mariadb_log_gives_its_gtid_list_over_lines_and_its_transactions(tmp_path):
    log = ("# at 256\n#261206  9:00:00 server id 1  end_log_pos 299 CRC32 0x1a2b3c4d \tGtid list [0-1-5,\n"
           "# 0-2-7]\n# at 299\n#261206  9:00:01 server id 1  end_log_pos 341 CRC32 0x1a2b3c4d \t"
           "GTID 0-1-8 trans\nBEGIN\n# at 341\n#261206  9:00:02 server id 1  end_log_pos 383 CRC32 "
           "0x1a2b3c4d \tGTID 0-1-9 trans\nBEGIN\n")
    assert binlog_gtids(tmp_path, {"mysql-bin.000002": log}, "mariadb") == [
        "mysql-bin.000002 [0-1-5,0-2-7] 0-1-8 0-1-9"]
