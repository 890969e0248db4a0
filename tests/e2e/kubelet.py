"""The kubelet's part: a pod's init containers in order, then its containers, their probes,
restarts and termination, and the containers' logs.

A pod here is what the kubelet runs; the StatefulSet controller (controller.py) decides which
pods exist. Everything runs in the harness's background thread, under the harness's lock.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .containers import ContainerLaunch, RunningContainer, container_security
from .errors import HarnessError
from .image import IMAGE_ENV, ContainerImage, container_argv, image_repository
from .manifests import ManifestError, PodFacts, RenderedManifests, container_environment, expand_references
from .network import PodAttachment
from .volumes import PreparedVolume, container_mounts, prepare_volumes

DEFAULT_GRACE = 30.0
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class RestartPolicy:
    """How many unexpected failures a pod survives before it counts as Failed.

    Kubernetes retries forever; a test wants the first real failure reported
    with its logs. Exits that the test itself causes (kill_container,
    restart_container) are not counted.

    Under the pods' restartPolicy Always Kubernetes restarts a container
    that exits 0 as one that fails. A MySQL server that a clone replaced
    exits 0 on purpose, once, for its container to start it on the copy
    (mysql_cluster_agent/mysql_clone.py): `clean_exits` such exits of each
    container are restarts, not failures; every further one, and every exit
    with another code, is a failure. A crash loop (a server that cannot
    start exits non-zero) is still reported at once, and a loop of clean
    exits at the one past the allowance. They all count in restart_count,
    as in the pod's status.
    """

    init_retries: int = 0
    container_restarts: int = 0
    backoff_seconds: float = 1.0
    clean_exits: int = 1


@dataclass
class Probe:
    kind: str  # "startup", "readiness" or "liveness"
    spec: dict
    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int
    success_threshold: int
    output_path: Path
    # How long the manifest lets the probe keep failing: (failureThreshold - 1) x periodSeconds.
    failing_window: float = 0.0
    failing_since: float | None = None  # launch of the first failure of the current streak
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
class Container:
    spec: dict
    is_init: bool
    env: dict[str, str]
    probes: list[Probe]
    run: RunningContainer | None = None
    starts: int = 0
    restart_count: int = 0
    failures: int = 0
    restart_at: float | None = None
    stop_deadline: float | None = None
    stop_reason: str = ""
    # Exits with code 0 restarted without counting as failures (RestartPolicy.clean_exits).
    clean_exits: int = 0
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
SUCCEEDED = "Succeeded"


@dataclass
class Pod:
    name: str
    ordinal: int
    directory: Path
    attachment: PodAttachment
    phase: str = INITIALIZING
    volumes: dict[str, PreparedVolume] = field(default_factory=dict)
    init_containers: list[Container] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    init_index: int = 0
    failure: str = ""
    termination_deadline: float = 0.0
    hosts_content: str = ""
    image: ContainerImage | None = None  # the template's when the pod was made

    @property
    def all_containers(self) -> list[Container]:
        return self.init_containers + self.containers

    @property
    def ready(self) -> bool:
        return self.phase == RUNNING and all(c.ready for c in self.containers)

    def container(self, name: str) -> Container:
        for candidate in self.all_containers:
            if candidate.name == name:
                return candidate
        raise HarnessError(f"pod {self.name} has no container {name!r}")


class Kubelet:
    """Runs the containers of the pods of the StatefulSet's pod template (the current one: a
    rollout changes it)."""

    def __init__(self, statefulset: dict, manifests: RenderedManifests, image: ContainerImage,
                 claims_dir: Path, restart_policy: RestartPolicy, probe_period_cap: float,
                 max_grace_seconds: float, program_images: dict[str, ContainerImage] | None = None):
        """`statefulset` is any object with a pod template (a StatefulSet, a Job);
        program_images gives the image of other repositories (image.PROGRAM_IMAGES)."""
        self.change_template(statefulset, manifests, image)
        self.program_images = program_images or {}
        self.claims_dir = claims_dir
        self.restart_policy = restart_policy
        self.probe_period_cap = probe_period_cap
        self.max_grace_seconds = max_grace_seconds
        self._logs: dict[tuple[str, str], list[Path]] = defaultdict(list)

    def change_template(self, statefulset: dict, manifests: RenderedManifests,
                        image: ContainerImage) -> None:
        """What pods made from now on run; pods already made keep their image."""
        self.statefulset = statefulset
        self.pod_spec = statefulset["spec"]["template"]["spec"]
        # A Job's pod: each container runs once, and the pod ends Succeeded or Failed.
        self.runs_once = self.pod_spec.get("restartPolicy") == "Never"
        self.manifests = manifests
        self.image = image

    # Setting a pod up

    def start_pod(self, pod: Pod, facts: PodFacts) -> None:
        """Prepares the pod's volumes and makes its containers and probes; the first init
        container (or the containers) starts at the next sync. The pod fails if the manifests ask
        for what is not emulated."""
        pod.image = self.image
        try:
            pod.volumes = prepare_volumes(self.statefulset, self.manifests, pod.name, pod.directory,
                                          self.claims_dir)
            for spec in self.pod_spec.get("initContainers") or []:
                pod.init_containers.append(self._new_container(pod, spec, facts, is_init=True))
            for spec in self.pod_spec["containers"]:
                pod.containers.append(self._new_container(pod, spec, facts, is_init=False))
        except (ManifestError, OSError, KeyError) as error:
            self.fail_pod(pod, f"pod could not be set up: {error!r}")
            return
        if not pod.init_containers:
            self._start_main_containers(pod)

    def _new_container(self, pod: Pod, spec: dict, facts: PodFacts, is_init: bool) -> Container:
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
        return Container(spec=spec, is_init=is_init, env=env, probes=probes, restart_at=0.0)

    def _new_probe(self, pod: Pod, container: dict, kind: str) -> Probe:
        spec = container[f"{kind}Probe"]
        if not {"exec", "tcpSocket", "httpGet"} & set(spec):
            raise ManifestError(f"{kind} probe of {container['name']!r}: only exec, tcpSocket and "
                                "httpGet probes are emulated")
        period = float(spec.get("periodSeconds", 10))
        failure_threshold = int(spec.get("failureThreshold", 3))
        failing_window = (failure_threshold - 1) * period
        initial_delay = float(spec.get("initialDelaySeconds", 0))
        if kind != "liveness":
            # Startup and readiness probes only decide when things may proceed,
            # so they are polled faster; the time a probe may keep failing
            # (failureThreshold x periodSeconds) stays what the manifest says.
            fast_period = min(period, self.probe_period_cap)
            failure_threshold = math.ceil(failure_threshold * period / fast_period)
            period, initial_delay = fast_period, min(initial_delay, fast_period)
        return Probe(
            kind=kind, spec=spec, initial_delay=initial_delay, period=period,
            timeout=float(spec.get("timeoutSeconds", 1)), failure_threshold=failure_threshold,
            success_threshold=int(spec.get("successThreshold", 1)),
            output_path=pod.directory / "probes" / f"{container['name']}-{kind}.out",
            failing_window=failing_window,
        )

    # The sync loop

    def sync_pod(self, pod: Pod, now: float) -> bool:
        """One step of the pod's lifecycle; True once a terminating pod has nothing left running."""
        if pod.phase == TERMINATING:
            return self._sync_termination(pod, now)
        if pod.phase == INITIALIZING:
            self._sync_init(pod, now)
        elif pod.phase == RUNNING:
            for container in pod.containers:
                self._sync_main_container(pod, container, now)
                if pod.phase != RUNNING:
                    break
            if self.runs_once and pod.phase == RUNNING and all(
                    c.run is None for c in pod.containers):
                failed = [c for c in pod.containers if c.last_exit_code != 0]
                pod.phase = FAILED if failed else SUCCEEDED
                if failed:
                    pod.failure = f"container {failed[0].name} exited with code {failed[0].last_exit_code}"
        return False

    def _sync_init(self, pod: Pod, now: float) -> None:
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
            self.fail_pod(pod, f"init container {container.name} exited with code {code}",
                          container)
            return
        container.restart_count += 1
        container.restart_at = now + self.restart_policy.backoff_seconds

    def _start_main_containers(self, pod: Pod) -> None:
        pod.phase = RUNNING
        for container in pod.containers:
            self._start_container(pod, container)
            if pod.phase == FAILED:
                return

    def _sync_main_container(self, pod: Pod, container: Container, now: float) -> None:
        if container.run is None:
            if container.restart_at is not None and now >= container.restart_at:
                self._start_container(pod, container)
            return
        code = self._reap(container, now)
        if code is None:
            if container.run.is_started:
                self._sync_probes(pod, container, now)
            return
        if self.runs_once:
            return
        if container.requested_restart_delay is not None:
            container.restart_at = now + container.requested_restart_delay
            container.requested_restart_delay = None
        elif code == 0 and container.clean_exits < self.restart_policy.clean_exits:
            container.clean_exits += 1
            container.restart_at = now + self.restart_policy.backoff_seconds
        else:
            container.failures += 1
            if container.failures > self.restart_policy.container_restarts:
                reason = container.stop_reason or f"exited with code {code}"
                self.fail_pod(pod, f"container {container.name} {reason}", container)
                return
            container.restart_at = now + self.restart_policy.backoff_seconds
        container.restart_count += 1

    def _start_container(self, pod: Pod, container: Container) -> None:
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
                image=self.program_images.get(image_repository(container.spec.get("image", "")),
                                              pod.image),
                kubelet_files=pod.directory / "kubelet",
                scratch_dir=pod.directory / "containers" / run_name,
            )
        except (ManifestError, OSError) as error:
            self.fail_pod(pod, f"container {container.name} could not be set up: {error}")
            return
        container.run = RunningContainer(launch, log_path)
        container.stop_reason = ""
        for probe in container.probes:
            probe.cancel()
            probe.failures = probe.successes = 0
            probe.next_due = time.monotonic() + probe.initial_delay

    def _reap(self, container: Container, now: float) -> int | None:
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

    # Stopping containers

    def stop_container(self, container: Container, grace_seconds: float | None, reason: str) -> None:
        """SIGTERM now, SIGKILL once the grace period is over."""
        container.stop_reason = reason
        container.stop_deadline = time.monotonic() + self.grace(grace_seconds)
        container.run.signal(signal.SIGTERM)

    def restart_container(self, container: Container, grace_seconds: float | None) -> None:
        """Stops the container; it starts again at once, and the exit counts as no failure."""
        container.requested_restart_delay = 0.0
        self.stop_container(container, grace_seconds, "restart requested by the test")

    def kill_container(self, container: Container) -> None:
        """SIGKILL its pid 1, like a crash; restarted after the backoff, counted as no failure."""
        if container.run is not None:
            container.requested_restart_delay = self.restart_policy.backoff_seconds
            container.run.signal(signal.SIGKILL)

    def terminate(self, pod: Pod, grace_seconds: float | None) -> None:
        """SIGTERM to every container, SIGKILL to those left when the grace period is over."""
        pod.phase = TERMINATING
        pod.termination_deadline = time.monotonic() + self.grace(grace_seconds)
        for container in pod.all_containers:
            if container.run is not None:
                container.run.signal(signal.SIGTERM)

    def _sync_termination(self, pod: Pod, now: float) -> bool:
        remaining = [c for c in pod.all_containers if c.run is not None and self._reap(c, now) is None]
        if remaining and now >= pod.termination_deadline:
            for container in remaining:
                container.run.signal(signal.SIGKILL)
        return not remaining

    def fail_pod(self, pod: Pod, reason: str, container: Container | None = None) -> None:
        pod.phase = FAILED
        pod.failure = reason
        if container is not None:
            last_lines = self.log_tail(pod.name, container.name)
            pod.failure += f"\n  log tail of {pod.name}/{container.name}:\n" + indent(last_lines, "    ")
        self.kill_pod_processes(pod)

    def kill_pod_processes(self, pod: Pod) -> None:
        for container in pod.all_containers:
            for probe in container.probes:
                probe.cancel()
            if container.run is not None:
                container.run.signal(signal.SIGKILL)
                container.run.wait(timeout=10)
                container.last_exit_code = container.run.poll()
                container.run = None

    def grace(self, grace_seconds: float | None) -> float:
        if grace_seconds is None:
            grace_seconds = float(self.pod_spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE))
        return min(grace_seconds, self.max_grace_seconds)

    # Probes

    def _sync_probes(self, pod: Pod, container: Container, now: float) -> None:
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

    def _launch_probe(self, pod: Pod, container: Container, probe: Probe, now: float) -> None:
        if "exec" in probe.spec:
            command = container.run.exec_command([str(a) for a in probe.spec["exec"]["command"]])
        elif "httpGet" in probe.spec:
            command = _http_get_command(pod, container.spec, probe.spec["httpGet"], probe.timeout)
        else:
            port = _container_port(container.spec, probe.spec["tcpSocket"]["port"])
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

    def _record_probe(self, container: Container, probe: Probe, success: bool, detail: str) -> None:
        if success:
            probe.failures = 0
            probe.failing_since = None
            probe.successes += 1
            if probe.kind == "startup":
                container.startup_passed = True
            elif probe.kind == "readiness" and probe.successes >= probe.success_threshold:
                container.readiness_passed = True
            return
        probe.successes = 0
        probe.failures += 1
        probe.last_failure = detail
        launched = probe.deadline - probe.timeout
        if probe.failing_since is None:
            probe.failing_since = launched
        # A probe slower than the fast period would stretch the manifest's failing time if only
        # failures were counted: the streak also ends it once it has lasted that long.
        if (probe.failures < probe.failure_threshold
                and launched - probe.failing_since < probe.failing_window):
            return
        if probe.kind == "readiness":
            container.readiness_passed = False
        else:
            self.stop_container(container, None,
                                f"was killed after {probe.failures} failed {probe.kind} probes: {detail}")

    # Logs and state

    def log_path(self, pod: str, container: str, previous: bool = False) -> Path | None:
        """The log file of the container's latest run (previous=True: the run before), if any."""
        history = self._logs.get((pod, container), [])
        wanted = -2 if previous else -1
        return history[wanted] if len(history) >= abs(wanted) else None

    def log_tail(self, pod: str, container: str, lines: int = LOG_TAIL_LINES) -> str:
        return tail(read_log(self.log_path(pod, container)), lines)

    def describe_pod(self, pod: Pod) -> str:
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
            last_lines = self.log_tail(pod.name, container.name, lines=15)
            if last_lines:
                lines.append("    log tail:\n" + indent(last_lines, "      "))
        return "\n".join(lines)


