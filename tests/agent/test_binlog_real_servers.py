"""binlog.py on binary logs the real servers wrote (MySQL 9.7, MariaDB 11.8 and 10.11), judged by
what each server's own mysqlbinlog prints of the same files; and damaged copies refused."""
from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mysql_cluster_agent.binlog import BinlogError, read_binary_log
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import MariadbGtidState, MysqlGtidSet

from .real_server import running_server

SERVERS = ("mysql 9.7", "mariadb 11.8", "mariadb 10.11")
WORK = """CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, payload MEDIUMTEXT);
INSERT INTO app.t VALUES (1, 'one'), (2, 'two'); FLUSH BINARY LOGS;
INSERT INTO app.t VALUES (3, REPEAT('x', 70000)); UPDATE app.t SET payload = 'changed' WHERE id = 1;
FLUSH BINARY LOGS; DELETE FROM app.t WHERE id = 2; FLUSH BINARY LOGS;"""


def _flavor(name: str) -> Flavor:
    return Flavor.MARIADB if name.startswith("mariadb") else Flavor.MYSQL


def _logs(real, into: Path) -> list[Path]:
    """Copies of the server's binary logs (the one it writes last is still open: left out)."""
    data = real.directory / "data"
    names = sorted(p.name for p in data.iterdir() if re.fullmatch(r"mysql-bin\.\d+", p.name))
    copies = []
    for name in names[:-1]:
        shutil.copy(data / name, into / name)
        copies.append(into / name)
    return copies


