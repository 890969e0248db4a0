"""pytest wiring for the end-to-end tests: the ``e2e`` marker and the harness fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from .harness import StatefulSetHarness, host_problems
from .manifests import RenderedManifests


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: runs MariaDB pods in network namespaces on this machine (root needed)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # A failing test gets the pods' state and log tails while they still exist.
    if report.when == "call" and report.failed:
        for harness in getattr(item, "e2e_harnesses", []):
            report.sections.append(("e2e pods", harness.describe()))
    return report


@pytest.fixture
def statefulset_harness(request: pytest.FixtureRequest, tmp_path: Path
                        ) -> Iterable[Callable[..., StatefulSetHarness]]:
    """Factory: ``statefulset_harness(manifests, **options)`` gives a running harness.

    manifests is a RenderedManifests, a list of dicts, or a YAML file path.
    Every harness made is closed when the test ends. The machine must be able
    to run it: a missing requirement fails the test, it is never skipped.
    """
    problems = host_problems()
    if problems:
        pytest.fail("e2e tests need: " + "; ".join(problems), pytrace=False)
    made: list[StatefulSetHarness] = []
    request.node.e2e_harnesses = made

    def make(manifests: RenderedManifests | list[dict] | Path, **options) -> StatefulSetHarness:
        if isinstance(manifests, Path):
            manifests = RenderedManifests.from_yaml_file(manifests)
        harness = StatefulSetHarness(manifests, tmp_path / f"harness-{len(made)}", **options)
        made.append(harness)
        return harness

    yield make
    errors = []
    for harness in made:
        try:
            harness.close()
        except Exception as error:  # close every harness, then report
            errors.append(error)
    if errors:
        raise errors[0]
