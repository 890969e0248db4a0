"""The typed GTID states: what each flavor's servers print parses, anything else is refused with
a message, and holds() answers whether one server has every transaction of another."""
from __future__ import annotations

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.gtid import MariadbGtidState, MysqlGtidSet, holds, parse_gtid

A = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
B = "4f22ab58-82db-22f2-af44-d91bb0530673"


def mysql(text: str) -> MysqlGtidSet:
    return MysqlGtidSet.parse(text)


def mariadb(text: str) -> MariadbGtidState:
    return MariadbGtidState.parse(text)


@pytest.mark.parametrize("holder, state, expected", [
    (f"{A}:1-5", f"{A}:1-5", True),
    (f"{A}:1-5", f"{A}:2-4", True),
    (f"{A}:1-5", f"{A}:1-6", False),
    (f"{A}:1-5:7", f"{A}:6", False),
    (f"{A}:1-5:6:7-9", f"{A}:1-9", True),
    (f"{A}:1-5", f"{B}:1", False),
    (f"{A}:1-5,{B}:1-3", f"{B}:2", True),
    (f"{A}:1-5", "", True),
    ("", f"{A}:1", False),
])
def test_a_mysql_set_holds_exactly_the_transactions_of_its_intervals(holder: str, state: str, expected: bool) -> None:
    assert mysql(holder).holds(mysql(state)) is expected


def test_a_mysql_set_spread_over_lines_as_the_server_prints_it_parses() -> None:
    assert mysql(f"{A}:1-5,\n{B}:1-3\n") == mysql(f"{A}:1-5,{B}:1-3")


def test_a_mysql_uuid_is_compared_without_regard_to_case() -> None:
    assert mysql(A.upper() + ":1-3").holds(mysql(f"{A}:2"))


def test_mysql_tags_keep_their_transactions_apart() -> None:
    tagged = mysql(f"{A}:1-5:audit:1-2")
    assert tagged.holds(mysql(f"{A}:audit:2"))
    assert not tagged.holds(mysql(f"{A}:audit:3"))
    assert not mysql(f"{A}:1-5").holds(mysql(f"{A}:audit:1"))


def test_a_mysql_set_prints_in_the_servers_form() -> None:
    assert str(mysql(f"{B}:3,{A}:4-5:1-3")) == f"{A}:1-5,{B}:3"


@pytest.mark.parametrize("text", [
    f"{A}", f"{A}:", f"{A}:0", f"{A}:5-3", f"{A}:1-2-3", f"{A}:01", f"{A}:1,,{B}:1", f"{A}:1,",
    "not-a-uuid:1", f"{A}:1;DROP TABLE t", f"{A}:audit", f"{A}:9223372036854775808", "0-1-2",
])
def test_anything_but_a_mysql_gtid_set_is_refused_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match="GTID"):
        mysql(text)


@pytest.mark.parametrize("holder, state, expected", [
    ("0-1-10", "0-1-10", True),
    ("0-1-10", "0-1-9", True),
    ("0-1-10", "0-1-11", False),
    ("0-1-10", "0-2-1", False),
    ("0-1-10,0-2-5", "0-2-5", True),
    ("0-1-10,1-1-3", "1-1-4", False),
    ("0-1-10", "", True),
    ("", "0-1-1", False),
])
def test_a_mariadb_state_holds_every_servers_transactions_up_to_its_number(holder: str, state: str, expected: bool) -> None:
    assert mariadb(holder).holds(mariadb(state)) is expected


def test_a_mariadb_state_naming_a_server_twice_stands_at_the_larger_number() -> None:
    # The binary log state joined with the replica position (dialect.gtid_state_expression).
    assert mariadb("0-1-10,0-1-4") == mariadb("0-1-10")


def test_a_mariadb_state_reaches_a_position_in_each_domain_whoever_wrote_it() -> None:
    assert mariadb("0-2-12").reaches(mariadb("0-1-10"))
    assert not mariadb("0-2-9").reaches(mariadb("0-1-10"))
    assert not mariadb("0-2-12").reaches(mariadb("0-1-10,1-1-1"))


def test_a_mariadb_state_tolerates_white_space_around_entries() -> None:
    assert mariadb(" 0-1-10 ,\n1-1-2\n") == mariadb("0-1-10,1-1-2")


@pytest.mark.parametrize("text", [
    "0-1", "0-1-2-3", "a-1-2", "0-1-", "-1-2", "0-01-2", "0-1-2,", "0-4294967296-1",
    "0-1-18446744073709551616", "0-1-2 3", f"{A}:1",
])
def test_anything_but_a_mariadb_gtid_state_is_refused_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match="GTID"):
        mariadb(text)


def test_a_refused_gtid_is_shown_printable_and_bounded() -> None:
    with pytest.raises(ValueError) as refused:
        mariadb("0-1-x\x1b[31m" + "9" * 500)
    assert "\x1b" not in str(refused.value) and len(str(refused.value)) < 400


def test_parse_gtid_chooses_the_flavors_grammar() -> None:
    assert isinstance(parse_gtid(Flavor.MYSQL, f"{A}:1"), MysqlGtidSet)
    assert isinstance(parse_gtid(Flavor.MARIADB, "0-1-1"), MariadbGtidState)


def test_states_of_different_flavors_are_not_compared() -> None:
    with pytest.raises(TypeError):
        holds(mysql(f"{A}:1"), mariadb("0-1-1"))

ARITHMETIC = [  # (left, right, left minus right, left union right)
    (f"{A}:1-10", f"{A}:3-4", f"{A}:1-2:5-10", f"{A}:1-10"),
    (f"{A}:1-10", f"{A}:1-10", "", f"{A}:1-10"),
    (f"{A}:1-5", f"{A}:6-9", f"{A}:1-5", f"{A}:1-9"),
    (f"{A}:1-5:8", f"{B}:1,{A}:5-8", f"{A}:1-4", f"{A}:1-8,{B}:1"),
    ("", f"{A}:1", "", f"{A}:1"),
    (f"{A}:1-3:x:1-2", f"{A}:1-3", f"{A}:x:1-2", f"{A}:1-3:x:1-2"),
    (f"{A}:2-9", f"{A}:1-3:5:9-12", f"{A}:4:6-8", f"{A}:1-12"),
]


@pytest.mark.parametrize("left, right, difference, _union", ARITHMETIC)
def test_a_mysql_set_minus_another_keeps_what_the_other_lacks(left: str, right: str, difference: str, _union: str) -> None:
    assert str(mysql(left).minus(mysql(right))) == difference


@pytest.mark.parametrize("left, right, _difference, union", ARITHMETIC)
def test_the_union_of_mysql_sets_holds_the_transactions_of_both(left: str, right: str, _difference: str, union: str) -> None:
    assert str(mysql(left).union(mysql(right))) == union


def test_a_mariadb_state_after_transactions_stands_at_each_servers_newest() -> None:
    assert str(mariadb("0-1-5,0-2-7,1-1-3").after(mariadb("0-2-8,2-3-1"))) == "0-1-5,0-2-8,1-1-3,2-3-1"


def test_a_mariadb_position_is_the_highest_number_of_each_domain() -> None:
    assert str(mariadb("0-1-5,0-2-7,1-1-3").position()) == "0-2-7,1-1-3"
