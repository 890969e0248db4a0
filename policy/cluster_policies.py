"""The policies of the mysql-cluster pack, importable without starting the pack's server.

`PolicyPack` (in __main__.py) serves these policies to the Pulumi engine and never returns, so
the policies live here, where tests call their `validate` directly.

Every policy reads Kubernetes objects the way the engine hands them over: the manifest in wire
form (camelCase keys, with `apiVersion` and `kind`), wrapped in read-only mappings and
sequences, numbers as floats. Resource policies get one resource's inputs; stack policies get
every resource's outputs, which for Kubernetes objects have the same shape.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Iterable, Iterator, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from mysql_cluster.images import is_digest, split_image
from mysql_cluster.quantities import quantity_value

# Where each workload kind keeps the spec of its pods.
_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

# A pod is a database pod when one of its containers runs a MySQL-compatible server image
# (the last segment of the repository name, so bitnami/mysql and mysql/mysql-server count)
# or declares the MySQL port.
DATABASE_IMAGES = frozenset({"mysql", "mariadb", "mysql-server", "percona-server",
                             "percona-xtradb-cluster"})
MYSQL_PORT = 3306

# The official mysql and mariadb entrypoints (and Bitnami's) initialise a root account without
# a password when one of these is set; they test for a non-empty value, so even "no" or "0"
# switches it on.
EMPTY_PASSWORD_SWITCHES = ("MYSQL_ALLOW_EMPTY_PASSWORD", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
                           "ALLOW_EMPTY_PASSWORD")

REQUIRED_RESOURCES = (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))


# --- Reading Kubernetes objects --------------------------------------------------------------

def kind_of(resource_type: str) -> Optional[str]:
    """The kind in a Kubernetes type token (kubernetes:apps/v1:StatefulSet -> StatefulSet);
    None for other providers' types."""
    package, _, rest = resource_type.partition(":")
    return rest.rpartition(":")[2] if package == "kubernetes" else None


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The pod spec of a workload (a Pod or a controller's template); None for anything else."""
    path = _POD_SPEC_PATHS.get(kind_of(resource_type) or "")
    return _get(props, *path) if path else None


def containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]


def _pinning_problem(image: str) -> Optional[str]:
    _, tag, digest = split_image(image)
    if digest is not None:
        return None if is_digest(digest) else f"has a malformed digest {digest!r}"
    if tag is None:
        return "has neither a tag nor a digest"
    if tag == "latest":
        return "uses the tag latest, which moves with every release"
    return None


def is_database_pod(spec: Mapping[str, Any]) -> bool:
    for candidate in containers(spec):
        repository = split_image(candidate.get("image") or "")[0]
        if repository.rpartition("/")[2] in DATABASE_IMAGES:
            return True
        if any(_get(port, "containerPort") == MYSQL_PORT for port in candidate.get("ports") or ()):
            return True
    return False


def _may_run_as_root(pod_security: Mapping[str, Any], container_security: Mapping[str, Any]) -> bool:
    """The container's settings win over the pod's; without a user id the kubelet only refuses
    a root image user when runAsNonRoot is true."""
    user = _first_set(container_security.get("runAsUser"), pod_security.get("runAsUser"))
    if user is not None:
        return bool(user == 0)
    return _first_set(container_security.get("runAsNonRoot"),
                      pod_security.get("runAsNonRoot")) is not True


