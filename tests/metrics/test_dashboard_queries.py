"""The dashboard's queries, evaluated by Prometheus's own engine (`promtool test rules`, its
`promql_expr_test`) on the series of a modelled cluster (series_model.py): each panel shows what
it says, for a healthy cluster and for the change it is there to show."""
from __future__ import annotations

from pathlib import Path

import yaml

from .monitored_stack import CLUSTER, NAMESPACE, panel_expressions
from .series_model import (
    BACKUP, DRILL, EVALUATED_AT, MINUTES, PODS, SCHEDULE_MINUTES, cron_job_series,
    DAY, each_minute, healthy_cluster, heartbeat, kube_pod, loaded_certificate_expiry, promtool,
    read_endpoint, recovery_point, scraped, then)

QUERIES = panel_expressions()
MYSQL_QUERIES = panel_expressions("mysql")


def evaluate(tmp_path: Path, series: dict[str, str], query: str,
             samples: dict[str, float]) -> None:
    """promtool evaluates `query` at the end of `series`: exactly `samples` (labels -> value)."""
    test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "promql_expr_test": [{"expr": query, "eval_time": f"{MINUTES - 1}m", "exp_samples": [
            {"labels": labels, "value": value} for labels, value in samples.items()]}]}]}
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def per_pod(values: dict[str, float], namespace: bool = False) -> dict[str, float]:
    extra = f'namespace="{NAMESPACE}", ' if namespace else ""
    return {f'{{{extra}pod="{pod}"}}': value for pod, value in values.items()}


def test_the_lag_panel_shows_each_pods_heartbeat_age_and_a_replica_falling_behind(tmp_path):
    series = healthy_cluster()
    series[heartbeat("stored", PODS[2])] = each_minute(lambda minute: min(minute * 60 - 1, 299))
    evaluate(tmp_path, series, QUERIES["Replication lag by heartbeat (A)"], per_pod(
        {PODS[0]: 1, PODS[1]: 1, PODS[2]: EVALUATED_AT - 299}, namespace=True))


def test_the_primary_panel_shows_the_one_server_accepting_writes(tmp_path):
    evaluate(tmp_path, healthy_cluster(), QUERIES["Primary: servers accepting writes (A)"],
             per_pod({PODS[0]: 1, PODS[1]: 0, PODS[2]: 0}))


def test_the_primary_panel_shows_two_writers_at_once(tmp_path):
    series = healthy_cluster()
    series[scraped("mysql_global_variables_read_only", PODS[1])] = then(1, 0)
    evaluate(tmp_path, series, QUERIES["Primary: servers accepting writes (A)"],
             per_pod({PODS[0]: 1, PODS[1]: 1, PODS[2]: 0}))


def test_the_read_endpoint_panel_names_the_ready_members_by_pod(tmp_path):
    # The finished backup pod that once had mysql-2's IP is not taken for it.
    series = healthy_cluster()
    series[read_endpoint(PODS[1])] = then(1, "_")
    evaluate(tmp_path, series, QUERIES["Read endpoint members (A)"],
             per_pod({PODS[0]: 1, PODS[2]: 1}, namespace=True))


def test_the_cloning_panel_shows_the_pod_whose_clone_runs(tmp_path):
    series = healthy_cluster()
    series[kube_pod("init_container_status_running", PODS[2], ',container="clone-mysql"')] = \
        then(0, 1)
    evaluate(tmp_path, series, QUERIES["Pods cloning (A)"],
             per_pod({PODS[0]: 0, PODS[1]: 0, PODS[2]: 1}))


def test_the_mysql_clone_panel_shows_the_share_each_cloning_pod_has_copied(tmp_path):
    # The agent serves the gauges only while its server clones: pod 2 from minute 5 on; pod 1's
    # server has not estimated its clone yet.
    series = healthy_cluster()
    series[scraped("mysql_cluster_clone_copied_bytes", PODS[2])] = then("_", 3 * 2**30)
    series[scraped("mysql_cluster_clone_estimated_bytes", PODS[2])] = then("_", 4 * 2**30)
    series[scraped("mysql_cluster_clone_copied_bytes", PODS[1])] = then("_", 0)
    series[scraped("mysql_cluster_clone_estimated_bytes", PODS[1])] = then("_", 0)
    evaluate(tmp_path, series, MYSQL_QUERIES["Clone progress (A)"], per_pod({PODS[2]: 0.75}, namespace=True))


def test_the_servers_panel_shows_a_server_that_stopped_answering(tmp_path):
    series = healthy_cluster()
    series[scraped("mysql_up", PODS[1])] = then(1, 0)
    evaluate(tmp_path, series, QUERIES["Servers answering (A)"],
             per_pod({PODS[0]: 1, PODS[1]: 0, PODS[2]: 1}))


def test_the_free_space_panel_shows_each_data_claim(tmp_path):
    evaluate(tmp_path, healthy_cluster(), QUERIES["Data volume free space (A)"], {
        f'kubelet_volume_stats_available_bytes{{job="kubelet", namespace="{NAMESPACE}", '
        f'persistentvolumeclaim="data-{pod}"}}': 6e9 for pod in PODS})


def test_the_backup_panel_shows_the_time_since_each_newest_success(tmp_path):
    # The model's runs start every SCHEDULE_MINUTES and succeed a minute later; the drill's
    # stopped succeeding after its first run.
    series = healthy_cluster()
    series.update(cron_job_series(DRILL, succeeding=lambda run: run == 0))
    newest_backup = ((MINUTES - 2) // SCHEDULE_MINUTES * SCHEDULE_MINUTES + 1) * 60
    title = "Newest successful backup and restore drill"
    for query, cron_job, age in ((f"{title} (A)", BACKUP, EVALUATED_AT - newest_backup),
                                 (f"{title} (B)", DRILL, EVALUATED_AT - 60)):
        evaluate(tmp_path, series, QUERIES[query], {
            f'{{cronjob="{cron_job}", job="kube-state-metrics", namespace="{NAMESPACE}"}}': age})


def test_the_recovery_point_panel_shows_how_old_the_archive_is(tmp_path):
    series = healthy_cluster()
    name, values = recovery_point(PODS[0], lambda minute: min(minute * 60 - 300, 240))
    series[name] = values
    evaluate(tmp_path, series, QUERIES["Recovery point age (A)"],
             {f'{{namespace="{NAMESPACE}"}}': EVALUATED_AT - 240})


def test_the_certificate_panel_shows_each_servers_time_left(tmp_path):
    series = healthy_cluster()
    name, values = loaded_certificate_expiry(PODS[2], 10 * DAY)
    series[name] = values
    evaluate(tmp_path, series, QUERIES["Certificate time left (A)"],
             per_pod({PODS[0]: 60 * DAY, PODS[1]: 60 * DAY, PODS[2]: 10 * DAY}))


def test_every_panel_query_is_evaluated_here():
    tested = {"Replication lag by heartbeat (A)", "Primary: servers accepting writes (A)",
              "Read endpoint members (A)", "Pods cloning (A)", "Servers answering (A)",
              "Data volume free space (A)", "Newest successful backup and restore drill (A)",
              "Newest successful backup and restore drill (B)", "Recovery point age (A)",
              "Certificate time left (A)"}
    assert set(QUERIES) == tested
    # A MySQL pod clones in its agent, which counts its bytes; a MariaDB pod in an init container.
    assert set(MYSQL_QUERIES) == tested - {"Pods cloning (A)"} | {"Clone progress (A)"}
    assert CLUSTER in QUERIES["Read endpoint members (A)"]
