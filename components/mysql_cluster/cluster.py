"""MySQLCluster: a replicated MySQL or MariaDB cluster on Kubernetes, as one Pulumi component.

No `from __future__ import annotations` here: Pulumi's component analyzer reads the annotations of
MySQLCluster's outputs at run time to infer the multi-language schema; its inputs are
MySQLClusterArgs (args.py, generated from the settings).
"""
from typing import Callable, Optional

import pulumi
import pulumi_random as random
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.networking import v1 as networking
from pulumi_kubernetes.policy import v1 as policy

from . import monitoring
from .agent_config_map import agent_config_map, agent_digest
from .agent_container import PRIMARY_PORT_NAME
from .args import MySQLClusterArgs
from .backups import backup_cron_job, pod_additions
from .dashboard import dashboard_config_map
from .exporter import metrics_secret
from .names import ClusterNames
from .network_policy import database_network_policy_spec
from .pod_spec import CREDENTIAL_KEYS, ROLE_KEY, ROLE_KEY_LENGTH, PodSettings
from .pod_template import BACKUP_PORT, MYSQL_PORT, data_volume_claim, database_pod_template
from .restore_drill import restore_drill_cron_job
from .scale_in_guard import primary_annotation, scale_in_guard
from .scripts_config_map import scripts_config_map, scripts_digest
from .server_option_files import cnf_files, with_checked_server_options
from .settings import PASSWORD_SETTINGS, ClusterSettings, validated
from .supported_servers import Server, server_for
from .switchover import switchover_job, switchover_network_policy
from .tls import check_tls_settings, tls_enabled, tls_secret
from .topology import topology_config_map
from .volume_growth import STATEFULSET_IGNORED_CHANGES, data_claim_patches


def _images(server: Server, settings: ClusterSettings) -> tuple[str, str]:
    return (settings.server_image or server.server_image,
            settings.backup_image or server.backup_image)


