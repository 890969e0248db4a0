"""A strict reader of binary log files (format v4), as MySQL 8/9 and MariaDB 10.x/11.x write them:
what the restore and the restore drill need of an archived log — the GTID state it begins with,
each transaction's GTID with its position and time, and where each event ends. An archived log
comes from a bucket, so anything that is not exactly what a server writes (a bad checksum, a
truncated event, an event of a kind the cluster never writes) is refused with a BinlogError naming
the file, the offset and what to do.

Layouts (read from the servers' sources; the code is this project's own):
- the file: a 4-byte magic, then events, each a 19-byte common header (timestamp u32, type u8,
  server id u32, event size u32, end position u32, flags u16; little-endian) and a body, the first
  event a Format_description event: mysql-server libs/mysql/binlog/event/binlog_event.h
  (LOG_EVENT_HEADER_LEN, BINLOG_MAGIC), MariaDB server sql/log_event.h (LOG_EVENT_HEADER_LEN).
- Format_description: binlog version u16, server version char[50], create time u32, header
  length u8, the post-header lengths, then the checksum algorithm u8 and a 4-byte checksum (every
  server since 5.6.1 writes both, whatever binlog_checksum says): mysql-server
  libs/mysql/binlog/event/control_events.h (Format_description_event), MariaDB sql/log_event.cc
  (Format_description_log_event::write).
- the checksum: CRC32 (zlib's) of the event without its last 4 bytes, computed with the
  Format_description's "in use" flag clear (the server clears it in place when it closes the
  log): mysql-server libs/mysql/binlog/event/binlog_event.cpp (Log_event_footer::event_checksum_test),
  MariaDB sql/log_event.cc (Log_event::event_checksum_test).
- MySQL Gtid event (type 33): flags u8, source uuid 16 bytes, transaction number i64; type 42
  is the tagged form (8.3+), type 34 a transaction without GTID: control_events.h (Gtid_event).
- MySQL Previous_gtids (35): the encoded GTID set — u64 count of sources (its high byte the
  format, 0 untagged), per source uuid 16 bytes, u64 count of intervals, per interval u64 start and
  u64 end (exclusive): mysql-server sql/rpl_gtid_set.cc (Gtid_set::encode).
- MariaDB Gtid event (162): sequence u64, domain u32, flags u8 (the server id is the header's);
  Gtid_list (163): u32 count (its low 28 bits), per entry domain u32, server u32, sequence u64;
  Start_encryption (164) begins an encrypted log: MariaDB sql/log_event.h (Gtid_log_event,
  Gtid_list_log_event, Start_encryption_log_event).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TypeVar

from .dialect import Flavor
from .gtid import GtidState, MariadbGtidState, MysqlGtidSet

MAGIC = b"\xfebin"
HEADER = struct.Struct("<IBIIIH")
STOP, ROTATE, FORMAT_DESCRIPTION = 3, 4, 15
MYSQL_GTID, MYSQL_ANONYMOUS_GTID, MYSQL_PREVIOUS_GTIDS, MYSQL_TAGGED_GTID = 33, 34, 35, 42
MARIADB_GTID, MARIADB_GTID_LIST, MARIADB_START_ENCRYPTION = 162, 163, 164
CHECKSUM_OFF, CHECKSUM_CRC32 = 0, 1
_IN_USE_FLAG = 0x1
_SERVER_VERSION = slice(2, 52)
_State = TypeVar("_State", MysqlGtidSet, MariadbGtidState)


class BinlogError(ValueError):
    """A binary log that is not one a server wrote whole; the message names the file and offset."""


@dataclass(frozen=True)
class Transaction:
    """A transaction's GTID event: its GTID as the server prints it (MySQL uuid:number in lower
    case, MariaDB domain-server-sequence), where the event begins, and its time (epoch seconds)."""
    gtid: str
    position: int
    timestamp: int


@dataclass(frozen=True)
class BinaryLog:
    name: str
    flavor: Flavor
    server_version: str
    # The GTID state the server had when it began the log (Previous_gtids, Gtid_list).
    begins_at: GtidState
    transactions: tuple[Transaction, ...]
    # The time of the log's last event, and the offset after it (its size).
    last_timestamp: int
    end: int
    # Whether the server closed it (its last event a Rotate or Stop): a log being written, or
    # copied while it was, may end inside a transaction.
    closed: bool

    def after(self, gtid: str) -> Optional[int]:
        """Where the transaction after `gtid`'s begins (the offset of the next GTID event), the
        log's end when `gtid`'s is its last; None when the log has no `gtid`."""
        for index, transaction in enumerate(self.transactions):
            if transaction.gtid == gtid:
                following = self.transactions[index + 1:index + 2]
                return following[0].position if following else self.end
        return None


def _uuid(raw: bytes) -> str:
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class _Reader:
    def __init__(self, path: Path, data: bytes, flavor: Flavor) -> None:
        self.path, self.data, self.flavor = path, data, flavor

    def refuse(self, offset: int, what: str) -> BinlogError:
        return BinlogError(f"binary log {self.path.name}: {what} at offset {offset}; it is not a log "
                           "the server wrote whole (damaged or truncated in the archive): take a new "
                           "backup, and see the binlog archiver's log")

    def read(self) -> BinaryLog:
        if self.data[:4] != MAGIC:
            raise self.refuse(0, "no binary log magic number")
        offset, checksum, version = 4, None, ""
        begins_at: Optional[GtidState] = None
        transactions: list[Transaction] = []
        last_timestamp, kind = 0, 0
        while offset < len(self.data):
            if len(self.data) - offset < HEADER.size:
                raise self.refuse(offset, "a truncated event header")
            timestamp, kind, server_id, size, end, flags = HEADER.unpack_from(self.data, offset)
            if size < HEADER.size or offset + size > len(self.data):
                raise self.refuse(offset, f"an event of {size} bytes that the file does not hold")
            # MariaDB 11 writes end position 0 in the events it copies from a transaction's cache
            # (all but its GTID event; seen on 11.8 by tests/agent/test_binlog_real_servers.py).
            if end != offset + size and not (end == 0 and self.flavor is Flavor.MARIADB):
                raise self.refuse(offset, f"an event whose end position {end} is not {offset + size}")
            event = self.data[offset:offset + size]
            if checksum is None:
                if kind != FORMAT_DESCRIPTION:
                    raise self.refuse(offset, f"a first event of type {kind}, not a Format_description")
                checksum, version = self.format_description(offset, event)
            body = event[HEADER.size:len(event) - (4 if checksum == CHECKSUM_CRC32 or kind == FORMAT_DESCRIPTION else 0)]
            if checksum == CHECKSUM_CRC32 or kind == FORMAT_DESCRIPTION:
                self.check_crc(offset, event, kind, flags, checksum)
            if kind in (MYSQL_PREVIOUS_GTIDS, MARIADB_GTID_LIST):
                if begins_at is not None or transactions:
                    raise self.refuse(offset, "a second GTID state event")
                begins_at = self.previous_gtids(offset, body) if kind == MYSQL_PREVIOUS_GTIDS \
                    else self.gtid_list(offset, body)
            elif kind in (MYSQL_GTID, MARIADB_GTID):
                transactions.append(Transaction(self.gtid(offset, kind, body, server_id), offset, timestamp))
            elif kind == MYSQL_TAGGED_GTID:
                raise self.refuse(offset, "a tagged GTID event (MySQL 8.3+ gtid tags), which this cluster "
                                          "never writes")
            elif kind == MARIADB_START_ENCRYPTION:
                raise self.refuse(offset, "an encrypted binary log (encrypt_binlog), which this cluster "
                                          "never writes")
            last_timestamp = max(last_timestamp, timestamp)
            offset += size
        if begins_at is None:
            raise self.refuse(offset, "no Previous_gtids event" if self.flavor is Flavor.MYSQL
                              else "no Gtid_list event")
        return BinaryLog(self.path.name, self.flavor, version, begins_at, tuple(transactions),
                         last_timestamp, offset, kind in (ROTATE, STOP))

    def format_description(self, offset: int, event: bytes) -> tuple[int, str]:
        body = event[HEADER.size:]
        if len(body) < 57 + 5:
            raise self.refuse(offset, "a Format_description event too short for a checksum algorithm")
        binlog_version = struct.unpack_from("<H", body)[0]
        if binlog_version != 4:
            raise self.refuse(offset, f"binary log format version {binlog_version}, not 4")
        version = body[_SERVER_VERSION].split(b"\0", 1)[0].decode("ascii", "replace")
        is_mariadb = "mariadb" in version.lower()
        if is_mariadb != (self.flavor is Flavor.MARIADB):
            raise self.refuse(offset, f"a log written by server {version!r}, not by a "
                                      f"{self.flavor.value} server")
        algorithm = body[-5]
        if algorithm not in (CHECKSUM_OFF, CHECKSUM_CRC32):
            raise self.refuse(offset, f"checksum algorithm {algorithm}, neither none nor CRC32")
        return algorithm, version

    def check_crc(self, offset: int, event: bytes, kind: int, flags: int, checksum: int) -> None:
        covered = bytearray(event[:-4])
        if kind == FORMAT_DESCRIPTION:
            if checksum == CHECKSUM_OFF:
                return  # its trailer is written but not computed when checksums are off
            struct.pack_into("<H", covered, 17, flags & ~_IN_USE_FLAG)
        if zlib.crc32(bytes(covered)) != struct.unpack_from("<I", event, len(event) - 4)[0]:
            raise self.refuse(offset, "an event whose CRC32 checksum does not match its bytes")

    def previous_gtids(self, offset: int, body: bytes) -> MysqlGtidSet:
        if self.flavor is not Flavor.MYSQL:
            raise self.refuse(offset, "a MySQL Previous_gtids event in a MariaDB log")
        try:
            (count,) = struct.unpack_from("<Q", body)
            if count >> 56:
                raise self.refuse(offset, f"a Previous_gtids event in GTID format {count >> 56} (tagged "
                                          "GTIDs, MySQL 8.3+), which this cluster never writes")
            at, members = 8, []
            for _ in range(count):
                uuid = _uuid(body[at:at + 16])
                (intervals,) = struct.unpack_from("<Q", body, at + 16)
                at += 24
                spans = []
                for _ in range(intervals):
                    start, stop = struct.unpack_from("<QQ", body, at)
                    spans.append(f"{start}" if stop == start + 1 else f"{start}-{stop - 1}")
                    at += 16
                if spans:
                    members.append(":".join([uuid, *spans]))
        except struct.error:
            raise self.refuse(offset, "a Previous_gtids event shorter than the GTID set it announces") from None
        if at != len(body):
            raise self.refuse(offset, "a Previous_gtids event longer than its GTID set")
        return self.state(offset, MysqlGtidSet.parse, ",".join(members))

    def gtid_list(self, offset: int, body: bytes) -> MariadbGtidState:
        if self.flavor is not Flavor.MARIADB or len(body) < 4:
            raise self.refuse(offset, "a Gtid_list event that is not MariaDB's")
        count = struct.unpack_from("<I", body)[0] & 0x0FFFFFFF
        if len(body) < 4 + 16 * count:
            raise self.refuse(offset, "a Gtid_list event shorter than the list it announces")
        entries = [struct.unpack_from("<IIQ", body, 4 + 16 * index) for index in range(count)]
        return self.state(offset, MariadbGtidState.parse, ",".join(f"{d}-{s}-{n}" for d, s, n in entries))

    def gtid(self, offset: int, kind: int, body: bytes, server_id: int) -> str:
        if kind == MYSQL_GTID and self.flavor is Flavor.MYSQL and len(body) >= 25:
            gno = struct.unpack_from("<q", body, 17)[0]
            if gno < 1:
                raise self.refuse(offset, f"a GTID event with transaction number {gno}")
            return f"{_uuid(body[1:17])}:{gno}"
        if kind == MARIADB_GTID and self.flavor is Flavor.MARIADB and len(body) >= 13:
            sequence, domain = struct.unpack_from("<QI", body)
            return f"{domain}-{server_id}-{sequence}"
        raise self.refuse(offset, f"a GTID event (type {kind}) that is not a {self.flavor.value} server's")

    def state(self, offset: int, parse: Callable[[str], _State], text: str) -> _State:
        try:
            return parse(text)
        except ValueError as error:
            raise self.refuse(offset, f"a GTID state event that does not parse ({error})") from None


def read_binary_log(path: Path, flavor: Flavor) -> BinaryLog:
    """The binary log at `path`, written by a server of `flavor`; BinlogError when it is not
    exactly what such a server writes."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BinlogError(f"cannot read binary log {path}: {error.strerror}") from None
    return _Reader(path, data, flavor).read()
