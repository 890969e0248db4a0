"""A real server for the agent's tests, from the trees tests/e2e runs its pods on (started the way
tests/scripts/real_servers.py starts them), with binary logs and GTIDs as in the pods."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from real_servers import RealServer, start_server  # noqa: E402

from e2e.server_roots import ServerRootError  # noqa: E402

SERVERS = ("mysql 9.7", "mariadb 11.8")


@contextmanager
def running_server(name: str, options: str, setup_sql: str) -> Iterator[RealServer]:
    """Server `name` ("mysql 9.7") with `options` (my.cnf lines) and GTIDs on, after `setup_sql`
    ran as root; stopped afterwards. A server that cannot start fails the test, naming why."""
    try:
        real = start_server(name, options + ("" if name.startswith("mariadb") else
                                             "gtid-mode=ON\nenforce-gtid-consistency=ON\n"))
    except (ServerRootError, OSError, subprocess.SubprocessError) as error:
        pytest.fail(f"{name}: {error}", pytrace=False)
    try:
        outcome = real.run(setup_sql)
        assert outcome.error is None, outcome.error
        yield real
    finally:
        real.stop()
