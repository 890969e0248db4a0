"""transferBufferBytes sets socat's block size (-b) on both ends of a clone's stream: the
receiving clone-mysql and the backup sidecar that serves it."""
from __future__ import annotations

import pytest

pytest_plugins = ["pod_fixtures"]

BUFFER = 65536  # not the default (1048576), so the value can only come from the config


@pytest.mark.parametrize(("container", "ordinal"), [("clone-mysql", 2), ("backup", 0)],
                         ids=["receiver", "sender"])
def test_transfer_buffer_bytes_is_socats_block_size(make_pod, container, ordinal):
    pod = make_pod("mariadb 10.11", ordinal, transferBufferBytes=BUFFER)
    (pod.volume("client-options") / "role-taken").touch()  # the sender serves once it has its role
    run = pod.run(container)
    assert run.settled, run.stderr
    [socat] = run.argvs("socat")
    assert f"-b{BUFFER}" in socat
