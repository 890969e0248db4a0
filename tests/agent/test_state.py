"""A server's state as agents send it to each other: it goes out and comes back the same, and a
peer's state that is not exactly that form is refused, naming what is wrong."""
from __future__ import annotations

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.state import ServerState

STATE = ServerState(ordinal=1, read_only=True, heartbeat_micros=1_700_000_000_000_000, heartbeat_writer=0,
                    gtid=parse_gtid(Flavor.MARIADB, "0-100-7"))


def test_a_server_state_comes_back_as_it_was_sent() -> None:
    assert ServerState.from_wire(Flavor.MARIADB, 1, STATE.to_wire()) == STATE


def test_the_heartbeats_writer_travels_relative_to_the_pod_that_answers() -> None:
    assert STATE.to_wire()["heartbeat_writer_offset"] == -1


@pytest.mark.parametrize("field, value, complaint", [
    ("read_only", 1, "read_only"),
    ("heartbeat_micros", 2**64, "heartbeat_micros"),
    ("heartbeat_micros", -5, "heartbeat_micros"),
    ("heartbeat_writer_offset", -2, "does not name a pod"),
    ("heartbeat_writer_offset", True, "does not name a pod"),
    ("gtid_state", "0-100-7; DROP TABLE t", "GTID"),
    ("gtid_state", 7, "gtid_state"),
])
def test_a_peer_state_with_a_wrong_field_is_refused_naming_it(field: str, value: object, complaint: str) -> None:
    data = {**STATE.to_wire(), field: value}
    with pytest.raises(ValueError, match=complaint):
        ServerState.from_wire(Flavor.MARIADB, 1, data)


def test_a_peer_state_lacking_a_field_is_refused() -> None:
    data = STATE.to_wire()
    del data["gtid_state"]
    with pytest.raises(ValueError, match="lacks the fields"):
        ServerState.from_wire(Flavor.MARIADB, 1, data)


def test_a_peer_state_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        ServerState.from_wire(Flavor.MARIADB, 1, [1, 2])