def _first_set(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("10Gi", "500M", "1e9", 3) as a number of units."""
    # The API server trims the spaces around a quantity in JSON, and numbers arrive as floats.
    return quantity_value(str(value).strip())


def selects(selector: Optional[Mapping[str, Any]], labels: Mapping[str, Any]) -> bool:
    """Whether a label selector matches `labels`. A missing selector matches nothing and an
    empty one everything, as for PodDisruptionBudgets and NetworkPolicies."""
    if selector is None:
        return False
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for requirement in selector.get("matchExpressions") or ():
        key, operator = requirement.get("key"), requirement.get("operator")
        values = list(requirement.get("values") or ())
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _namespace(props: Mapping[str, Any]) -> str:
    # Without one, an object goes to the provider's namespace, "default" unless configured.
    return _get(props, "metadata", "namespace") or "default"


def _describe(resource: PolicyResource) -> str:
    return (f"{kind_of(resource.resource_type)} "
            f"{_namespace(resource.props)}/{_get(resource.props, 'metadata', 'name')}")


def stack_name(args: StackValidationArgs) -> Optional[str]:
    """Stack policies are not told the stack's name, but every URN starts with it:
    urn:pulumi:<stack>::<project>::<type>::<name>."""
    for resource in args.resources:
        return resource.urn.split("::", 1)[0].rpartition(":")[2]
    return None


def _with_defaults(schema: PolicyConfigSchema, config: Mapping[str, Any]) -> dict[str, Any]:
    return {**{key: spec["default"] for key, spec in schema.properties.items()}, **config}


# --- Resource policies -----------------------------------------------------------------------

def _pod_containers(args: ResourceValidationArgs) -> list[Mapping[str, Any]]:
    spec = pod_spec(args.resource_type, args.props)
    return containers(spec) if spec is not None else []


def validate_image_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in _pod_containers(args):
        image = container.get("image") or ""
        problem = _pinning_problem(image)
        if problem:
            report_violation(f'container "{container.get("name")}": image "{image}" {problem}; '
                             "pin it to a release tag or a digest", None)


def validate_container_resources(args: ResourceValidationArgs,
                                 report_violation: ReportViolation) -> None:
    for container in _pod_containers(args):
        missing = [".".join(path) for path in REQUIRED_RESOURCES
                   if not _get(container, "resources", *path)]
        if missing:
            report_violation(f'container "{container.get("name")}" sets no resources '
                             f'{", ".join(missing)}', None)


def validate_no_empty_password(args: ResourceValidationArgs,
                               report_violation: ReportViolation) -> None:
    for container in _pod_containers(args):
        for variable in container.get("env") or ():
            if variable.get("name") in EMPTY_PASSWORD_SWITCHES:
                report_violation(f'container "{container.get("name")}" sets '
                                 f'{variable.get("name")}: the server would let root in without '
                                 "a password", None)


def validate_database_pod_hardened(args: ResourceValidationArgs,
                                   report_violation: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None or not is_database_pod(spec):
        return
    pod_security = spec.get("securityContext") or {}
    for container in containers(spec):
        security = container.get("securityContext") or {}
        name = container.get("name")
        if _may_run_as_root(pod_security, security):
            report_violation(f'container "{name}" may run as root: set runAsNonRoot: true or a '
                             "non-zero runAsUser in its or the pod's securityContext", None)
        if security.get("allowPrivilegeEscalation") is not False:
            report_violation(f'container "{name}" does not set allowPrivilegeEscalation: false', None)


STORAGE_CONFIG = PolicyConfigSchema(properties={
    "minStorage": {"type": "string", "default": "1Gi",
                   "description": "Smallest storage a volumeClaimTemplate may request."},
    "maxStorage": {"type": "string", "default": "1Ti",
                   "description": "Largest storage a volumeClaimTemplate may request."},
})


def validate_storage_bounds(args: ResourceValidationArgs,
                            report_violation: ReportViolation) -> None:
    if kind_of(args.resource_type) != "StatefulSet":
        return
    config = _with_defaults(STORAGE_CONFIG, args.get_config())
    smallest, largest = quantity(config["minStorage"]), quantity(config["maxStorage"])
    for template in _get(args.props, "spec", "volumeClaimTemplates") or ():
        claim = f'volumeClaimTemplate "{_get(template, "metadata", "name")}"'
        requested = _get(template, "spec", "resources", "requests", "storage")
        if requested is None:
            report_violation(f"{claim} requests no storage size", None)
            continue
        try:
            size = quantity(requested)
        except ValueError:
            report_violation(f'{claim} requests "{requested}", which is not a quantity', None)
            continue
        if size < smallest:
            report_violation(f"{claim} requests {requested}, below the minimum "
                             f"{config['minStorage']}", None)
        elif size > largest:
            report_violation(f"{claim} requests {requested}, above the maximum "
                             f"{config['maxStorage']}", None)


# --- Stack policies --------------------------------------------------------------------------

def _database_statefulsets(resources: Iterable[PolicyResource]) -> Iterator[PolicyResource]:
    for resource in resources:
        if kind_of(resource.resource_type) != "StatefulSet":
            continue
        spec = pod_spec(resource.resource_type, resource.props)
        if spec is not None and is_database_pod(spec):
            yield resource


def _pod_labels(statefulset: PolicyResource) -> Mapping[str, Any]:
    return _get(statefulset.props, "spec", "template", "metadata", "labels") or {}


def _covering(resources: Iterable[PolicyResource], kind: str, selector_path: tuple[str, ...],
              statefulset: PolicyResource) -> list[PolicyResource]:
    """The objects of `kind` in the StatefulSet's namespace whose selector picks its pods."""
    namespace, labels = _namespace(statefulset.props), _pod_labels(statefulset)
    return [resource for resource in resources
            if kind_of(resource.resource_type) == kind
            and _namespace(resource.props) == namespace
            and selects(_get(resource.props, *selector_path), labels)]


def _restricts_ingress(network_policy: PolicyResource) -> bool:
    # Without policyTypes a NetworkPolicy always governs ingress.
    types = _get(network_policy.props, "spec", "policyTypes")
    return types is None or "Ingress" in types


def validate_database_network_policy(args: StackValidationArgs,
                                     report_violation: ReportViolation) -> None:
    for statefulset in _database_statefulsets(args.resources):
        policies = _covering(args.resources, "NetworkPolicy", ("spec", "podSelector"), statefulset)
        if not any(_restricts_ingress(policy) for policy in policies):
            report_violation(f"{_describe(statefulset)} has no NetworkPolicy that selects its "
                             "pods and restricts their ingress", statefulset.urn)


def _restricts_egress(network_policy: PolicyResource) -> bool:
    # Without policyTypes a NetworkPolicy governs egress only if it has egress rules.
    types = _get(network_policy.props, "spec", "policyTypes")
    return "Egress" in types if types is not None else bool(
        _get(network_policy.props, "spec", "egress"))


# What an egress peer of these forms admits: every address there is.
_EVERY_ADDRESS = ("0.0.0.0/0", "::/0")


def _allows_every_connection(network_policy: PolicyResource) -> bool:
    """Whether an egress rule opens every port (no `ports`) to every address: no `to`, or a
    peer with an ipBlock of the whole address space and no exceptions, or every namespace."""
    for rule in _get(network_policy.props, "spec", "egress") or ():
        if rule.get("ports"):
            continue
        peers = rule.get("to")
        if not peers:
            return True
        for peer in peers:
            block = peer.get("ipBlock") or {}
            if block.get("cidr") in _EVERY_ADDRESS and not block.get("except"):
                return True
            if peer.get("namespaceSelector") == {} and not peer.get("podSelector"):
                return True
    return False


def validate_database_egress(args: StackValidationArgs,
                             report_violation: ReportViolation) -> None:
    for statefulset in _database_statefulsets(args.resources):
        policies = [policy for policy in _covering(
            args.resources, "NetworkPolicy", ("spec", "podSelector"), statefulset)
            if _restricts_egress(policy)]
        if not policies:
            report_violation(f"{_describe(statefulset)} has no NetworkPolicy that selects its "
                             "pods and restricts their egress", statefulset.urn)
        for policy in policies:
            if _allows_every_connection(policy):
                report_violation(f"{_describe(statefulset)}: {_describe(policy)} lets its pods "
                                 "connect to every address on every port", statefulset.urn)


def validate_database_disruption_budget(args: StackValidationArgs,
                                        report_violation: ReportViolation) -> None:
    for statefulset in _database_statefulsets(args.resources):
        if not _covering(args.resources, "PodDisruptionBudget", ("spec", "selector"), statefulset):
            report_violation(f"{_describe(statefulset)} has no PodDisruptionBudget that selects "
                             "its pods", statefulset.urn)


PRODUCTION_CONFIG = PolicyConfigSchema(properties={
    "productionStacks": {
        "type": "array", "items": {"type": "string"},
        "default": ["prod", "prod-*", "production", "production-*"],
        "description": "Names of the stacks held to production rules; shell-style patterns "
                       "(*, ?, [...]) are allowed.",
    },
    "minReplicas": {"type": "integer", "minimum": 1, "default": 3,
                    "description": "Fewest pods a database StatefulSet of a production stack "
                                   "may run."},
})


def _required_anti_affinity(statefulset: PolicyResource) -> bool:
    """Whether the scheduler must keep the StatefulSet's pods apart (per node, zone, ...)."""
    terms = _get(statefulset.props, "spec", "template", "spec", "affinity", "podAntiAffinity",
                 "requiredDuringSchedulingIgnoredDuringExecution") or ()
    labels = _pod_labels(statefulset)
    return any(term.get("topologyKey") and selects(term.get("labelSelector"), labels)
               for term in terms)


def _production_stack(args: StackValidationArgs, config: Mapping[str, Any]) -> Optional[str]:
    """The stack's name when it is a production stack, else None."""
    stack = stack_name(args)
    if stack is None or not any(fnmatch.fnmatchcase(stack, pattern)
                                for pattern in config["productionStacks"]):
        return None
    return stack


# production-tls has the same notion of a production stack, and no replica minimum.
PRODUCTION_STACKS_CONFIG = PolicyConfigSchema(properties={
    "productionStacks": PRODUCTION_CONFIG.properties["productionStacks"]})


def validate_production_availability(args: StackValidationArgs,
                                     report_violation: ReportViolation) -> None:
    config = _with_defaults(PRODUCTION_CONFIG, args.get_config())
    stack = _production_stack(args, config)
    if stack is None:
        return
    # Numbers reach policies as floats, config included.
    minimum = int(config["minReplicas"])
    for statefulset in _database_statefulsets(args.resources):
        replicas = _get(statefulset.props, "spec", "replicas")
        replicas = 1 if replicas is None else int(replicas)
        if replicas < minimum:
            report_violation(f'stack "{stack}" is a production stack: {_describe(statefulset)} '
                             f"sets replicas: {replicas}, below the minimum {minimum}",
                             statefulset.urn)
        if not _required_anti_affinity(statefulset):
            report_violation(f'stack "{stack}" is a production stack: {_describe(statefulset)} '
                             "has no required pod anti-affinity that keeps its pods apart",
                             statefulset.urn)


PRIMARY_MOVE_CONFIG = PolicyConfigSchema(properties={
    "productionStacks": PRODUCTION_CONFIG.properties["productionStacks"],
    "expectedPrimaryOrdinal": {
        "type": "integer", "minimum": 0, "default": 0,
        "description": "The pod a production stack's switchover Job may make the primary; set it "
                       "to the new ordinal to confirm a move."},
})


def _switchover_targets(resources: Iterable[PolicyResource]) -> Iterator[tuple[PolicyResource, int]]:
    """The component's switchover Jobs (their pods labelled component=switchover), with the
    ordinal each makes the primary."""
    for job in resources:
        if kind_of(job.resource_type) != "Job":
            continue
        template = _get(job.props, "spec", "template") or {}
        if _get(template, "metadata", "labels", "app.kubernetes.io/component") != "switchover":
            continue
        for container in containers(template.get("spec") or {}):
            for variable in container.get("env") or ():
                if variable.get("name") == "TARGET_ORDINAL":
                    yield job, int(variable["value"])


def validate_primary_move_confirmed(args: StackValidationArgs,
                                    report_violation: ReportViolation) -> None:
    config = _with_defaults(PRIMARY_MOVE_CONFIG, args.get_config())
    stack = _production_stack(args, config)
    if stack is None:
        return
    expected = int(config["expectedPrimaryOrdinal"])
    for job, target in _switchover_targets(args.resources):
        if target != expected:
            report_violation(
                f'stack "{stack}" is a production stack: {_describe(job)} makes pod {target} the '
                f"primary. If the current primary does not answer, this is a failover: the writes "
                f"it committed but had not replicated are lost. Check that it runs, then confirm "
                f"with expectedPrimaryOrdinal: {target} in the policy config", job.urn)


# The keys of a Secret holding a TLS certificate and its key, as kubernetes.io/tls Secrets and
# cert-manager write them.
TLS_SECRET_KEYS = ("tls.crt", "tls.key")


def _tls_secret_names(resources: Iterable[PolicyResource], namespace: str) -> set[str]:
    """Secrets of the stack in `namespace` known to hold a certificate: kubernetes.io/tls
    Secrets, and those cert-manager Certificates write."""
    names = set()
    for resource in resources:
        if _namespace(resource.props) != namespace:
            continue
        kind = kind_of(resource.resource_type)
        if kind == "Secret" and resource.props.get("type") == "kubernetes.io/tls":
            names.add(_get(resource.props, "metadata", "name"))
        elif kind == "Certificate" and resource.resource_type.startswith(
                "kubernetes:cert-manager.io/"):
            names.add(_get(resource.props, "spec", "secretName"))
    return names


def _mounts_a_certificate(statefulset: PolicyResource, tls_secrets: set[str]) -> bool:
    """Whether a container of the pods mounts a Secret volume that carries a certificate: one
    of `tls_secrets`, or one that projects the keys tls.crt and tls.key (a Secret made outside
    the stack)."""
    spec = pod_spec(statefulset.resource_type, statefulset.props) or {}
    mounted = {mount.get("name") for candidate in containers(spec)
               for mount in candidate.get("volumeMounts") or ()}
    for volume in spec.get("volumes") or ():
        secret = volume.get("secret")
        if volume.get("name") not in mounted or not isinstance(secret, Mapping):
            continue
        keys = {item.get("key") for item in secret.get("items") or ()}
        if secret.get("secretName") in tls_secrets or set(TLS_SECRET_KEYS) <= keys:
            return True
    return False


def validate_production_tls(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stack = _production_stack(args, _with_defaults(PRODUCTION_STACKS_CONFIG, args.get_config()))
    if stack is None:
        return
    for statefulset in _database_statefulsets(args.resources):
        tls_secrets = _tls_secret_names(args.resources, _namespace(statefulset.props))
        if not _mounts_a_certificate(statefulset, tls_secrets):
            report_violation(f'stack "{stack}" is a production stack: {_describe(statefulset)} '
                             "mounts no TLS certificate (a Secret volume with tls.crt and "
                             "tls.key), so its clients and replicas talk in plain text",
                             statefulset.urn)


def _workloads(resources: Iterable[PolicyResource]) -> Iterator[tuple[PolicyResource, Mapping[str, Any]]]:
    """Every resource that runs pods, with its pod spec."""
    for resource in resources:
        spec = pod_spec(resource.resource_type, resource.props)
        if spec is not None:
            yield resource, spec


def _pod_annotations(resource: PolicyResource) -> Mapping[str, Any]:
    kind = kind_of(resource.resource_type)
    if kind is None:
        return {}
    path = _POD_SPEC_PATHS[kind][:-1] + ("metadata", "annotations")
    return (_get(resource.props, "metadata", "annotations") if kind == "Pod"
            else _get(resource.props, *path)) or {}


# The variables that give rclone (RCLONE_CONFIG_<remote>_ENDPOINT) and the AWS tools an S3 endpoint.
def _is_s3_endpoint_variable(name: str) -> bool:
    return (name.startswith("RCLONE_CONFIG_") and name.endswith("_ENDPOINT")) or \
        name.startswith("AWS_ENDPOINT_URL")


def validate_production_backup_transport(args: StackValidationArgs,
                                         report_violation: ReportViolation) -> None:
    stack = _production_stack(args, _with_defaults(PRODUCTION_STACKS_CONFIG, args.get_config()))
    if stack is None:
        return
    for resource, spec in _workloads(args.resources):
        for candidate in containers(spec):
            for variable in candidate.get("env") or ():
                name, value = variable.get("name") or "", variable.get("value") or ""
                if _is_s3_endpoint_variable(name) and value.lower().startswith("http://"):
                    report_violation(
                        f'stack "{stack}" is a production stack: {_describe(resource)} container '
                        f'"{candidate.get("name")}" reaches the S3 endpoint {value} over plain '
                        "http, so backups and the store's keys cross the network readable; use "
                        "https", resource.urn)


# Service types that open the database beyond the Kubernetes cluster's pods.
_EXTERNAL_SERVICE_TYPES = ("LoadBalancer", "NodePort")


def _admits_every_namespace(network_policy: PolicyResource) -> bool:
    """Whether an ingress rule lets pods of every namespace in: a rule without `from`, or a peer
    with an empty namespace selector and no pod selector."""
    for rule in _get(network_policy.props, "spec", "ingress") or ():
        peers = rule.get("from")
        if not peers:
            return True
        for peer in peers:
            selector = peer.get("namespaceSelector")
            if (isinstance(selector, Mapping) and not selector.get("matchLabels")
                    and not selector.get("matchExpressions") and not peer.get("podSelector")):
                return True
    return False


# The label the StatefulSet controller gives each pod: its name (a Service may select one pod).
_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


def _services_of(resources: Iterable[PolicyResource],
                 statefulset: PolicyResource) -> list[PolicyResource]:
    """The Services in the StatefulSet's namespace that select some of its pods: a Service's
    selector is a plain map of labels, which may name one pod."""
    namespace, labels = _namespace(statefulset.props), _pod_labels(statefulset)
    services = []
    for service in resources:
        selector = _get(service.props, "spec", "selector")
        if (kind_of(service.resource_type) != "Service" or _namespace(service.props) != namespace
                or not selector):
            continue
        if all(key == _POD_NAME_LABEL or labels.get(key) == value
               for key, value in selector.items()):
            services.append(service)
    return services


def validate_production_exposure(args: StackValidationArgs,
                                 report_violation: ReportViolation) -> None:
    stack = _production_stack(args, _with_defaults(PRODUCTION_STACKS_CONFIG, args.get_config()))
    if stack is None:
        return
    for statefulset in _database_statefulsets(args.resources):
        policies = _covering(args.resources, "NetworkPolicy", ("spec", "podSelector"), statefulset)
        if not any(_admits_every_namespace(policy) for policy in policies):
            continue
        for service in _services_of(args.resources, statefulset):
            service_type = _get(service.props, "spec", "type")
            if service_type in _EXTERNAL_SERVICE_TYPES:
                report_violation(
                    f'stack "{stack}" is a production stack: {_describe(service)} is a '
                    f"{service_type} Service of {_describe(statefulset)}, whose NetworkPolicy "
                    "admits every namespace (allowedClientNamespaces: [\"*\"]); list the client "
                    "namespaces, or keep the Service ClusterIP", service.urn)


# Priority classes Kubernetes keeps for its own components: pods of these preempt and outlive
# everything else on a node, and kubelet eviction spares them.
SYSTEM_PRIORITY_CLASSES = ("system-node-critical", "system-cluster-critical")


def validate_production_priority_class(args: StackValidationArgs,
                                       report_violation: ReportViolation) -> None:
    stack = _production_stack(args, _with_defaults(PRODUCTION_STACKS_CONFIG, args.get_config()))
    if stack is None:
        return
    for resource, spec in _workloads(args.resources):
        priority_class = spec.get("priorityClassName")
        if priority_class in SYSTEM_PRIORITY_CLASSES:
            report_violation(
                f'stack "{stack}" is a production stack: {_describe(resource)} runs its pods in '
                f"the priority class {priority_class}, kept for Kubernetes' own components (they "
                "preempt the node's other pods and are the last evicted); use a priority class "
                "of your own", resource.urn)


_APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_SECCOMP_ANNOTATIONS = ("seccomp.security.alpha.kubernetes.io/pod",
                        "container.seccomp.security.alpha.kubernetes.io/")


def _unconfined(resource: PolicyResource, spec: Mapping[str, Any]) -> list[str]:
    """What runs a pod's containers without AppArmor or seccomp confinement."""
    found = []
    for key, value in _pod_annotations(resource).items():
        if str(value).lower() == "unconfined" and (
                key.startswith(_APPARMOR_ANNOTATION_PREFIX) or key.startswith(_SECCOMP_ANNOTATIONS)):
            found.append(f"annotation {key}: {value}")
    contexts = [("the pod", spec.get("securityContext") or {})] + [
        (f'container "{candidate.get("name")}"', candidate.get("securityContext") or {})
        for candidate in containers(spec)]
    for where, context in contexts:
        for profile in ("appArmorProfile", "seccompProfile"):
            if _get(context, profile, "type") == "Unconfined":
                found.append(f"{where} sets {profile} Unconfined")
    return found


def validate_production_confinement(args: StackValidationArgs,
                                    report_violation: ReportViolation) -> None:
    stack = _production_stack(args, _with_defaults(PRODUCTION_STACKS_CONFIG, args.get_config()))
    if stack is None:
        return
    for resource, spec in _workloads(args.resources):
        for what in _unconfined(resource, spec):
            report_violation(
                f'stack "{stack}" is a production stack: {_describe(resource)}: {what}, which '
                "lifts the kernel's confinement of containers that hold every password and the "
                "data; remove it", resource.urn)


# --- The pack --------------------------------------------------------------------------------

POLICIES = [
    ResourceValidationPolicy(
        name="image-pinned",
        description="Every container image is pinned to a release tag or a digest.",
        validate=validate_image_pinned,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="container-resources",
        description="Every container requests CPU and memory and has a memory limit.",
        validate=validate_container_resources,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="no-empty-password",
        description="No container switches on a MySQL or MariaDB root account without password.",
        validate=validate_no_empty_password,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="database-pod-hardened",
        description="Every container of a database pod runs as non-root without privilege "
                    "escalation.",
        validate=validate_database_pod_hardened,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="storage-bounds",
        description="Every volumeClaimTemplate requests storage within the pack's bounds.",
        validate=validate_storage_bounds,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=STORAGE_CONFIG,
    ),
    StackValidationPolicy(
        name="database-network-policy",
        description="Every database StatefulSet's pods are selected by a NetworkPolicy that "
                    "restricts their ingress.",
        validate=validate_database_network_policy,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="database-egress",
        description="Every database StatefulSet's pods are selected by a NetworkPolicy that "
                    "restricts their egress, and none lets them connect to every address on "
                    "every port.",
        validate=validate_database_egress,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="database-disruption-budget",
        description="Every database StatefulSet's pods are selected by a PodDisruptionBudget.",
        validate=validate_database_disruption_budget,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="production-availability",
        description="In production stacks every database StatefulSet runs enough replicas and "
                    "requires pod anti-affinity.",
        validate=validate_production_availability,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PRODUCTION_CONFIG,
    ),
    StackValidationPolicy(
        name="primary-move-confirmed",
        description="In production stacks the primary moves only to the pod the policy config "
                    "names, since a failover loses the writes the old primary never replicated.",
        validate=validate_primary_move_confirmed,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PRIMARY_MOVE_CONFIG,
    ),
    *(StackValidationPolicy(name=name, description=description, validate=validate,
                            enforcement_level=EnforcementLevel.MANDATORY,
                            config_schema=PRODUCTION_STACKS_CONFIG)
      for name, description, validate in (
          ("production-backup-transport",
           "In production stacks no workload reaches an S3 endpoint over plain http.",
           validate_production_backup_transport),
          ("production-exposure",
           "In production stacks no LoadBalancer or NodePort Service selects database pods "
           "whose NetworkPolicy admits every namespace.", validate_production_exposure),
          ("production-priority-class",
           "In production stacks no workload uses the system-node-critical or "
           "system-cluster-critical priority class.", validate_production_priority_class),
          ("production-confinement",
           "In production stacks no workload runs unconfined by AppArmor or seccomp.",
           validate_production_confinement),
      )),
    StackValidationPolicy(
        name="production-tls",
        description="In production stacks every database StatefulSet mounts a TLS certificate.",
        validate=validate_production_tls,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PRODUCTION_STACKS_CONFIG,
    ),
]
