"""gtid.py's MySQL set arithmetic judged by MySQL 9.7 itself (GTID_SUBTRACT), the function the
restore drill's plan used before it moved into Python."""
from __future__ import annotations

import pytest

from mysql_cluster_agent.gtid import MysqlGtidSet

from .real_server import running_server
from .test_gtid import ARITHMETIC


@pytest.fixture(scope="module")
def mysql_server():
    with running_server("mysql 9.7", "", "SELECT 1") as real:
        yield real


def _server(real, expression: str) -> str:
    return real.value(f"REPLACE({expression}, '\\n', '')")


@pytest.mark.parametrize("left, right, _difference, _union", ARITHMETIC)
def test_the_difference_of_two_sets_is_the_servers(mysql_server, left: str, right: str,
                                                   _difference: str, _union: str) -> None:
    ours = MysqlGtidSet.parse(left).minus(MysqlGtidSet.parse(right))
    assert str(ours) == _server(mysql_server, f"GTID_SUBTRACT('{left}', '{right}')")


@pytest.mark.parametrize("left, right, _difference, _union", ARITHMETIC)
def test_the_union_of_two_sets_is_the_servers(mysql_server, left: str, right: str,
                                              _difference: str, _union: str) -> None:
    joined = ",".join(part for part in (left, right) if part)
    ours = MysqlGtidSet.parse(left).union(MysqlGtidSet.parse(right))
    assert str(ours) == _server(mysql_server, f"GTID_SUBTRACT('{joined}', '')")
