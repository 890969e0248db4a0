"""The dashboard's queries parse as PromQL (Prometheus's own parser, through `promtool check
rules`), and every metric the alerts and the dashboard read, outside the exporter's, is one its
source really exposes (upstream_metrics.py). The exporter's names are held against a real
exporter in test_exporter_real_servers.py."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .monitored_stack import alert_expressions, every_panel_expression, metric_names
from .upstream_metrics import BY_PREFIX, EXPORTER_PREFIX, PROMETHEUS, is_exporter_metric

EXPRESSIONS = {**{f"alert {name}": expr for name, expr in alert_expressions().items()},
               **{f"panel {name}": expr for name, expr in every_panel_expression().items()}}


def test_every_dashboard_query_parses_as_promql(tmp_path: Path):
    # Each query as a recording rule: promtool parses every expression of a rule file.
    path = tmp_path / "panels.yaml"
    queries = every_panel_expression()
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{number}", "expr": expr}
        for number, expr in enumerate(queries.values())]}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_a_query_naming_an_unknown_metric_is_caught(tmp_path: Path):
    names, _ = metric_names('max by (pod) (kube_pod_status_redy{namespace="x"}) or up')
    assert names - BY_PREFIX["kube_"] - PROMETHEUS == {"kube_pod_status_redy"}


@pytest.mark.parametrize("what", sorted(EXPRESSIONS))
def test_every_metric_outside_the_exporter_is_one_its_source_exposes(what):
    names, patterns = metric_names(EXPRESSIONS[what])
    assert names or patterns, f"{what} reads no metric"
    for name in names - PROMETHEUS:
        if is_exporter_metric(name):
            continue
        known = next((listed for prefix, listed in BY_PREFIX.items()
                      if name.startswith(prefix)), None)
        assert known is not None, f"{what}: {name} belongs to no known source"
        assert name in known, f"{what}: {name} is not a metric of its source"
    assert all(pattern.startswith(EXPORTER_PREFIX) for pattern in patterns)
