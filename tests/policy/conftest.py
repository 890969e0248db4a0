"""The Pulumi CLI runs the pack from its directory, so its modules import each other by plain
name; the tests import them the same way."""
import sys

from stack_manifests import PROJECT_DIR

POLICY_DIR = PROJECT_DIR / "policy"
sys.path.insert(0, str(POLICY_DIR))
