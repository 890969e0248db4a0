"""The order pytest-xdist's workers get the tests in (tests/run_order.py)."""
from __future__ import annotations

from run_order import longest_first

E2E_SHORT = "tests/e2e/test_a.py::test_short[mysql-9.7]"
E2E_LONG = "tests/e2e/test_a.py::test_long[mysql-9.7]"
E2E_NEW = "tests/e2e/test_b.py::test_not_measured_yet[mysql-9.7]"
WHEEL = ["tests/packaging/test_wheel.py::test_builds", "tests/packaging/test_wheel.py::test_imports"]
UNIT = "tests/unit/test_x.py::test_quick"


def test_end_to_end_tests_go_longest_first_and_an_unmeasured_one_before_all():
    durations = {E2E_SHORT: 10.0, E2E_LONG: 90.0}
    assert longest_first([E2E_SHORT, E2E_LONG, E2E_NEW], durations) == [E2E_NEW, E2E_LONG, E2E_SHORT]


def test_a_module_outside_e2e_stays_together_in_its_order_and_costs_its_tests_sum():
    durations = {E2E_SHORT: 30.0, WHEEL[0]: 20.0, WHEEL[1]: 15.0}
    assert longest_first([E2E_SHORT, UNIT, *WHEEL], durations) == [*WHEEL, E2E_SHORT, UNIT]
