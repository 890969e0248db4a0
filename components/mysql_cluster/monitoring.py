"""How Prometheus finds the exporters (and the agents' metrics ports, agent_metrics.py) and what it alerts on: a headless metrics Service, and,
when asked for, the Prometheus Operator's ServiceMonitor and PrometheusRule (the dashboard's
ConfigMap is dashboard.py's).

The custom resources are created only when enabled, since they need the operator's CRDs.
"""
from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from .agent_metrics import AGENT_METRICS_PORT
from .agent_metrics import PORT_NAME as AGENT_METRICS_PORT_NAME
from .alerts import rule_groups
from .exporter import METRICS_PORT
from .names import ClusterNames
from .settings import BY_ARG, ClusterSettings, ConfigError

MONITORING_API = "monitoring.coreos.com/v1"
SCRAPE_INTERVAL = "30s"


def check_monitoring_settings(settings: ClusterSettings) -> None:
    """Each monitoring key needs the one it builds on; said before anything is registered."""
    needs = (("service_monitor", "metrics", "it needs the exporters"),
             ("prometheus_rule", "service_monitor", "its alerts read the ServiceMonitor's job"),
             ("prometheus_labels", "service_monitor",
              "they label the ServiceMonitor and PrometheusRule"),
             ("metrics_client_namespaces", "metrics",
              "they may scrape the metrics port, which is closed without the exporters"),
             ("grafana_dashboard", "metrics", "its panels read the exporters' series"))
    for arg, required, why in needs:
        if getattr(settings, arg) and not getattr(settings, required):
            setting, other = BY_ARG[arg], BY_ARG[required].key
            raise ConfigError(setting, getattr(settings, arg),
                              f"{why}; set {other} to true, or leave {setting.key} unset")


def _selector_labels(names: ClusterNames) -> dict[str, str]:
    # The component label sets this Service apart from the cluster's other Services.
    return {**names.selector_labels, "app.kubernetes.io/component": "metrics"}


def metrics_service(name: str, names: ClusterNames, opts: pulumi.ResourceOptions) -> core.Service:
    return core.Service(
        f"{name}-metrics",
        metadata=meta.ObjectMetaArgs(
            name=names.metrics_service, namespace=names.namespace,
            labels={**names.labels, **_selector_labels(names)}),
        spec=core.ServiceSpecArgs(
            cluster_ip="None",
            # A replica that lags or does not replicate is unready: those are the pods whose
            # metrics matter most, so they stay targets.
            publish_not_ready_addresses=True,
            selector=names.selector_labels,
            ports=[core.ServicePortArgs(name="metrics", port=METRICS_PORT,
                                        target_port="metrics"),
                   core.ServicePortArgs(name=AGENT_METRICS_PORT_NAME, port=AGENT_METRICS_PORT,
                                        target_port=AGENT_METRICS_PORT_NAME)],
        ),
        opts=opts,
    )


def _custom_resource(resource_name: str, kind: str, names: ClusterNames, extra_labels: list[str],
                     spec: dict[str, Any], opts: pulumi.ResourceOptions) -> CustomResource:
    labels = dict(label.split("=", 1) for label in extra_labels)
    return CustomResource(
        resource_name,
        api_version=MONITORING_API,
        kind=kind,
        metadata={"name": names.cluster, "namespace": names.namespace,
                  "labels": {**names.labels, **labels}},
        spec=spec,
        opts=opts,
    )


def service_monitor(name: str, names: ClusterNames, extra_labels: list[str],
                    opts: pulumi.ResourceOptions) -> CustomResource:
    return _custom_resource(f"{name}-service-monitor", "ServiceMonitor", names, extra_labels, {
        "selector": {"matchLabels": _selector_labels(names)},
        "namespaceSelector": {"matchNames": [names.namespace]},
        # Both ports of each pod under the Service's job: the exporter's and the agent's.
        "endpoints": [{"port": port, "path": "/metrics", "interval": SCRAPE_INTERVAL}
                      for port in ("metrics", AGENT_METRICS_PORT_NAME)],
    }, opts)


def prometheus_rule(name: str, names: ClusterNames, settings: ClusterSettings,
                    opts: pulumi.ResourceOptions) -> CustomResource:
    return _custom_resource(f"{name}-prometheus-rule", "PrometheusRule", names,
                            settings.prometheus_labels,
                            {"groups": rule_groups(names, settings)}, opts)
