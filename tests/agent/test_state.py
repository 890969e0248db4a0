"""A server's state as agents send it to each other: it goes out and comes back the same, and a
peer's state that is not exactly that form is refused, naming what is wrong."""
from __future__ import annotations

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.state import ServerState

STATE = ServerState(ordinal=1, read_only=True, heartbeat_micros=1_700_000_000_000_000, heartbeat_writer=0,
                    gtid=parse_gtid(Flavor.MARIADB, "0-100-7"), source_host="db-0.db.ns.svc.cluster.local",
                    replicating=True)


def test_a_server_state_comes_back_as_it_was_sent() -> None:
    assert ServerState.from_dict(Flavor.MARIADB, STATE.to_dict()) == STATE


@pytest.mark.parametrize("field, value, complaint", [
    ("ordinal", -1, "ordinal"),
    ("ordinal", "1", "ordinal"),
    ("readOnly", 1, "readOnly"),
    ("heartbeatMicros", 2**64, "heartbeatMicros"),
    ("heartbeatWriter", True, "heartbeatWriter"),
    ("gtid", "0-100-7; DROP TABLE t", "GTID"),
    ("gtid", 7, "gtid"),
    ("sourceHost", ["x"], "sourceHost"),
    ("extra", 1, "unknown fields"),
])
def test_a_peer_state_with_a_wrong_field_is_refused_naming_it(field: str, value: object, complaint: str) -> None:
    data = {**STATE.to_dict(), field: value}
    with pytest.raises(ValueError, match=complaint):
        ServerState.from_dict(Flavor.MARIADB, data)


def test_a_peer_state_lacking_a_field_is_refused() -> None:
    data = STATE.to_dict()
    del data["gtid"]
    with pytest.raises(ValueError, match="lacks the fields"):
        ServerState.from_dict(Flavor.MARIADB, data)


def test_a_peer_state_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        ServerState.from_dict(Flavor.MARIADB, [1, 2])
