"""Pulumi `transforms` on the component reach the Kubernetes objects it creates: the escape hatch
docs/reuse.md documents, run exactly as written there."""
from __future__ import annotations

import re

import pulumi

from .conftest import PROJECT_DIR

REUSE = PROJECT_DIR / "docs" / "reuse.md"


def documented_example() -> str:
    """The Python block of docs/reuse.md's section on transforms."""
    section = REUSE.read_text(encoding="utf-8").split("## Changing anything else: transforms")[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def run_documented_example(mock_monitor) -> dict:
    @pulumi.runtime.test
    def run():
        exec(compile(documented_example(), str(REUSE), "exec"), {"__name__": "__main__"})

    run()
    return mock_monitor.mocks.inputs


def test_documented_transform_admits_the_client_network_on_the_server_port(mock_monitor):
    policy = run_documented_example(mock_monitor)["orders-network-policy"]
    server_rule, backup_rule, agent_rule = policy["spec"]["ingress"]
    assert server_rule["from"][-1] == {"ipBlock": {"cidr": "10.20.0.0/16"}}
    assert {"ipBlock": {"cidr": "10.20.0.0/16"}} not in backup_rule["from"]
    assert {"ipBlock": {"cidr": "10.20.0.0/16"}} not in agent_rule["from"]

