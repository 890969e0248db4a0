"""pytest wiring for the end-to-end tests: the ``e2e`` marker, the server each test runs on,
and the harness fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from run_order import xdist_worker

from .cluster import Cluster
from .harness import StatefulSetHarness, host_problems
from .manifests import RenderedManifests
from .server_roots import DEFAULT_SERVERS, ServerRoot, ServerRootError, server_root, split_server

# The root tree of each server (e.g. mysql-9.7) the selected tests need, or why it cannot be had.
_ROOTS: dict[str, ServerRoot | Exception] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Builds (or finds) the servers' root trees before the first e2e test, outside any test's
    timeout: the first build of a Debian tree takes minutes."""
    if session.config.option.collectonly or host_problems():
        return  # the tests themselves report what the machine lacks
    servers = {item.callspec.params["server"] for item in session.items
               if "server" in getattr(getattr(item, "callspec", None), "params", {})}
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    # Under xdist every worker does this; a tree is built by one of them while the others wait
    # for it (a file lock, server_roots.py), so each worker starts with another tree.
    ordered = sorted(servers)
    if ordered:
        shift = xdist_worker()[0] % len(ordered)
        ordered = ordered[shift:] + ordered[:shift]
    for server in ordered:
        if reporter:
            reporter.write_line(f"e2e: root tree of {server} (built on first use)")
        try:
            _ROOTS[server] = server_root(server)
        except (ServerRootError, OSError) as error:
            _ROOTS[server] = error


def _root_of(server: str) -> ServerRoot:
    found = _ROOTS.get(server)
    if found is None:  # not prepared by the session (e.g. the harness run from elsewhere)
        try:
            found = _ROOTS[server] = server_root(server)
        except (ServerRootError, OSError) as error:  # OSError: e.g. no rights to the cache
            found = _ROOTS[server] = error
    if isinstance(found, Exception):
        pytest.fail(f"{server}: {found}", pytrace=False)
    return found


@pytest.fixture(params=DEFAULT_SERVERS, ids=str)
def server(request: pytest.FixtureRequest) -> str:
    """The server the test runs on (flavor-version, e.g. mysql-9.7): every e2e test runs on each
    flavor's default (DEFAULT_SERVERS), unless it names its own with
    ``@pytest.mark.parametrize("server", [...], indirect=True)``."""
    return request.param


@pytest.fixture
def root(server: str) -> ServerRoot:
    """The tree the test's server runs on."""
    return _root_of(server)


@pytest.fixture
def root_of() -> Callable[[str], ServerRoot]:
    """The tree of any server, e.g. the one a test upgrades to."""
    return _root_of


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # A failing test gets the pods' state and log tails while they still exist.
    if report.when == "call" and report.failed:
        for harness in getattr(item, "e2e_harnesses", []):
            report.sections.append(("e2e pods", harness.describe()))
    return report


@pytest.fixture
def statefulset_harness(request: pytest.FixtureRequest, tmp_path: Path, root: ServerRoot
                        ) -> Iterable[Callable[..., StatefulSetHarness]]:
    """Factory: ``statefulset_harness(manifests, **options)`` gives a running harness whose
    containers run on the test's server's root tree.

    manifests is a RenderedManifests, a list of dicts, or a YAML file path.
    Every harness made is closed when the test ends. The machine must be able
    to run it: a missing requirement fails the test, it is never skipped.
    """
    problems = host_problems(root)
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
        harness = StatefulSetHarness(manifests, tmp_path / f"harness-{len(made)}",
                                     **{"root": root, **options})
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
def mariadb_cluster(statefulset_harness, render, server: str) -> Callable[..., Cluster]:
    """Factory: ``mariadb_cluster(replicas, harness_options=None, **config)`` renders the
    component's dev stack for the test's server (flavor and version) with that many replicas and
    the given
    stack config overrides, starts its StatefulSet and returns the Cluster once all pods are
    Ready. ``cluster.render(**config)`` renders it again with further overrides, for
    ``harness.apply``.
    """

    flavor, version = split_server(server)

    def start(replicas: int, harness_options: dict | None = None, **config) -> Cluster:
        def render_again(**changes):
            return render("dev", reveal_secrets=True, flavor=flavor, version=version,
                          replicas=replicas, **{**config, **changes})

        harness = statefulset_harness(render_again(), **(harness_options or {}))
        harness.start_statefulset(replicas)
        cluster = Cluster(harness)
        cluster.render = render_again
        cluster.assert_version(version)
        return cluster

    return start