def _container_port(container: dict, port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ManifestError(f"container {container['name']!r} has no port named {port!r}")


def _http_get_command(pod: Pod, container: dict, action: dict, timeout: float) -> list[str]:
    """The kubelet's GET, from outside the pod to the pod's address (or the probe's `host`): a
    status from 200 to 399 passes and any other fails, as in kubernetes pkg/probe/http/http.go
    (a redirect is not followed here: it passes). The body is the probe's output, like an exec
    probe's; curl adds a line naming a failing status or connection."""
    scheme = action.get("scheme", "HTTP")
    if scheme not in ("HTTP", "HTTPS"):
        raise ManifestError(f"httpGet probe of {container['name']!r}: scheme {scheme!r} is neither "
                            "HTTP nor HTTPS")
    port = _container_port(container, action["port"])
    url = f"{scheme.lower()}://{action.get('host') or pod.attachment.ip}:{port}{action.get('path', '/')}"
    headers = [argument for header in action.get("httpHeaders") or []
               for argument in ("--header", f"{header['name']}: {header['value']}")]
    # The kubelet does not verify an HTTPS probe's certificate.
    return ["nsenter", f"--net={pod.attachment.netns_path}", "curl", "--silent", "--show-error",
            "--fail-with-body", "--max-time", f"{timeout:g}", "--user-agent", "kube-probe",
            *(["--insecure"] if scheme == "HTTPS" else []), *headers, url]


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def read_log(path: Path | None) -> str:
    try:
        return path.read_text(errors="replace") if path else ""
    except FileNotFoundError:
        return ""


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())
