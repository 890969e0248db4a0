"""A stand-in for Kubernetes that runs one StatefulSet of MariaDB pods on this machine.

Input is the rendered manifests (ConfigMaps, Secrets, Services, StatefulSet).
Each pod gets a network namespace on a private bridge and a hosts file with
the names cluster DNS would give it; each container runs as described in
containers.py. A background thread plays kubelet and StatefulSet controller:
it runs init containers in order, then the containers, restarts them, runs
their probes, and creates or removes pods in ordinal order (OrderedReady).

Tests drive it through ``StatefulSetHarness``; every wait has a timeout and a
failure names the pod and container and shows its log tail. Everything is
torn down by ``close()`` (or leaving the ``with`` block).
"""

from __future__ import annotations

import math
import os
import pwd
import re
import shutil
import signal
import subprocess
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .containers import (
    ContainerLaunch, RunningContainer, container_security, host_mysql, run_in_container,
)
from .image import ABSENT_FROM_IMAGE, IMAGE_ENV, build_image_layer, container_argv
from .manifests import (
    ManifestError, PodFacts, RenderedManifests, container_environment, expand_references,
)
from .network import NETNS_DIR, PodAttachment, PodNetwork, remove_stale_namespaces
from .volumes import PreparedVolume, claim_directory, container_mounts, prepare_volumes

# Names from the component's contract that the SQL helper relies on.
SQL_CONTAINER = "mysql"
CREDENTIALS_SECRET_SUFFIX = "-credentials"
ROOT_PASSWORD_KEY = "root-password"

CLUSTER_DOMAIN = "cluster.local"
NODE_NAME = "e2e-node"
REQUIRED_COMMANDS = (
    "bash", "chroot", "env", "hostname", "install", "ip", "mount", "nsenter", "realpath",
    "setpriv", "tc", "unshare", "mariadbd", "mariadb", "mariadb-admin", "mariadb-install-db",
    "mariadb-backup", "mbstream", "socat",
)
_TICK = 0.1
_DEFAULT_GRACE = 30.0
_POD_START_TIMEOUT = 90.0
_LOG_TAIL_LINES = 30


class HarnessError(Exception):
    """Something in the emulated cluster went wrong; the message says what and where."""


class PodFailed(HarnessError):
    pass


class WaitTimeout(HarnessError):
    pass


