"""What `pulumi preview --policy-pack policy` runs: serves the pack's policies to the engine."""
from pulumi_policy import EnforcementLevel, PolicyPack

from cluster_policies import POLICIES

PolicyPack(
    name="mysql-cluster",
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
)
