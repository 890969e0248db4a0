"""The order in which pytest-xdist's workers get the tests (`pytest -n 2`): longest first, so that
the workers finish together instead of one of them running a long end-to-end scenario alone at
the end.

Tests are dealt out in work units, one unit to whichever worker is free: an end-to-end test is a
unit of its own (each starts its own cluster, its fixtures are per test), and every other module
is one unit, so that its module-scoped fixtures (a built wheel, a pair of servers) are set up
once. Units go from the longest expected to the shortest; a unit's expected time is the sum of
its tests' times in tests/durations.json, as measured by a whole run
(`pytest -n 2 --record-durations tests/durations.json`). An end-to-end test not measured yet
goes first: a long one dealt out last would finish alone.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

DURATIONS = Path(__file__).with_name("durations.json")
_E2E_DIR = "tests/e2e/"
# Recorded tests shorter than this are left out of the file: they only make it longer.
_RECORDED_MINIMUM = 1.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", metavar="PATH",
                     help="write each test's duration (setup, call and teardown) to PATH as "
                          "JSON, for the order xdist deals tests out (tests/run_order.py)")


def xdist_worker() -> tuple[int, int]:
    """This process's worker number and the number of workers: (0, 1) in a run without -n."""
    return (int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")),
            int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def work_unit(nodeid: str) -> str:
    """The unit a test is dealt out in: itself for an end-to-end test, else its module."""
    return nodeid if nodeid.startswith(_E2E_DIR) else nodeid.split("::", 1)[0]


def longest_first(nodeids: list[str], durations: dict[str, float]) -> list[str]:
    """The tests in the order they are dealt out: by work unit, the longest expected first; a
    unit's tests together and in their given order."""
    costs: dict[str, float] = defaultdict(float)
    first_seen: dict[str, int] = {}
    for index, nodeid in enumerate(nodeids):
        unit = work_unit(nodeid)
        first_seen.setdefault(unit, index)
        unmeasured = float("inf") if unit == nodeid and nodeid.startswith(_E2E_DIR) else 0.0
        costs[unit] += durations.get(nodeid, unmeasured)
    return sorted(nodeids, key=lambda nodeid: (-costs[work_unit(nodeid)],
                                               first_seen[work_unit(nodeid)]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, each worker collects; every worker sorts alike."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a run without -n keeps pytest's order
    durations = json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.exists() else {}
    position = {nodeid: index for index, nodeid in
                enumerate(longest_first([item.nodeid for item in items], durations))}
    items.sort(key=lambda item: position[item.nodeid])


class LongestFirstScheduling(LoadScopeScheduling):
    """xdist's scope scheduling over the work units above, in the order the workers collected
    them (not reordered by size): a free worker gets the next unit."""

    def __init__(self, config: pytest.Config, log=None):
        super().__init__(config, log)
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadScopeScheduling | None:
    # Only xdist's default (load); a --dist of the user's choice is theirs.
    return LongestFirstScheduling(config, log) if config.getvalue("dist") == "load" else None


class _Recorder:
    def __init__(self, path: Path):
        self.path = path
        self.durations: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] += report.duration

    def pytest_sessionfinish(self) -> None:
        kept = {nodeid: round(seconds, 1) for nodeid, seconds in sorted(self.durations.items())
                if seconds >= _RECORDED_MINIMUM}
        self.path.write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    # The controller (or a run without -n) sees every report; a worker records nothing.
    path = config.getoption("record_durations")
    if path and not os.environ.get("PYTEST_XDIST_WORKER"):
        config.pluginmanager.register(_Recorder(Path(path)), "record-durations")