class MySQLCluster(pulumi.ComponentResource):
    """A primary (pod 0) and read replicas that each clone the pod before them and then
    replicate from the primary."""

    primary_host: pulumi.Output[str]
    """DNS name for writes: the Service that selects pod 0 only."""
    read_host: pulumi.Output[str]
    """DNS name for reads: the Service that balances over every ready pod."""
    port: pulumi.Output[int]
    """The server port of both Services."""
    namespace: pulumi.Output[str]
    """Namespace of every resource of the cluster."""
    stateful_set_name: pulumi.Output[str]
    """Name of the StatefulSet (its pods are <name>-0, <name>-1, ...)."""
    headless_service_name: pulumi.Output[str]
    """Name of the headless Service that gives each pod a stable DNS name."""
    read_service_name: pulumi.Output[str]
    """Name of the Service for reads."""
    primary_service_name: pulumi.Output[str]
    """Name of the Service for writes (pod 0 only)."""
    credentials_secret_name: pulumi.Output[str]
    """Name of the Secret with the passwords (app-password for the application user)."""

    def __init__(self, name: str, args: MySQLClusterArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        # Everything is checked before the first resource is registered.
        settings = validated({"name": name, **args})
        monitoring.check_monitoring_settings(settings)
        server = server_for(settings.flavor, settings.version)
        settings = with_checked_server_options(settings, server)
        server_image, backup_image = _images(server, settings)
        check_tls_settings(settings)
        super().__init__("mysql-cluster:index:MySQLCluster", name, None, opts)

        names = ClusterNames(name, settings.namespace, settings.cluster_domain)
        child = pulumi.ResourceOptions(parent=self)

        def metadata(resource_name: str,
                     annotations: Optional[dict[str, str]] = None) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=resource_name, namespace=names.namespace,
                                       labels=names.labels, annotations=annotations or None)

        server_cnf = cnf_files(server, settings)
        config_map = core.ConfigMap(
            f"{name}-config",
            metadata=metadata(names.config_map),
            data=server_cnf,
            opts=child,
        )
        topology = topology_config_map(f"{name}-topology", metadata(names.topology_config_map),
                                       settings, child)
        # The StatefulSet names it (an Output), so Pulumi creates it first and deletes a replaced
        # one only after the StatefulSet has moved on to its successor.
        scripts = scripts_config_map(
            f"{name}-scripts", metadata(names.scripts_config_map(scripts_digest())), child)
        agent = agent_config_map(
            f"{name}-agent", metadata(names.agent_config_map(agent_digest())), child)
        secret_name = self._credentials_secret(name, names, settings, metadata, child)
        tls_secret_name = tls_secret(name, names, settings, metadata, child)

        headless = core.Service(
            f"{name}-headless",
            metadata=metadata(names.headless_service),
            spec=core.ServiceSpecArgs(
                cluster_ip="None",
                # Peers must resolve a pod before it is ready: a new replica clones from one.
                publish_not_ready_addresses=True,
                selector=names.selector_labels,
                ports=[core.ServicePortArgs(name="mysql", port=MYSQL_PORT),
                       core.ServicePortArgs(name="backup", port=BACKUP_PORT)],
            ),
            opts=child,
        )
        read = self._client_service(
            f"{name}-read",
            metadata(names.read_service, settings.read_service_annotations),
            settings.read_service_type, names.selector_labels, child)

        metrics_secret_name = None
        if settings.metrics:
            metrics_secret_name = metrics_secret(
                name, names, MYSQL_PORT, tls_enabled(settings), child).metadata.name
            monitoring.metrics_service(name, names, child)
        pod = PodSettings(names=names, server=server, server_image=server_image,
                          backup_image=backup_image, secret_name=secret_name,
                          config_map_name=config_map.metadata.name, server_cnf=server_cnf,
                          topology_config_map_name=topology.metadata.name,
                          scripts_config_map_name=scripts.metadata.name,
                          agent_config_map_name=agent.metadata.name, settings=settings,
                          tls_secret_name=tls_secret_name,
                          metrics_secret_name=metrics_secret_name)
        statefulset = apps.StatefulSet(
            f"{name}-statefulset",
            metadata=metadata(names.statefulset, primary_annotation(settings.primary_ordinal)),
            spec=apps.StatefulSetSpecArgs(
                service_name=headless.metadata.name,
                replicas=settings.replicas,
                # Each replica clones from the pod before it, which must be up and serving.
                pod_management_policy="OrderedReady",
                update_strategy=apps.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                selector=meta.LabelSelectorArgs(match_labels=names.selector_labels),
                template=database_pod_template(pod, pod_additions(pod)),
                volume_claim_templates=[data_volume_claim(pod)],
                # A replica removed by scaling in would come back with stale data: drop its
                # volume so that scaling out again clones afresh. Deleting the cluster keeps all.
                persistent_volume_claim_retention_policy=(
                    apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                        when_scaled="Delete", when_deleted="Retain")),
            ),
            # Cloning a large database takes longer than the provider's 10 minute default.
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(
                parent=self, custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m"),
                ignore_changes=STATEFULSET_IGNORED_CHANGES), scale_in_guard(
                    f"{name}-statefulset", settings.replicas, settings.primary_ordinal)),
        )
        backup_cron_job(f"{name}-backup", pod, child)
        restore_drill_cron_job(f"{name}-restore-drill", pod, child)
        data_claim_patches(name, names, settings, parent=self)
        # The primary moves first (the Job waits for every pod), then the Service follows it.
        switchover = switchover_job(f"{name}-switchover", pod, pulumi.ResourceOptions(
            parent=self, depends_on=[statefulset]))
        switchover_network_policy(f"{name}-switchover-network-policy", pod, child)
        # With automaticFailover the primary may move without `pulumi up`: the Service selects
        # every pod and each pod's agent forwards to the writable server (PRIMARY_PORT).
        primary = self._client_service(
            f"{name}-primary",
            metadata(names.primary_service, settings.primary_service_annotations),
            settings.primary_service_type,
            names.selector_labels if settings.automatic_failover else
            {**names.selector_labels, "statefulset.kubernetes.io/pod-name": names.pod(settings.primary_ordinal)},
            pulumi.ResourceOptions(parent=self, depends_on=[switchover]),
            target_port=PRIMARY_PORT_NAME if settings.automatic_failover else "mysql")
        policy.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata(names.cluster),
            spec=policy.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=meta.LabelSelectorArgs(match_labels=names.selector_labels),
            ),
            opts=child,
        )
        networking.NetworkPolicy(
            f"{name}-network-policy",
            metadata=metadata(names.cluster),
            spec=database_network_policy_spec(names, settings),
            opts=child,
        )
        if settings.service_monitor:
            monitoring.service_monitor(name, names, settings.prometheus_labels, child)
        if settings.prometheus_rule:
            monitoring.prometheus_rule(name, names, settings, child)
        if settings.grafana_dashboard:
            dashboard_config_map(name, names, settings, child)

        def host(service: core.Service) -> pulumi.Output[str]:
            return pulumi.Output.concat(service.metadata.name, ".", service.metadata.namespace,
                                        ".svc.", names.cluster_domain)

        self.primary_host = host(primary)
        self.read_host = host(read)
        self.port = pulumi.Output.from_input(MYSQL_PORT)
        self.namespace = statefulset.metadata.namespace
        self.stateful_set_name = statefulset.metadata.name
        self.headless_service_name = headless.metadata.name
        self.read_service_name = read.metadata.name
        self.primary_service_name = primary.metadata.name
        self.credentials_secret_name = pulumi.Output.from_input(secret_name)
        self.register_outputs({
            "primary_host": self.primary_host,
            "read_host": self.read_host,
            "port": self.port,
            "namespace": self.namespace,
            "stateful_set_name": self.stateful_set_name,
            "headless_service_name": self.headless_service_name,
            "read_service_name": self.read_service_name,
            "primary_service_name": self.primary_service_name,
            "credentials_secret_name": self.credentials_secret_name,
        })

    @staticmethod
    def _client_service(resource_name: str, metadata: meta.ObjectMetaArgs, service_type: str,
                        selector: dict[str, str], opts: pulumi.ResourceOptions,
                        target_port: str = "mysql") -> core.Service:
        return core.Service(
            resource_name,
            metadata=metadata,
            spec=core.ServiceSpecArgs(
                # ClusterIP is the API's default: left out, existing Services see no change.
                type=None if service_type == "ClusterIP" else service_type,
                selector=selector,
                ports=[core.ServicePortArgs(name="mysql", port=MYSQL_PORT, target_port=target_port)],
            ),
            opts=opts,
        )

    def _credentials_secret(self, name: str, names: ClusterNames, settings: ClusterSettings,
                            metadata: Callable[[str], meta.ObjectMetaArgs],
                            opts: pulumi.ResourceOptions) -> pulumi.Input[str]:
        """The Secret the pods read passwords from: the user's own, or one made here."""
        if settings.existing_secret:
            return settings.existing_secret
        passwords = {}
        for setting in PASSWORD_SETTINGS:
            value = getattr(settings, setting.arg)
            if setting.arg == "backup_key" and not settings.backup_target:
                continue  # no backups to encrypt
            if value is None:
                value = random.RandomPassword(
                    f"{name}-{CREDENTIAL_KEYS[setting.arg]}", length=32, special=False,
                    opts=opts).result
            passwords[CREDENTIAL_KEYS[setting.arg]] = pulumi.Output.secret(value)
        passwords[ROLE_KEY] = pulumi.Output.secret(random.RandomPassword(
            f"{name}-{ROLE_KEY}", length=ROLE_KEY_LENGTH, special=False, opts=opts).result)
        secret = core.Secret(
            f"{name}-credentials",
            metadata=metadata(names.credentials_secret),
            type="Opaque",
            string_data=passwords,
            opts=opts,
        )
        return secret.metadata.name
