"""pytest wiring for the end-to-end tests: the ``e2e`` marker and the harness fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from .cluster import Cluster
from .harness import StatefulSetHarness, host_problems
from .manifests import RenderedManifests

# The server the scenarios run: what Debian 12 packages, as the test setup installs it.
FLAVOR, VERSION = "mariadb", "10.11"


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
    # A stuck server or script must not hold up the run: each test states its bound.
    if not request.config.pluginmanager.hasplugin("timeout"):
        pytest.fail("e2e tests need pytest-timeout (requirements-dev.txt)", pytrace=False)
    if request.node.get_closest_marker("timeout") is None:
        pytest.fail("an e2e test must be bounded with @pytest.mark.timeout", pytrace=False)
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


@pytest.fixture
def mariadb_cluster(statefulset_harness, render) -> Callable[..., Cluster]:
    """Factory: ``mariadb_cluster(replicas, harness_options=None, **config)`` renders the
    component's dev stack for MariaDB 10.11 with that many replicas and the given stack config
    overrides, starts its StatefulSet and returns the Cluster once all pods are Ready.
    ``cluster.render(**config)`` renders it again with further overrides, for ``harness.apply``.
    """

    def start(replicas: int, harness_options: dict | None = None, **config) -> Cluster:
        def render_again(**changes):
            return render("dev", reveal_secrets=True, flavor=FLAVOR, version=VERSION,
                          replicas=replicas, **{**config, **changes})

        harness = statefulset_harness(render_again(), **(harness_options or {}))
        harness.start_statefulset(replicas)
        cluster = Cluster(harness)
        cluster.render = render_again
        server = harness.run_sql(cluster.primary, "SELECT VERSION()")[0][0]
        if not server.startswith(VERSION + "."):
            pytest.fail(f"the scenarios need MariaDB {VERSION}; this machine has {server}", pytrace=False)
        return cluster

    return start
