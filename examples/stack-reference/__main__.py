"""An application that finds its database through the outputs of a mysql-cluster stack.

The application runs in the database's namespace: a pod can only read Secrets of its own
namespace, and the cluster's NetworkPolicy admits clients from there (other namespaces must be
listed in the database stack's allowedClientNamespaces).
"""
import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

config = pulumi.Config()
database = pulumi.StackReference(config.require("databaseStack"))
namespace = database.require_output("namespace")


def env(name: str, value: pulumi.Input[str]) -> core.EnvVarArgs:
    return core.EnvVarArgs(name=name, value=value)


labels = {"app.kubernetes.io/name": "orders-api"}
deployment = apps.Deployment(
    "orders-api",
    metadata=meta.ObjectMetaArgs(namespace=namespace, labels=labels),
    spec=apps.DeploymentSpecArgs(
        replicas=2,
        selector=meta.LabelSelectorArgs(match_labels=labels),
        template=core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(labels=labels),
            spec=core.PodSpecArgs(containers=[core.ContainerArgs(
                name="api",
                image=config.require("image"),
                env=[
                    # Writes go to the primary (pod 0); reads may go to any ready pod.
                    env("DB_WRITE_HOST", database.require_output("primaryHost")),
                    env("DB_READ_HOST", database.require_output("readHost")),
                    # Stack outputs carry numbers as floats.
                    env("DB_PORT", database.require_output("port").apply(lambda port: str(int(port)))),
                    env("DB_NAME", config.require("databaseName")),
                    env("DB_USER", config.require("databaseUser")),
                    core.EnvVarArgs(name="DB_PASSWORD", value_from=core.EnvVarSourceArgs(
                        secret_key_ref=core.SecretKeySelectorArgs(
                            name=database.require_output("credentialsSecretName"),
                            key="app-password"))),
                ],
            )]),
        ),
    ),
)

pulumi.export("namespace", deployment.metadata.namespace)
pulumi.export("deployment", deployment.metadata.name)
