"""What `pulumi preview --policy-pack policy` runs: serves the pack's policies to the engine."""
from cluster_policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="mysql-cluster",
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
)
