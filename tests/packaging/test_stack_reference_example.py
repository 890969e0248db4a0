"""examples/stack-reference: a second stack reads this stack's outputs through a StackReference
and runs an application configured with them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from mysql_cluster.tooling import mock_runtime
from mysql_cluster.tooling.render import stack_config

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "stack-reference"

# What `pulumi stack output` shows for the dev stack of this project (see __main__.py).
DATABASE_STACKS = {
    "acme/mysql-cluster/dev": {
        "primaryHost": "mysql-primary.mysql-dev.svc.cluster.local",
        "readHost": "mysql-read.mysql-dev.svc.cluster.local",
        "port": 3306,
        "namespace": "mysql-dev",
        "credentialsSecretName": "mysql-credentials",
    },
}


class _StackOutputs(mock_runtime.RecordingMocks):
    """Answers a StackReference with the outputs of the stack it names."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == "pulumi:pulumi:StackReference":
            return args.name, {"name": args.name, "outputs": DATABASE_STACKS[args.name]}
        return super().new_resource(args)


@pytest.fixture
def deployment() -> dict[str, Any]:
    project, config, secret_keys = stack_config(EXAMPLE_DIR, "dev")
    resources = mock_runtime.run_program(EXAMPLE_DIR / "__main__.py", project, "dev", config,
                                         secret_keys, _StackOutputs())
    (deployment,) = [r.inputs for r in resources if r.type == "kubernetes:apps/v1:Deployment"]
    return deployment


def test_the_application_runs_in_the_database_namespace(deployment):
    assert deployment["metadata"]["namespace"] == "mysql-dev"


def test_the_application_connects_to_the_hosts_and_port_the_database_stack_exports(deployment):
    env = {var["name"]: var for var in
           deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DB_WRITE_HOST"]["value"] == "mysql-primary.mysql-dev.svc.cluster.local"
    assert env["DB_READ_HOST"]["value"] == "mysql-read.mysql-dev.svc.cluster.local"
    assert env["DB_PORT"]["value"] == "3306"
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "mysql-credentials", "key": "app-password"}
