"""Typed GTID states of both flavors, parsed strictly: a state comes from a peer, a clone or a
backup, so anything that is not exactly a state the server could print is refused with a
ValueError naming what is wrong.

MySQL: a GTID set, ``uuid[:tag]:interval[:interval...]`` per source, sources comma-separated (the
server prints them over several lines; white space around the commas is allowed). Tags came with
8.3; a tag applies to the intervals that follow it.
MariaDB: a list of ``domain-server-sequence`` entries, comma-separated, as gtid_binlog_state and
gtid_slave_pos print them.

``a.holds(b)``: ``a`` has every transaction of ``b``. A server that holds a transaction the
primary lacks has diverged (a failover left its last writes behind) and must never replicate or
be promoted as it is; one that lacks what a peer holds must not be promoted while that peer may
come back."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from .dialect import Flavor

_MAX_GNO = 2**63 - 1  # MySQL's transaction numbers are signed 64-bit, from 1.
_MAX_U32 = 2**32 - 1  # MariaDB's domain and server ids.
_MAX_U64 = 2**64 - 1  # MariaDB's sequence numbers.
_NUMBER = re.compile(r"0|[1-9][0-9]{0,19}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_SHOWN = 120


def _shown(text: str) -> str:
    """The text as it may appear in a message: printable, bounded."""
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable[:_SHOWN] + ("..." if len(printable) > _SHOWN else "")


def _number(text: str, limit: int, what: str, whole: str) -> int:
    if not _NUMBER.fullmatch(text) or int(text) > limit:
        raise ValueError(f"{what} {_shown(text)!r} is not a number from 0 to {limit} (in GTID {_shown(whole)!r})")
    return int(text)


def _items(text: str) -> list[str]:
    """The comma-separated items of a state, white space around them dropped; none for a blank
    state. An empty item (two commas, a trailing comma) is an error."""
    if not text.strip():
        return []
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise ValueError(f"GTID {_shown(text)!r} has an empty item between commas")
    return items


Interval = tuple[int, int]


def _merged(intervals: list[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True)
class MysqlGtidSet:
    """Per source (uuid, tag; both lower case, the untagged tag ''), its transactions as
    merged intervals."""
    sources: tuple[tuple[tuple[str, str], tuple[Interval, ...]], ...]

    @classmethod
    def parse(cls, text: str) -> MysqlGtidSet:
        found: dict[tuple[str, str], list[Interval]] = {}
        for item in _items(text):
            parts = item.split(":")
            if not _UUID.fullmatch(parts[0]):
                raise ValueError(f"{_shown(parts[0])!r} is not a server uuid (in GTID set {_shown(text)!r})")
            uuid, tag, intervals_of_tag = parts[0].lower(), "", 0
            if len(parts) == 1:
                raise ValueError(f"{_shown(item)!r} names a server but no transactions (in GTID set {_shown(text)!r})")
            for part in parts[1:]:
                if _TAG.fullmatch(part):
                    if tag and not intervals_of_tag:
                        raise ValueError(f"tag {tag!r} has no transactions (in GTID set {_shown(text)!r})")
                    tag, intervals_of_tag = part.lower(), 0
                    continue
                bounds = part.split("-")
                if len(bounds) > 2:
                    raise ValueError(f"{_shown(part)!r} is not an interval (in GTID set {_shown(text)!r})")
                start = _number(bounds[0], _MAX_GNO, "transaction number", text)
                end = _number(bounds[-1], _MAX_GNO, "transaction number", text)
                if start < 1 or end < start:
                    raise ValueError(f"{_shown(part)!r} is not an interval of transactions from 1 (in GTID set {_shown(text)!r})")
                found.setdefault((uuid, tag), []).append((start, end))
                intervals_of_tag += 1
            if tag and not intervals_of_tag:
                raise ValueError(f"tag {tag!r} has no transactions (in GTID set {_shown(text)!r})")
        return cls(tuple(sorted((source, _merged(intervals)) for source, intervals in found.items())))

    def holds(self, other: MysqlGtidSet) -> bool:
        mine = dict(self.sources)
        for source, intervals in other.sources:
            held = mine.get(source, ())
            for start, end in intervals:
                if not any(h_start <= start and end <= h_end for h_start, h_end in held):
                    return False
        return True

    def union(self, other: MysqlGtidSet) -> MysqlGtidSet:
        """Every transaction of either set."""
        found: dict[tuple[str, str], list[Interval]] = {}
        for source, intervals in (*self.sources, *other.sources):
            found.setdefault(source, []).extend(intervals)
        return MysqlGtidSet(tuple(sorted((source, _merged(spans)) for source, spans in found.items())))

    def minus(self, other: MysqlGtidSet) -> MysqlGtidSet:
        """The transactions of this set that `other` lacks (the server's GTID_SUBTRACT)."""
        theirs = dict(other.sources)
        left: list[tuple[tuple[str, str], tuple[Interval, ...]]] = []
        for source, intervals in self.sources:
            remaining = list(intervals)
            for cut_start, cut_end in theirs.get(source, ()):
                remaining = [piece for start, end in remaining for piece in (
                    (start, min(end, cut_start - 1)), (max(start, cut_end + 1), end)) if piece[0] <= piece[1]]
            if remaining:
                left.append((source, _merged(remaining)))
        return MysqlGtidSet(tuple(left))

    def __str__(self) -> str:
        by_uuid: dict[str, list[str]] = {}
        for (uuid, tag), intervals in self.sources:
            parts = by_uuid.setdefault(uuid, [])
            if tag:
                parts.append(tag)
            parts.extend(f"{s}" if s == e else f"{s}-{e}" for s, e in intervals)
        return ",".join(":".join([uuid, *parts]) for uuid, parts in by_uuid.items())


@dataclass(frozen=True)
class MariadbGtidState:
    """The last sequence number of each (domain, server)."""
    entries: tuple[tuple[tuple[int, int], int], ...]

    @classmethod
    def parse(cls, text: str) -> MariadbGtidState:
        found: dict[tuple[int, int], int] = {}
        for item in _items(text):
            numbers = item.split("-")
            if len(numbers) != 3:
                raise ValueError(f"{_shown(item)!r} is not domain-server-sequence (in GTID state {_shown(text)!r})")
            domain = _number(numbers[0], _MAX_U32, "domain id", text)
            server = _number(numbers[1], _MAX_U32, "server id", text)
            sequence = _number(numbers[2], _MAX_U64, "sequence number", text)
            # A state joined from the binary log state and the replica position names a server
            # twice: the larger number is where it stands.
            found[(domain, server)] = max(sequence, found.get((domain, server), 0))
        return cls(tuple(sorted(found.items())))

    def holds(self, other: MariadbGtidState) -> bool:
        """For each server of each domain, up to at least the other's number. Under
        gtid_strict_mode each server's sequence numbers only grow within a domain, so that
        means every transaction."""
        mine = dict(self.entries)
        return all(mine.get(key, -1) >= sequence for key, sequence in other.entries)

    def reaches(self, position: MariadbGtidState) -> bool:
        """Whether this state stands at or past a position (one entry per domain, such as a
        clone's gtid_slave_pos) in every domain of it, whichever server wrote there."""
        newest: dict[int, int] = {}
        for (domain, _server), sequence in self.entries:
            newest[domain] = max(sequence, newest.get(domain, -1))
        return all(newest.get(domain, -1) >= sequence for (domain, _server), sequence in position.entries)

    def after(self, gtid: MariadbGtidState) -> MariadbGtidState:
        """The binary log state once the transactions of `gtid` (entries) were logged: each
        (domain, server) at its newest number, as the next log's Gtid_list records it."""
        found = dict(self.entries)
        found.update(gtid.entries)
        return MariadbGtidState(tuple(sorted(found.items())))

    def position(self) -> MariadbGtidState:
        """One entry per domain, its highest sequence number (under gtid_strict_mode the domain's
        last transaction, what gtid_binlog_pos shows)."""
        newest: dict[int, tuple[int, int]] = {}
        for (domain, server), sequence in self.entries:
            if domain not in newest or sequence > newest[domain][1]:
                newest[domain] = (server, sequence)
        return MariadbGtidState(tuple(sorted(((d, s), n) for d, (s, n) in newest.items())))

    def __str__(self) -> str:
        return ",".join(f"{d}-{s}-{n}" for (d, s), n in self.entries)


GtidState = Union[MysqlGtidSet, MariadbGtidState]


def parse_gtid(flavor: Flavor, text: str) -> GtidState:
    """A GTID state of the flavor's servers, from text a server, peer or backup gave."""
    if flavor is Flavor.MARIADB:
        return MariadbGtidState.parse(text)
    return MysqlGtidSet.parse(text)


def holds(holder: GtidState, state: GtidState) -> bool:
    """Whether holder has every transaction of state (both of one flavor)."""
    if isinstance(holder, MysqlGtidSet) and isinstance(state, MysqlGtidSet):
        return holder.holds(state)
    if isinstance(holder, MariadbGtidState) and isinstance(state, MariadbGtidState):
        return holder.holds(state)
    raise TypeError("GTID states of different flavors cannot be compared")