def host_problems() -> list[str]:
    """Why this machine cannot run the harness (empty when it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (network and mount namespaces)")
    problems += [f"command {name!r} not found" for name in REQUIRED_COMMANDS if not shutil.which(name)]
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        problems.append("user 'mysql' does not exist (install mariadb-server)")
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append("the kernel has no overlay file system")
    return problems


@dataclass(frozen=True)
class RestartPolicy:
    """How many unexpected failures a pod survives before it counts as Failed.

    Kubernetes retries forever; a test wants the first real failure reported
    with its logs. Exits that the test itself causes (kill_container,
    restart_container) are not counted.
    """

    init_retries: int = 0
    container_restarts: int = 0
    backoff_seconds: float = 1.0


@dataclass
class _Probe:
    kind: str  # "startup", "readiness" or "liveness"
    spec: dict
    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int
    success_threshold: int
    output_path: Path
    next_due: float = 0.0
    failures: int = 0
    successes: int = 0
    process: subprocess.Popen | None = None
    deadline: float = 0.0
    last_failure: str = ""

    def cancel(self) -> None:
        if self.process is not None:
            _kill_group(self.process)
            self.process = None


@dataclass
class _Container:
    spec: dict
    is_init: bool
    env: dict[str, str]
    probes: list[_Probe]
    run: RunningContainer | None = None
    starts: int = 0
    restart_count: int = 0
    failures: int = 0
    restart_at: float | None = None
    stop_deadline: float | None = None
    stop_reason: str = ""
    # Set when the test ended the container: restart after this delay, not counted as a failure.
    requested_restart_delay: float | None = None
    startup_passed: bool = False
    readiness_passed: bool = False
    last_exit_code: int | None = None

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.is_started and self.run.exit_code is None

    @property
    def started(self) -> bool:
        return self.running and (self.startup_passed or not self._has_probe("startup"))

    @property
    def ready(self) -> bool:
        return self.started and (self.readiness_passed or not self._has_probe("readiness"))

    def _has_probe(self, kind: str) -> bool:
        return any(probe.kind == kind for probe in self.probes)


INITIALIZING, RUNNING, TERMINATING, FAILED = "Initializing", "Running", "Terminating", "Failed"


@dataclass
class _Pod:
    name: str
    ordinal: int
    directory: Path
    attachment: PodAttachment
    phase: str = INITIALIZING
    volumes: dict[str, PreparedVolume] = field(default_factory=dict)
    init_containers: list[_Container] = field(default_factory=list)
    containers: list[_Container] = field(default_factory=list)
    init_index: int = 0
    failure: str = ""
    termination_deadline: float = 0.0
    hosts_content: str = ""

    @property
    def all_containers(self) -> list[_Container]:
        return self.init_containers + self.containers

    @property
    def ready(self) -> bool:
        return self.phase == RUNNING and all(c.ready for c in self.containers)

    def container(self, name: str) -> _Container:
        for candidate in self.all_containers:
            if candidate.name == name:
                return candidate
        raise HarnessError(f"pod {self.name} has no container {name!r}")


class StatefulSetHarness:
    """Plays Kubernetes for the StatefulSet in ``manifests``; use as a context manager."""

    def __init__(
        self,
        manifests: RenderedManifests | Iterable[dict],
        workdir: Path,
        *,
        restart_policy: RestartPolicy = RestartPolicy(),
        probe_period_cap: float = 0.5,
        max_grace_seconds: float = _DEFAULT_GRACE,
        absent_commands: tuple[str, ...] = ABSENT_FROM_IMAGE,
    ):
        problems = host_problems()
        if problems:
            raise HarnessError("this machine cannot run the e2e harness: " + "; ".join(problems))
        if not isinstance(manifests, RenderedManifests):
            manifests = RenderedManifests(manifests)
        self.manifests = manifests
        self.statefulset = manifests.only("StatefulSet")
        self.name = self.statefulset["metadata"]["name"]
        self.namespace = self.statefulset["metadata"].get("namespace") or "default"
        self.service_name = self.statefulset["spec"]["serviceName"]
        headless = manifests.get("Service", self.service_name)
        if headless["spec"].get("clusterIP") != "None":
            raise ManifestError(f"Service {self.service_name!r} (spec.serviceName) is not headless")
        self._publish_not_ready = bool(headless["spec"].get("publishNotReadyAddresses"))
        self.pod_spec = self.statefulset["spec"]["template"]["spec"]
        self.restart_policy = restart_policy
        self.probe_period_cap = probe_period_cap
        self.max_grace_seconds = max_grace_seconds

        self.workdir = Path(workdir)
        self.claims_dir = self.workdir / "claims"
        self.claims_dir.mkdir(parents=True, exist_ok=True)
        self._image_layer = build_image_layer(self.workdir / "image", host_mysql().pw_uid,
                                              host_mysql().pw_gid, absent_commands)

        self._lock = threading.RLock()
        self._pods: dict[str, _Pod] = {}
        self._replicas = 0
        self._held: set[str] = set()
        self._pod_starts: dict[str, int] = defaultdict(int)
        self._logs: dict[tuple[str, str], list[Path]] = defaultdict(list)
        self._namespace_ids: set[tuple[int, int]] = set()
        self._loop_error = ""
        self._closed = False
        self._stop = threading.Event()

        remove_stale_namespaces()
        self._network = PodNetwork()
        self._namespace_ids.add(_namespace_id(self._network.hub_path))
        self._thread = threading.Thread(target=self._kubelet_loop, name="e2e-kubelet", daemon=True)
        self._thread.start()

    def __enter__(self) -> StatefulSetHarness:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # StatefulSet

    def start_statefulset(self, replicas: int, timeout: float | None = None) -> None:
        """Create the pods in order and wait until all are Ready."""
        self.scale_to(replicas, timeout)

    def scale_to(self, replicas: int, timeout: float | None = None) -> None:
        """Set the replica count and wait until exactly pods 0..replicas-1 exist and are Ready."""
        self.set_replicas(replicas)
        expected = [self.pod_name(i) for i in range(replicas)]
        self._wait_until(
            lambda: set(self._pods) == set(expected) and all(self._pods[p].ready for p in expected),
            timeout or _POD_START_TIMEOUT * max(1, replicas),
            f"{replicas} ready replicas of {self.name}",
        )

    def set_replicas(self, replicas: int) -> None:
        """Set the replica count and return at once (``kubectl scale``); the controller acts on it."""
        with self._lock:
            self._replicas = replicas

    def pod_name(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    # Pods

    def pod_names(self) -> list[str]:
        with self._lock:
            return sorted(self._pods, key=lambda name: self._pods[name].ordinal)

    def pod_phase(self, pod: str) -> str | None:
        with self._lock:
            return self._pods[pod].phase if pod in self._pods else None

    def is_ready(self, pod: str) -> bool:
        with self._lock:
            return pod in self._pods and self._pods[pod].ready

    def pod_ip(self, pod: str) -> str:
        with self._lock:
            return self._pod(pod).attachment.ip

    def dns_name(self, pod: str) -> str:
        return f"{pod}.{self.service_name}.{self.namespace}.svc.{CLUSTER_DOMAIN}"

    def wait_ready(self, pod: str, timeout: float = _POD_START_TIMEOUT) -> None:
        self._wait_until(lambda: self.is_ready(pod), timeout, f"pod {pod} Ready", pods=[pod])

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll a test's own condition, failing early if a pod fails.

        The condition runs outside the harness's lock, so it may exec into pods
        and take its time without holding up the kubelet.
        """
        self._wait_until(condition, timeout, what, locked=False)

    def delete_pod(self, pod: str, grace_seconds: float | None = None, timeout: float = 60) -> None:
        """Like ``kubectl delete pod``: terminate it; the controller then recreates it."""
        with self._lock:
            self._terminate(self._pod(pod), grace_seconds)
        self._wait_until(lambda: self._pods.get(pod) is None or self._pods[pod].phase != TERMINATING,
                         timeout, f"pod {pod} terminated", pods=[])

    def restart_pod(self, pod: str, grace_seconds: float | None = None,
                    timeout: float = _POD_START_TIMEOUT) -> None:
        """Delete the pod and wait for its replacement to be Ready (claims kept, emptyDirs fresh)."""
        self.delete_pod(pod, grace_seconds)
        self.wait_ready(pod, timeout)

    def stop_pod(self, pod: str, grace_seconds: float | None = None, timeout: float = 60) -> None:
        """Terminate the pod and keep it down (as if its node were gone) until resume_pod."""
        with self._lock:
            self._held.add(pod)
        self.delete_pod(pod, grace_seconds, timeout)

    def resume_pod(self, pod: str, timeout: float = _POD_START_TIMEOUT) -> None:
        with self._lock:
            self._held.discard(pod)
        self.wait_ready(pod, timeout)

    # Containers

    def restart_container(self, pod: str, container: str, grace_seconds: float | None = None,
                          timeout: float = 60) -> None:
        """Stop the container gracefully; the kubelet starts it again. Waits until it runs."""
        with self._lock:
            target = self._pod(pod).container(container)
            if target.run is None:
                raise HarnessError(f"container {pod}/{container} is not running")
            starts_before = target.starts
            target.requested_restart_delay = 0.0
            self._stop_container(target, grace_seconds, "restart requested by the test")
        self._wait_until(lambda: target.starts > starts_before and target.running,
                         timeout, f"container {pod}/{container} restarted", pods=[pod])

    def kill_container(self, pod: str, container: str) -> None:
        """SIGKILL the container's pid 1, like a crash; the kubelet restarts it after the backoff."""
        with self._lock:
            target = self._pod(pod).container(container)
            if target.run is not None:
                target.requested_restart_delay = self.restart_policy.backoff_seconds
                target.run.signal(signal.SIGKILL)

    def restart_count(self, pod: str, container: str) -> int:
        with self._lock:
            return self._pod(pod).container(container).restart_count

    def probe_failure(self, pod: str, container: str, kind: str) -> str:
        """Output of the container's latest failed probe of this kind ("" if none failed)."""
        with self._lock:
            for probe in self._pod(pod).container(container).probes:
                if probe.kind == kind:
                    return probe.last_failure
        raise HarnessError(f"container {pod}/{container} has no {kind} probe")

    # Network

    def limit_egress(self, pod: str, bits_per_second: int | None) -> None:
        """Cap what the pod sends per second (a slow link); None lifts the cap.

        Applies to the pod as it runs now: a replacement pod starts uncapped.
        """
        with self._lock:
            self._network.limit_egress(self._pod(pod).attachment, bits_per_second)

    def _exec_command(self, pod: str, container: str, argv: list[str]) -> list[str]:
        """The command line that runs argv inside a running container."""
        with self._lock:
            target = self._pod(pod).container(container)
            if not target.running:
                raise HarnessError(f"cannot exec in {pod}/{container}: it is not running\n"
                                   + self.describe(pod))
            return target.run.exec_command(argv)

    def exec(self, pod: str, container: str, argv: list[str], *, timeout: float = 30,
             input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command in a running container, as its user and with its env."""
        command = self._exec_command(pod, container, argv)
        try:
            result = run_in_container(command, timeout, input_text)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"exec {argv} in {pod}/{container} timed out after {timeout} s") from None
        if check and result.returncode != 0:
            raise HarnessError(
                f"exec {argv} in {pod}/{container} exited with {result.returncode}\n"
                f"stdout: {result.stdout.strip()}\nstderr: {result.stderr.strip()}"
            )
        return result

    def exec_stream(self, pod: str, container: str, argv: list[str]) -> subprocess.Popen:
        """``kubectl exec -i``: start argv in the container with its stdin kept open.

        Returns the process (text mode, stdin/stdout/stderr piped); the caller
        writes to stdin as it goes, then closes it and reads the output with
        ``communicate(timeout=...)``. A command that prints more than a pipe
        holds must be read while it runs. The process ends with its container.
        """
        command = self._exec_command(pod, container, argv)
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def run_sql(self, pod: str, sql: str, *, user: str = "root", password: str | None = None,
                host: str | None = None, database: str | None = None,
                timeout: float = 30, column_names: bool = False) -> list[tuple[str | None, ...]]:
        """Run SQL in the pod's mysql container; rows as tuples of strings (NULL is None).

        By default as root with the password from the credentials Secret, over
        the local socket; with host (e.g. another pod's DNS name) over TCP
        from this pod. column_names=True puts each result's column names
        before its rows.
        """
        argv = self.sql_client(user=user, password=password, host=host, database=database)
        if not column_names:
            argv.append("--skip-column-names")
        result = self.exec(pod, SQL_CONTAINER, argv, timeout=timeout, input_text=sql)
        return [tuple(_unescape_batch_field(value) for value in line.split("\t"))
                for line in result.stdout.splitlines()]

    def sql_client(self, *, user: str = "root", password: str | None = None,
                   host: str | None = None, database: str | None = None) -> list[str]:
        """Command line of the SQL client that run_sql runs (same defaults), reading SQL from
        stdin in batch mode; e.g. for exec_stream."""
        argv = ["mariadb", "--batch", f"--user={user}"]
        argv += ["--protocol=tcp", f"--host={host}"] if host else ["--protocol=socket"]
        if database:
            argv.append(f"--database={database}")
        if password is None:
            password = self.root_password()
        # The password travels in the client's env rather than on its command line.
        return ["env", f"MYSQL_PWD={password}", *argv]

    def root_password(self) -> str:
        secret = f"{self.name}{CREDENTIALS_SECRET_SUFFIX}"
        return self.manifests.secret_data(secret)[ROOT_PASSWORD_KEY].decode()

    def log_tail(self, pod: str, container: str, lines: int = _LOG_TAIL_LINES,
                 previous: bool = False) -> str:
        """Last lines of the container's output (previous=True: the run before the latest)."""
        with self._lock:
            history = list(self._logs.get((pod, container), []))
        wanted = -2 if previous else -1
        if len(history) < abs(wanted):
            return ""
        return _tail(history[wanted], lines)

    def claim_path(self, pod: str, claim: str = "data") -> Path:
        """Directory on this machine that holds the pod's volume claim."""
        return claim_directory(self.claims_dir, claim, pod)

    # Diagnostics

    def describe(self, pod: str | None = None) -> str:
        """State of the pods (or one pod), their containers, probes and log tails."""
        with self._lock:
            if pod is None:
                pods = sorted(self._pods.values(), key=lambda p: p.ordinal)
            elif pod in self._pods:
                pods = [self._pods[pod]]
            else:
                return f"pod {pod}: does not exist"
            sections = [self._describe_pod(p) for p in pods]
        if self._loop_error:
            sections.insert(0, f"kubelet loop crashed:\n{self._loop_error}")
        return "\n".join(sections) or "no pods"

    def _describe_pod(self, pod: _Pod) -> str:
        lines = [f"pod {pod.name}: {pod.phase}, ip {pod.attachment.ip}, ready={pod.ready}"]
        if pod.failure:
            lines.append(f"  failure: {pod.failure}")
        for container in pod.all_containers:
            kind = "init container" if container.is_init else "container"
            if container.running:
                state = "running"
            elif container.run is not None:
                state = "starting"
            elif container.last_exit_code is not None:
                state = f"exited with {container.last_exit_code}"
            else:
                state = "waiting"
            lines.append(f"  {kind} {container.name}: {state}, ready={container.ready}, "
                         f"restarts={container.restart_count}")
            if container.stop_reason:
                lines.append(f"    last stop: {container.stop_reason}")
            for probe in container.probes:
                if probe.last_failure:
                    lines.append(f"    {probe.kind} probe last failed: {probe.last_failure}")
            tail = self.log_tail(pod.name, container.name, lines=15)
            if tail:
                lines.append("    log tail:\n" + _indent(tail, "      "))
        return "\n".join(lines)

    def leftovers(self) -> list[str]:
        """Anything of this harness still present on the machine (empty after close)."""
        found = [f"network namespace {n}" for n in self._network.owned_namespaces()]
        # The kernel reuses a freed namespace's id: one that now belongs to a namespace of
        # someone else (e.g. another harness running at the same time) is not ours any more.
        ours = self._namespace_ids - _ids_of_other_namespaces(self._network.name_prefix)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if _namespace_id(entry / "ns" / "net") in ours:
                    found.append(f"process {entry.name} ({(entry / 'comm').read_text().strip()})")
            except OSError:
                continue
        mount_table = Path("/proc/self/mountinfo").read_text()
        if str(self.workdir) in mount_table:
            found.append(f"a mount under {self.workdir}")
        return found

    # Teardown

    def close(self) -> None:
        """Stop everything, remove namespaces and volume claims; raise if anything stays behind."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout=10)
        # Keep tearing down after an error, and report all of them at the end.
        errors = []
        with self._lock:
            for pod in list(self._pods.values()):
                try:
                    self._kill_pod_processes(pod)
                    self._network.detach(pod.attachment)
                except Exception as error:
                    errors.append(f"tearing down pod {pod.name}: {error}")
            self._pods.clear()
        try:
            self._network.close()
        except Exception as error:
            errors.append(f"removing the pod network: {error}")
        shutil.rmtree(self.claims_dir, ignore_errors=True)
        problems = errors + [f"left behind {item}" for item in self.leftovers()]
        if problems:
            raise HarnessError("closing the harness: " + "; ".join(problems))

    # Kubelet and controller (runs in the background thread, under the lock)

    def _kubelet_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    now = time.monotonic()
                    for pod in list(self._pods.values()):
                        self._sync_pod(pod, now)
                    self._sync_statefulset()
                    self._publish_dns()
            except Exception:  # a bug here must surface in the test, not hang it
                self._loop_error = traceback.format_exc()
                return
            self._stop.wait(_TICK)

    def _sync_statefulset(self) -> None:
        # OrderedReady: a pod is created only when all lower ordinals are Ready.
        for ordinal in range(self._replicas):
            name = self.pod_name(ordinal)
            pod = self._pods.get(name)
            if pod is None:
                if name not in self._held:
                    self._create_pod(ordinal)
                return
            if not pod.ready:
                return
        # Scale down from the highest ordinal, one pod at a time.
        surplus = [p for p in self._pods.values() if p.ordinal >= self._replicas]
        if surplus and not any(p.phase == TERMINATING for p in self._pods.values()):
            self._terminate(max(surplus, key=lambda p: p.ordinal), None)

    def _create_pod(self, ordinal: int) -> None:
        name = self.pod_name(ordinal)
        self._pod_starts[name] += 1
        directory = self.workdir / "pods" / name / f"start-{self._pod_starts[name]}"
        (directory / "logs").mkdir(parents=True)
        (directory / "probes").mkdir()
        kubelet_files = directory / "kubelet"
        kubelet_files.mkdir(mode=0o755)
        attachment = self._network.attach(name)
        self._namespace_ids.add(_namespace_id(attachment.netns_path))
        pod = _Pod(name=name, ordinal=ordinal, directory=directory, attachment=attachment)
        self._pods[name] = pod
        (kubelet_files / "resolv.conf").write_text(
            f"search {self.namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\n"
            "options ndots:5\n"
        )
        self._write_hosts(pod, {})
        try:
            pod.volumes = prepare_volumes(self.statefulset, self.manifests, name, directory,
                                          self.claims_dir)
            facts = PodFacts(name=name, namespace=self.namespace, ip=attachment.ip, node_name=NODE_NAME)
            for spec in self.pod_spec.get("initContainers") or []:
                pod.init_containers.append(self._new_container(pod, spec, facts, is_init=True))
            for spec in self.pod_spec["containers"]:
                pod.containers.append(self._new_container(pod, spec, facts, is_init=False))
        except (ManifestError, OSError, KeyError) as error:
            self._fail_pod(pod, f"pod could not be set up: {error!r}")
            return
        if not pod.init_containers:
            self._start_main_containers(pod)

    def _new_container(self, pod: _Pod, spec: dict, facts: PodFacts, is_init: bool) -> _Container:
        if spec.get("lifecycle"):
            raise ManifestError(f"container {spec['name']!r}: lifecycle hooks are not emulated")
        env = dict(IMAGE_ENV)
        env["HOSTNAME"] = pod.name
        env["HOME"] = container_security(self.pod_spec, spec).home
        env.update(container_environment(spec, self.pod_spec, facts, self.manifests))
        probes = [] if is_init else [
            self._new_probe(pod, spec, kind) for kind in ("startup", "readiness", "liveness")
            if spec.get(f"{kind}Probe")
        ]
        return _Container(spec=spec, is_init=is_init, env=env, probes=probes, restart_at=0.0)

    def _new_probe(self, pod: _Pod, container: dict, kind: str) -> _Probe:
        spec = container[f"{kind}Probe"]
        if "exec" not in spec and "tcpSocket" not in spec:
            raise ManifestError(f"{kind} probe of {container['name']!r}: only exec and tcpSocket "
                                "probes are emulated")
        period = float(spec.get("periodSeconds", 10))
        failure_threshold = int(spec.get("failureThreshold", 3))
        initial_delay = float(spec.get("initialDelaySeconds", 0))
        if kind != "liveness":
            # Startup and readiness probes only decide when things may proceed,
            # so they are polled faster; the time a probe may keep failing
            # (failureThreshold x periodSeconds) stays what the manifest says.
            fast_period = min(period, self.probe_period_cap)
            failure_threshold = math.ceil(failure_threshold * period / fast_period)
            period, initial_delay = fast_period, min(initial_delay, fast_period)
        return _Probe(
            kind=kind, spec=spec, initial_delay=initial_delay, period=period,
            timeout=float(spec.get("timeoutSeconds", 1)), failure_threshold=failure_threshold,
            success_threshold=int(spec.get("successThreshold", 1)),
            output_path=pod.directory / "probes" / f"{container['name']}-{kind}.out",
        )

    def _sync_pod(self, pod: _Pod, now: float) -> None:
        if pod.phase == TERMINATING:
            self._sync_termination(pod, now)
        elif pod.phase == INITIALIZING:
            self._sync_init(pod, now)
        elif pod.phase == RUNNING:
            for container in pod.containers:
                self._sync_main_container(pod, container, now)
                if pod.phase != RUNNING:
                    return

    def _sync_init(self, pod: _Pod, now: float) -> None:
        container = pod.init_containers[pod.init_index]
        if container.run is None:
            if now >= container.restart_at:
                self._start_container(pod, container)
            return
        code = self._reap(container, now)
        if code is None:
            return
        if code == 0:
            pod.init_index += 1
            if pod.init_index == len(pod.init_containers):
                self._start_main_containers(pod)
            return
        container.failures += 1
        if container.failures > self.restart_policy.init_retries:
            self._fail_pod(pod, f"init container {container.name} exited with code {code}",
                           container)
            return
        container.restart_count += 1
        container.restart_at = now + self.restart_policy.backoff_seconds

    def _start_main_containers(self, pod: _Pod) -> None:
        pod.phase = RUNNING
        for container in pod.containers:
            self._start_container(pod, container)
            if pod.phase == FAILED:
                return

    def _sync_main_container(self, pod: _Pod, container: _Container, now: float) -> None:
        if container.run is None:
            if container.restart_at is not None and now >= container.restart_at:
                self._start_container(pod, container)
            return
        code = self._reap(container, now)
        if code is None:
            if container.run.is_started:
                self._sync_probes(pod, container, now)
            return
        if container.requested_restart_delay is not None:
            container.restart_at = now + container.requested_restart_delay
            container.requested_restart_delay = None
        else:
            container.failures += 1
            if container.failures > self.restart_policy.container_restarts:
                reason = container.stop_reason or f"exited with code {code}"
                self._fail_pod(pod, f"container {container.name} {reason}", container)
                return
            container.restart_at = now + self.restart_policy.backoff_seconds
        container.restart_count += 1

    def _start_container(self, pod: _Pod, container: _Container) -> None:
        container.starts += 1
        container.restart_at = None
        container.stop_deadline = None
        container.startup_passed = container.readiness_passed = False
        run_name = f"{container.name}.{container.starts}"
        log_path = pod.directory / "logs" / f"{run_name}.log"
        self._logs[(pod.name, container.name)].append(log_path)
        try:
            launch = ContainerLaunch(
                hostname=pod.name,
                netns_path=pod.attachment.netns_path,
                argv=[expand_references(part, container.env) for part in container_argv(container.spec)],
                env=container.env,
                working_dir=container.spec.get("workingDir") or "/",
                security=container_security(self.pod_spec, container.spec),
                mounts=container_mounts(container.spec, pod.volumes),
                image_layer=self._image_layer,
                kubelet_files=pod.directory / "kubelet",
                scratch_dir=pod.directory / "containers" / run_name,
            )
        except (ManifestError, OSError) as error:
            self._fail_pod(pod, f"container {container.name} could not be set up: {error}")
            return
        container.run = RunningContainer(launch, log_path)
        container.stop_reason = ""
        for probe in container.probes:
            probe.cancel()
            probe.failures = probe.successes = 0
            probe.next_due = time.monotonic() + probe.initial_delay

    def _reap(self, container: _Container, now: float) -> int | None:
        """Exit code if the container just ended (and forget the run), else None."""
        code = container.run.poll()
        if code is None:
            if container.stop_deadline is not None and now >= container.stop_deadline:
                container.run.signal(signal.SIGKILL)
            return None
        container.run = None
        container.last_exit_code = code
        container.stop_deadline = None
        for probe in container.probes:
            probe.cancel()
        return code

    def _stop_container(self, container: _Container, grace_seconds: float | None, reason: str) -> None:
        container.stop_reason = reason
        container.stop_deadline = time.monotonic() + self._grace(grace_seconds)
        container.run.signal(signal.SIGTERM)

    def _sync_probes(self, pod: _Pod, container: _Container, now: float) -> None:
        for probe in container.probes:
            if probe.kind != "startup" and not container.started:
                continue
            if probe.process is None:
                if now >= probe.next_due and container.stop_deadline is None:
                    self._launch_probe(pod, container, probe, now)
                continue
            code = probe.process.poll()
            if code is None and now < probe.deadline:
                continue
            if code is None:
                probe.cancel()
                success, detail = False, f"timed out after {probe.timeout:g} s"
            else:
                probe.process = None
                output = " | ".join(probe.output_path.read_text(errors="replace").split("\n")).strip(" |")
                success, detail = code == 0, f"exit code {code}: {output[-500:]}"
            self._record_probe(container, probe, success, detail)

    def _launch_probe(self, pod: _Pod, container: _Container, probe: _Probe, now: float) -> None:
        if "exec" in probe.spec:
            command = container.run.exec_command([str(a) for a in probe.spec["exec"]["command"]])
        else:
            port = self._container_port(container.spec, probe.spec["tcpSocket"]["port"])
            # The kubelet connects from outside the pod to the pod's address.
            command = ["nsenter", f"--net={pod.attachment.netns_path}", "bash", "-c",
                       f"exec 3<>/dev/tcp/{pod.attachment.ip}/{port}"]
        with open(probe.output_path, "wb") as output:
            probe.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        probe.deadline = now + probe.timeout
        # Like the kubelet's ticker: periods count from launch to launch, and a
        # probe that outlasts its period is followed at once by the next.
        probe.next_due = now + probe.period

    @staticmethod
    def _container_port(container: dict, port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                return int(declared["containerPort"])
        raise ManifestError(f"container {container['name']!r} has no port named {port!r}")

    def _record_probe(self, container: _Container, probe: _Probe, success: bool, detail: str) -> None:
        if success:
            probe.failures = 0
            probe.successes += 1
            if probe.kind == "startup":
                container.startup_passed = True
            elif probe.kind == "readiness" and probe.successes >= probe.success_threshold:
                container.readiness_passed = True
            return
        probe.successes = 0
        probe.failures += 1
        probe.last_failure = detail
        if probe.failures < probe.failure_threshold:
            return
        if probe.kind == "readiness":
            container.readiness_passed = False
        else:
            self._stop_container(container, None,
                                 f"was killed after {probe.failures} failed {probe.kind} probes: {detail}")

    def _terminate(self, pod: _Pod, grace_seconds: float | None) -> None:
        if pod.phase == TERMINATING:
            return
        if pod.phase == FAILED:
            self._remove_pod(pod)
            return
        pod.phase = TERMINATING
        pod.termination_deadline = time.monotonic() + self._grace(grace_seconds)
        for container in pod.all_containers:
            if container.run is not None:
                container.run.signal(signal.SIGTERM)

    def _sync_termination(self, pod: _Pod, now: float) -> None:
        remaining = [c for c in pod.all_containers if c.run is not None and self._reap(c, now) is None]
        if not remaining:
            self._remove_pod(pod)
        elif now >= pod.termination_deadline:
            for container in remaining:
                container.run.signal(signal.SIGKILL)

    def _remove_pod(self, pod: _Pod) -> None:
        self._network.detach(pod.attachment)
        del self._pods[pod.name]

    def _fail_pod(self, pod: _Pod, reason: str, container: _Container | None = None) -> None:
        pod.phase = FAILED
        pod.failure = reason
        if container is not None:
            tail = self.log_tail(pod.name, container.name)
            pod.failure += f"\n  log tail of {pod.name}/{container.name}:\n" + _indent(tail, "    ")
        self._kill_pod_processes(pod)

    def _kill_pod_processes(self, pod: _Pod) -> None:
        for container in pod.all_containers:
            for probe in container.probes:
                probe.cancel()
            if container.run is not None:
                container.run.signal(signal.SIGKILL)
                container.run.wait(timeout=10)
                container.last_exit_code = container.run.poll()
                container.run = None

    def _grace(self, grace_seconds: float | None) -> float:
        if grace_seconds is None:
            grace_seconds = float(self.pod_spec.get("terminationGracePeriodSeconds", _DEFAULT_GRACE))
        return min(grace_seconds, self.max_grace_seconds)

    # Cluster DNS, as hosts files

    def _publish_dns(self) -> None:
        live = [p for p in self._pods.values() if p.phase in (INITIALIZING, RUNNING)]
        # The headless Service publishes Ready pods (all of them with publishNotReadyAddresses).
        published = {p.name: p.attachment.ip for p in live if p.ready or self._publish_not_ready}
        for pod in live:
            self._write_hosts(pod, published)

    def _write_hosts(self, pod: _Pod, published: dict[str, str]) -> None:
        service = self.service_name
        lines = [
            "# Kubernetes-managed hosts file (e2e harness)",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            # The kubelet's own entry: the pod's FQDN and hostname only.
            f"{pod.attachment.ip}\t{self.dns_name(pod.name)}\t{pod.name}",
            "# cluster DNS records: pod names with the search-domain forms, then the service name",
        ]
        for name, address in sorted(published.items()):
            lines.append(f"{address}\t{self.dns_name(name)} {name}.{service}.{self.namespace} "
                         f"{name}.{service}")
        for address in sorted(published.values()):
            lines.append(f"{address}\t{service}.{self.namespace}.svc.{CLUSTER_DOMAIN} "
                         f"{service}.{self.namespace} {service}")
        content = "\n".join(lines) + "\n"
        if content == pod.hosts_content:
            return
        # Replaced by rename: a container never reads a half-written file.
        staging = pod.directory / "kubelet" / "hosts.new"
        staging.write_text(content)
        staging.chmod(0o644)
        os.replace(staging, pod.directory / "kubelet" / "hosts")
        pod.hosts_content = content

    # Helpers

    def _pod(self, name: str) -> _Pod:
        if name not in self._pods:
            raise HarnessError(f"pod {name} does not exist\n{self.describe()}")
        return self._pods[name]

    def _wait_until(self, condition: Callable[[], bool], timeout: float, what: str,
                    pods: list[str] | None = None, locked: bool = True) -> None:
        """Poll condition (under the lock if locked); pods=None watches every pod for failure."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._loop_error:
                    raise HarnessError(f"kubelet loop crashed while waiting for {what}:\n"
                                       f"{self._loop_error}")
                watched = self._pods.values() if pods is None else [
                    self._pods[p] for p in pods if p in self._pods]
                failed = [p for p in watched if p.phase == FAILED]
                if failed:
                    raise PodFailed(f"while waiting for {what}: pod {failed[0].name} failed: "
                                    f"{failed[0].failure}\n\n{self.describe()}")
                if locked and condition():
                    return
            if not locked and condition():
                return
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}\n\n{self.describe()}")
            time.sleep(_TICK)


def _namespace_id(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _ids_of_other_namespaces(own_prefix: str) -> set[tuple[int, int]]:
    ids = set()
    for path in NETNS_DIR.glob("*") if NETNS_DIR.is_dir() else []:
        if not path.name.startswith(own_prefix + "-"):
            try:
                ids.add(_namespace_id(path))
            except OSError:  # removed meanwhile
                continue
    return ids


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


_BATCH_ESCAPE = re.compile(r"\\(.)")
_BATCH_ESCAPES = {"t": "\t", "n": "\n", "0": "\0", "\\": "\\"}


def _unescape_batch_field(value: str) -> str | None:
    """Undo the mariadb client's --batch escaping; its NULL marker becomes None."""
    if value == "NULL":
        return None
    return _BATCH_ESCAPE.sub(lambda m: _BATCH_ESCAPES.get(m.group(1), m.group(1)), value)
