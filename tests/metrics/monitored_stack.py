"""The dev stack with every signal on (exporters, PrometheusRule, dashboard, backups, a
cert-manager certificate), the PromQL its alerts and dashboard carry, and the metric names that
PromQL reads, for the tests that hold those names against what their sources expose."""
from __future__ import annotations

import json
import re
from functools import cache

from mysql_cluster.dashboard import DASHBOARD_FILE
from mysql_cluster.tooling.render import render_stack
from stack_manifests import PROJECT_DIR, Manifests, find

NAMESPACE, CLUSTER = "mysql-dev", "mysql"
MAX_LAG = 30
ALERT_SECONDS = 600
CONFIG = {
    "metrics": "true", "serviceMonitor": "true", "prometheusRule": "true",
    "grafanaDashboard": "true", "maxReplicationLagSeconds": str(MAX_LAG),
    "flavor": "mariadb", "backupTarget": "s3", "backupS3Bucket": "db-backups", "backupS3Secret": "s3-keys",
    "backupSchedule": "30 2 * * *", "backupAlertSeconds": str(ALERT_SECONDS),
    "tlsSource": "cert-manager", "tlsIssuer": "cluster-ca"}


@cache
def _manifests(flavor: str) -> str:
    return json.dumps(render_stack(PROJECT_DIR, "dev", {**CONFIG, "flavor": flavor}))


def manifests(flavor: str = "mariadb") -> Manifests:
    return json.loads(_manifests(flavor))


def rule_groups() -> list[dict]:
    return find(manifests(), "PrometheusRule")["spec"]["groups"]


def dashboard(flavor: str = "mariadb") -> dict:
    return json.loads(find(manifests(flavor), "ConfigMap", f"{CLUSTER}-dashboard")["data"][DASHBOARD_FILE])


def alert_expressions() -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for group in rule_groups() for rule in group["rules"]}


def panel_expressions(flavor: str = "mariadb") -> dict[str, str]:
    """Every query of the `flavor` cluster's dashboard, by panel title and query letter."""
    return {f"{panel['title']} ({target['refId']})": target["expr"]
            for panel in dashboard(flavor)["panels"] for target in panel["targets"]}


def every_panel_expression() -> dict[str, str]:
    """Every query of both flavors' dashboards (they differ in what shows a clone)."""
    return {**panel_expressions("mysql"), **panel_expressions("mariadb")}


# PromQL's words that look like names but are not metrics.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME_MATCHER = re.compile(r'__name__\s*=~\s*"([^"]*)"')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^}]*\}")
# A name not right after a digit (600s) or a dot, and not a function's (followed by "(").
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")


def metric_names(expr: str) -> tuple[set[str], set[str]]:
    """The metric names `expr` reads: (names, regular expressions of names)."""
    patterns = set(_NAME_MATCHER.findall(expr))
    bare = _BRACES.sub(" ", _STRING.sub('""', _GROUPING.sub(" ", expr)))
    names = {name for name in _IDENTIFIER.findall(bare) if name.lower() not in _KEYWORDS}
    return names, patterns