def _mysqlbinlog(real, log: Path) -> str:
    """The server's own tool's decoding of `log` (copied into its tree to be read there), in UTC."""
    inside = real.directory / log.name
    shutil.copy(log, inside)
    tool = "mariadb-binlog" if real.is_mariadb else "mysqlbinlog"
    result = subprocess.run(real._argv(tool, real._inside(inside)), capture_output=True, text=True,
                            timeout=60, env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def _decoded(text: str, flavor: Flavor) -> dict[str, object]:
    """What mysqlbinlog says of a log: its starting GTID state, each GTID with the offset of
    its event, the last event's end and time."""
    gtids, at, ends, times = [], 0, [], []
    state_lines: list[str] = []
    listing = False
    for line in text.splitlines():
        if listing and line.startswith("# ") and not line.startswith("# at "):
            state_lines.append(line[2:])
            continue
        listing = False
        if m := re.fullmatch(r"# at (\d+)", line):
            at = int(m.group(1))
        if m := re.match(r"#(\d{6}) +(\d+):(\d\d):(\d\d) server id \d+ +end_log_pos (\d+)", line):
            ends.append(int(m.group(5)))
            times.append(f"20{m.group(1)} {int(m.group(2)):02d}:{m.group(3)}:{m.group(4)}")
        if line.rstrip().endswith("Previous-GTIDs"):
            listing = True
        if m := re.search(r"Gtid list \[(.*)\]", line):
            state_lines.append(m.group(1))
        if flavor is Flavor.MARIADB and (m := re.search(r"\sGTID (\d+-\d+-\d+)", line)):
            gtids.append((m.group(1), at))
        if flavor is Flavor.MYSQL and (m := re.match(r"SET @@SESSION.GTID_NEXT= '([^']+)'", line)) \
                and m.group(1) != "AUTOMATIC":
            gtids.append((m.group(1).lower(), at))
    state = "".join(state_lines).replace("[empty]", "")
    return {"begins_at": str(MariadbGtidState.parse(state) if flavor is Flavor.MARIADB else MysqlGtidSet.parse(state)),
            "gtids": gtids, "end": ends[-1], "last_time": times[-1]}


def _ours(log: Path, flavor: Flavor) -> dict[str, object]:
    read = read_binary_log(log, flavor)
    last = datetime.datetime.fromtimestamp(read.last_timestamp, datetime.timezone.utc)
    return {"begins_at": str(read.begins_at), "gtids": [(t.gtid, t.position) for t in read.transactions],
            "end": read.end, "last_time": last.strftime("%Y%m%d %H:%M:%S")}


@pytest.fixture(scope="module", params=[(name, checksum) for name in SERVERS for checksum in ("CRC32", "NONE")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def written(request, tmp_path_factory):
    """The binary logs a real server wrote with binlog_checksum `checksum`, and the server."""
    name, checksum = request.param
    options = f"log-bin=mysql-bin\nserver-id=7\nbinlog-checksum={checksum}\n"
    with running_server(name, options, WORK) as real:
        logs = _logs(real, tmp_path_factory.mktemp("logs"))
        yield real, _flavor(name), logs


def test_the_reader_reads_what_the_servers_own_mysqlbinlog_prints(written):
    real, flavor, logs = written
    assert len(logs) >= 3
    for log in logs:
        assert _ours(log, flavor) == _decoded(_mysqlbinlog(real, log), flavor), log.name


def test_each_log_begins_where_the_one_before_it_ended(written):
    _real, flavor, logs = written
    read = [read_binary_log(log, flavor) for log in logs]
    assert any(log.transactions for log in read)
    for before, after in zip(read, read[1:]):
        ended = before.begins_at
        for transaction in before.transactions:
            ended = type(ended).parse(f"{ended},{transaction.gtid}") if str(ended) else type(ended).parse(transaction.gtid)
        assert str(after.begins_at) == str(ended)


def test_rotated_logs_read_as_closed_and_the_one_being_written_as_open(written, tmp_path):
    real, flavor, logs = written
    assert all(read_binary_log(log, flavor).closed for log in logs)
    data = real.directory / "data"
    [current] = sorted(p for p in data.iterdir() if re.fullmatch(r"mysql-bin\.\d+", p.name))[-1:]
    shutil.copy(current, tmp_path / current.name)
    assert not read_binary_log(tmp_path / current.name, flavor).closed


def test_a_log_of_the_other_flavor_is_refused(written):
    _real, flavor, logs = written
    other = Flavor.MYSQL if flavor is Flavor.MARIADB else Flavor.MARIADB
    with pytest.raises(BinlogError, match=f"not by a {other.value} server"):
        read_binary_log(logs[1], other)


@pytest.mark.parametrize("written", [(name, "CRC32") for name in SERVERS], indirect=True,
                         ids=lambda p: f"{p[0]}-{p[1]}")
def test_a_flipped_byte_is_refused_for_its_checksum(written, tmp_path):
    _real, flavor, logs = written
    data = bytearray(logs[1].read_bytes())
    last = read_binary_log(logs[1], flavor).transactions[-1].position
    data[last + 25] ^= 0x01
    damaged = tmp_path / logs[1].name
    damaged.write_bytes(bytes(data))
    with pytest.raises(BinlogError, match=rf"CRC32 checksum does not match its bytes at offset {last}"):
        read_binary_log(damaged, flavor)


def test_a_truncated_log_is_refused_naming_the_cut_event(written, tmp_path):
    _real, flavor, logs = written
    read = read_binary_log(logs[1], flavor)
    last = read.transactions[-1].position
    cut = tmp_path / logs[1].name
    cut.write_bytes(logs[1].read_bytes()[:last + 30])
    with pytest.raises(BinlogError, match=rf"{logs[1].name}: an event of \d+ bytes that the file does not hold at offset {last}"):
        read_binary_log(cut, flavor)


def test_a_file_that_is_no_binary_log_is_refused(tmp_path):
    other = tmp_path / "mysql-bin.000001"
    other.write_bytes(b"PK\x03\x04 not a log")
    with pytest.raises(BinlogError, match="mysql-bin.000001: no binary log magic number at offset 0"):
        read_binary_log(other, Flavor.MYSQL)


def test_a_log_with_a_tagged_gtid_is_refused_naming_it(tmp_path):
    """MySQL 9.7 writes a tagged transaction (8.3+) as an event of its own kind; the cluster never
    tags its transactions, so such a log is not one of its own."""
    tagged = ("CREATE DATABASE app; SET gtid_next = 'AUTOMATIC:drill'; CREATE TABLE app.t (id INT PRIMARY KEY); "
              "SET gtid_next = 'AUTOMATIC'; FLUSH BINARY LOGS;")
    with running_server("mysql 9.7", "log-bin=mysql-bin\nserver-id=7\n", tagged) as real:
        [log] = _logs(real, tmp_path)[-1:]
    with pytest.raises(BinlogError, match=rf"{log.name}: a tagged GTID event .* which this cluster never writes"):
        read_binary_log(log, Flavor.MYSQL)
