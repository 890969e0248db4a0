"""A stand-in for Kubernetes that runs one StatefulSet of MySQL or MariaDB pods on this machine.

Input is the rendered manifests (ConfigMaps, Secrets, Services, StatefulSet).
Each pod gets a network namespace on a private bridge and a hosts file with
the names cluster DNS would give it; each container runs as described in
containers.py. A background thread plays StatefulSet controller
(controller.py: which pods exist) and kubelet (kubelet.py: init containers in
order, then the containers, their probes and restarts).

Tests drive it through ``StatefulSetHarness``; every wait has a timeout and a
failure names the pod and container and shows its log tail. Everything is
torn down by ``close()`` (or leaving the ``with`` block).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from .containers import host_mysql, run_in_container
from .controller import CLUSTER_DOMAIN, NODE_NAME, StatefulSetController
from .errors import HarnessError, PodFailed, WaitTimeout
from .image import (
    ABSENT_FROM_IMAGE, PROGRAM_IMAGES, ContainerImage, build_image, build_python_image, image_repository,
    is_python_image,
)
from .kubelet import (
    DEFAULT_GRACE, FAILED, LOG_TAIL_LINES, SUCCEEDED, TERMINATING, Kubelet, Pod, RestartPolicy, read_log, tail,
)
from .manifests import PodFacts, RenderedManifests
from .network import PodAttachment, PodNetwork, ids_of_other_namespaces, namespace_id, remove_stale_namespaces
from .server_roots import MACHINE_SERVER, ServerRoot, ServerRootError, python_root
from .sql import SQL_CONTAINER, batch_rows, root_password, sql_client
from .volumes import claim_directory, refresh_projected_volumes

__all__ = ["HarnessError", "PodFailed", "RestartPolicy", "SQL_CONTAINER", "StatefulSetHarness",
           "WaitTimeout", "host_problems"]

# What the harness runs on this machine; the servers' own commands come from their root tree.
REQUIRED_COMMANDS = (
    "bash", "chroot", "env", "hostname", "install", "ip", "mount", "nsenter", "realpath",
    "setpriv", "tc", "unshare",
)
_TICK = 0.1
_POD_START_TIMEOUT = 90.0
# How long a closed harness waits for killed processes to finish exiting before it reports them.
_LEFTOVER_GRACE = 15.0


def host_problems(root: ServerRoot = MACHINE_SERVER) -> list[str]:
    """Why this machine cannot run the harness with containers on `root` (empty when it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (network and mount namespaces)")
    problems += [f"command {name!r} not found" for name in REQUIRED_COMMANDS if not shutil.which(name)]
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        problems.append("user 'mysql' does not exist (install mariadb-server)")
    else:
        problems += root.problems()
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append("the kernel has no overlay file system")
    return problems


class StatefulSetHarness:
    """Plays Kubernetes for the StatefulSet in ``manifests``; use as a context manager."""

    def __init__(
        self,
        manifests: RenderedManifests | Iterable[dict],
        workdir: Path,
        *,
        restart_policy: RestartPolicy = RestartPolicy(),
        probe_period_cap: float = 0.5,
        max_grace_seconds: float = DEFAULT_GRACE,
        absent_commands: tuple[str, ...] = ABSENT_FROM_IMAGE,
        root: ServerRoot = MACHINE_SERVER,
    ):
        """root: the tree the containers' image runs on (server_roots.py)."""
        if not isinstance(manifests, RenderedManifests):
            manifests = RenderedManifests(manifests)
        self.manifests = manifests
        self.workdir = Path(workdir)
        self._absent_commands = absent_commands
        self._images_built = 0
        image = self._build_image(root)
        self.claims_dir = self.workdir / "claims"
        self.claims_dir.mkdir(parents=True, exist_ok=True)
        self._image = image
        self._program_images: dict[str, ContainerImage] = {}
        self._restart_policy = restart_policy
        self._job_runs = 0
        statefulset = manifests.only("StatefulSet")
        self._kubelet = Kubelet(statefulset, manifests, image, self.claims_dir, restart_policy,
                                probe_period_cap, max_grace_seconds,
                                self._program_images_for(statefulset["spec"]["template"]["spec"]))
        # The Services as last applied: apply() changes them only after the Jobs, like Pulumi.
        self._services = {service["metadata"]["name"]: service
                          for service in manifests.objects if service.get("kind") == "Service"}
        remove_stale_namespaces()
        self._network = PodNetwork()
        self._controller = StatefulSetController(manifests, self.workdir, self._network, self._kubelet)
        self.statefulset = statefulset
        self.name = self._controller.name
        self.namespace = self._controller.namespace
        self.service_name = self._controller.service_name
        self.pod_spec = self._kubelet.pod_spec
        self._clients: list[PodAttachment] = []
        self._jobs: list[tuple[Kubelet, Pod]] = []
        self._job_logs: dict[str, dict[str, str]] = {}
        self._failed_jobs: set[str] = set()  # Jobs of apply whose pod failed

        self._lock = threading.RLock()
        self._loop_error = ""
        self._closed = False
        self._stop = threading.Event()
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
        pods = self._controller.pods
        self._wait_until(
            lambda: set(pods) == set(expected) and all(pods[p].ready for p in expected),
            timeout or _POD_START_TIMEOUT * max(1, replicas),
            f"{replicas} ready replicas of {self.name}",
        )

    def set_replicas(self, replicas: int) -> None:
        """Set the replica count and return at once (``kubectl scale``); the controller acts on it."""
        with self._lock:
            self._controller.replicas = replicas

    def pod_name(self, ordinal: int) -> str:
        return self._controller.pod_name(ordinal)

    def roll_out(self, manifests: RenderedManifests | Iterable[dict], root: ServerRoot,
                 timeout: float = _POD_START_TIMEOUT) -> None:
        """``kubectl apply`` of a changed StatefulSet and the rollout of its RollingUpdate: each
        pod, from the highest ordinal down, is deleted and made anew from the new template, its
        containers from the image running on `root`, and is Ready before the next one goes.
        The StatefulSet's name and Service stay; claims are kept."""
        if not isinstance(manifests, RenderedManifests):
            manifests = RenderedManifests(manifests)
        image = self._build_image(root)
        with self._lock:
            self.manifests = manifests
            self.statefulset = manifests.only("StatefulSet")
            self._kubelet.change_template(self.statefulset, manifests, image)
            self.pod_spec = self._kubelet.pod_spec
        for pod in reversed(self.pod_names()):
            self.restart_pod(pod, timeout=timeout)

    # Pods

    def pod_names(self) -> list[str]:
        with self._lock:
            pods = self._controller.pods
            return sorted(pods, key=lambda name: pods[name].ordinal)

    def pod_phase(self, pod: str) -> str | None:
        with self._lock:
            found = self._controller.pods.get(pod)
            return found.phase if found else None

    def is_ready(self, pod: str) -> bool:
        with self._lock:
            found = self._controller.pods.get(pod)
            return found is not None and found.ready

    def pod_ip(self, pod: str) -> str:
        with self._lock:
            return self._pod(pod).attachment.ip

    def pod_netns_path(self, pod: str) -> Path:
        """The pod's network namespace: ``nsenter --net=<path>`` runs a program of this machine
        on the pod's network (its address and link), without the pod's image."""
        with self._lock:
            return self._pod(pod).attachment.netns_path

    def dns_name(self, pod: str) -> str:
        return self._controller.dns_name(pod)

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
            self._controller.delete_pod(self._pod(pod), grace_seconds)
        pods = self._controller.pods
        self._wait_until(lambda: pods.get(pod) is None or pods[pod].phase != TERMINATING,
                         timeout, f"pod {pod} terminated", pods=[])

    def restart_pod(self, pod: str, grace_seconds: float | None = None,
                    timeout: float = _POD_START_TIMEOUT) -> None:
        """Delete the pod and wait for its replacement to be Ready (claims kept, emptyDirs fresh)."""
        self.delete_pod(pod, grace_seconds)
        self.wait_ready(pod, timeout)

    def stop_pod(self, pod: str, grace_seconds: float | None = None, timeout: float = 60) -> None:
        """Terminate the pod and keep it down (as if its node were gone) until resume_pod."""
        with self._lock:
            self._controller.held.add(pod)
        self.delete_pod(pod, grace_seconds, timeout)

    def resume_pod(self, pod: str, timeout: float = _POD_START_TIMEOUT) -> None:
        with self._lock:
            self._controller.held.discard(pod)
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
            self._kubelet.restart_container(target, grace_seconds)
        self._wait_until(lambda: target.starts > starts_before and target.running,
                         timeout, f"container {pod}/{container} restarted", pods=[pod])

    def kill_container(self, pod: str, container: str) -> None:
        """SIGKILL the container's pid 1, like a crash; the kubelet restarts it after the backoff."""
        with self._lock:
            self._kubelet.kill_container(self._pod(pod).container(container))

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

    def cut_network(self, pod: str) -> None:
        """Partition the pod from every other pod: its packets are dropped, without resets."""
        with self._lock:
            self._network.set_link(self._pod(pod).attachment, up=False)

    def restore_network(self, pod: str) -> None:
        with self._lock:
            self._network.set_link(self._pod(pod).attachment, up=True)

    # Applying changed manifests, as `pulumi up` would

    def apply(self, manifests: RenderedManifests | Iterable[dict], job_timeout: float = 240) -> None:
        """Apply re-rendered manifests in the order Pulumi's dependencies give: ConfigMaps and
        Secrets (the kubelet refreshes the running pods' files), the StatefulSet (unchanged: a changed pod
        template is refused, roll_out rolls one), each new Job run to completion (a failed one
        raises with its log and leaves the Services as they were, as Pulumi skips what depends on
        a failed resource), and then the Services' selectors."""
        if not isinstance(manifests, RenderedManifests):
            manifests = RenderedManifests(manifests)
        # A Job that failed is run again when it has pulumi-kubernetes' replaceUnready annotation.
        old_jobs = {job["metadata"]["name"] for job in self.manifests.objects if job.get("kind") == "Job"
                    and not (job["metadata"]["name"] in self._failed_jobs and
                             (job["metadata"].get("annotations") or {}).get("pulumi.com/replaceUnready") == "true")}
        if manifests.only("StatefulSet")["spec"]["template"] != self.statefulset["spec"]["template"]:
            raise HarnessError("apply: the pod template changed; roll the pods out with roll_out")
        with self._lock:
            self.manifests = self._kubelet.manifests = manifests
            for pod in self._controller.pods.values():
                refresh_projected_volumes(self.pod_spec, manifests, pod.volumes)
        for job in manifests.objects:
            if job.get("kind") == "Job" and job["metadata"]["name"] not in old_jobs:
                name = job["metadata"]["name"]
                pod = self._run_job_pod(name, job["spec"], job_timeout)
                if pod.phase != SUCCEEDED:
                    self._failed_jobs.add(name)
                    log = "\n".join(self._job_logs[pod.name].values())
                    raise HarnessError(f"Job {name} failed: {pod.failure}\n{log}")
                self._failed_jobs.discard(name)
        self._services = {service["metadata"]["name"]: service
                          for service in manifests.objects if service.get("kind") == "Service"}

    def service_endpoints(self, service: str) -> list[str]:
        """The Ready pods the Service selects, as its Endpoints would list them."""
        selector = self._services[service]["spec"]["selector"]
        labels = self.statefulset["spec"]["template"]["metadata"].get("labels") or {}
        with self._lock:
            pods = sorted(self._controller.pods.values(), key=lambda pod: pod.ordinal)
            return [pod.name for pod in pods if pod.ready and all(
                {**labels, "statefulset.kubernetes.io/pod-name": pod.name}.get(key) == value
                for key, value in selector.items())]

    def service_target_port(self, service: str) -> int:
        """The pods' port the Service sends its (first) port's connections to, a named port
        resolved in the pod template as kube-proxy does."""
        target = self._services[service]["spec"]["ports"][0].get("targetPort")
        if isinstance(target, int):
            return target
        for container in self.pod_spec["containers"]:
            for port in container.get("ports", []):
                if port.get("name") == target:
                    return int(port["containerPort"])
        raise HarnessError(f"Service {service}'s targetPort {target!r} names no port of the pods")

    def attach_client(self, name: str) -> PodAttachment:
        """A network namespace of its own on the pod network, like a client pod: run a program
        there with ``nsenter --net=<netns_path>``. It reaches pods by address (``pod_ip``); it has
        no cluster DNS. Removed by ``detach_client`` or ``close``."""
        with self._lock:
            client = self._network.attach(f"client-{name}")
            self._clients.append(client)
            return client

    def add_service_host(self, name: str, address: str) -> None:
        """Cluster DNS for another Service (e.g. an object store on a client namespace): every
        pod's hosts file resolves `name` to `address` from now on."""
        with self._lock:
            self._controller.service_hosts[name] = address

    # Jobs

    def run_job(self, cron_job: str, timeout: float = 120) -> Pod:
        """Like ``kubectl create job --from=cronjob/<cron_job>``: one pod of the CronJob's job
        template, its spec as rendered, on the pod network with the cluster's DNS; returns the
        pod once it has Succeeded or Failed (its logs: ``job_log``). Each container runs once."""
        template = self.manifests.get("CronJob", cron_job)["spec"]["jobTemplate"]["spec"]
        return self._run_job_pod(cron_job, template, timeout)

    def _run_job_pod(self, job: str, template: dict, timeout: float) -> Pod:
        """One pod of a Job's spec, named after the Job and the run, run to completion (see
        run_job)."""
        with self._lock:
            self._job_runs += 1
            name = f"{job}-{self._job_runs}"
            kubelet = Kubelet({"spec": template}, self.manifests, self._image, self.claims_dir,
                              self._restart_policy, 0.5, DEFAULT_GRACE,
                              self._program_images_for(template["template"]["spec"]))
            directory = self.workdir / "jobs" / name
            (directory / "logs").mkdir(parents=True)
            (directory / "probes").mkdir()
            (directory / "kubelet").mkdir(mode=0o755)
            attachment = self._network.attach(name)
            pod = Pod(name=name, ordinal=-1, directory=directory, attachment=attachment)
            (directory / "kubelet" / "resolv.conf").write_text(
                f"search {self.namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\n")
            self._controller.job_pods.append(pod)
            self._jobs.append((kubelet, pod))
            kubelet.start_pod(pod, PodFacts(name=name, namespace=self.namespace,
                                            ip=attachment.ip, node_name=NODE_NAME))
        try:
            self.wait_until(lambda: pod.phase in (SUCCEEDED, FAILED), timeout, f"job pod {name} done")
        except WaitTimeout as timed_out:
            with self._lock:
                raise WaitTimeout(f"{timed_out}\n{kubelet.describe_pod(pod)}") from None
        finally:
            with self._lock:
                self._controller.job_pods.remove(pod)
                self._jobs.remove((kubelet, pod))
                kubelet.kill_pod_processes(pod)
                self._network.detach(attachment)
                self._job_logs[name] = {container.name: kubelet.log_tail(name, container.name, 10_000)
                                        for container in pod.all_containers}
        return pod

    def job_log(self, pod: Pod, container: str) -> str:
        return self._job_logs[pod.name][container]

    def _program_images_for(self, pod_spec: dict) -> dict[str, ContainerImage]:
        """Images that carry one program, stood in by the same program from PyPI, and the python
        image, stood in by a Debian tree with python3, by repository."""
        images = {}
        for container in pod_spec.get("initContainers", []) + pod_spec["containers"]:
            repository = image_repository(container["image"])
            if is_python_image(repository):
                images[repository] = self._python_image()
                continue
            if repository not in PROGRAM_IMAGES:
                continue
            if repository not in self._program_images:
                program = shutil.which(PROGRAM_IMAGES[repository],
                                       path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
                if program is None:
                    raise HarnessError(f"{PROGRAM_IMAGES[repository]} (the stand-in of image "
                                       f"{repository}) is not installed: requirements-dev.txt")
                self._program_images[repository] = build_image(
                    self.workdir / f"image-{PROGRAM_IMAGES[repository]}", self._image.tree,
                    self._image.flavor, host_mysql().pw_uid, host_mysql().pw_gid, self._absent_commands,
                    (Path(program),))
            images[repository] = self._program_images[repository]
        return images

    def _python_image(self) -> ContainerImage:
        if "python" not in self._program_images:
            try:
                tree = python_root()
            except ServerRootError as error:
                raise HarnessError(f"the python image's stand-in cannot be had: {error}") from None
            self._program_images["python"] = build_python_image(self.workdir / "image-python", tree)
        return self._program_images["python"]

    def detach_client(self, client: PodAttachment) -> None:
        """Remove a client namespace, and whatever still runs in it."""
        with self._lock:
            self._clients.remove(client)
            self._network.detach(client)

    # Exec and SQL

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
        return batch_rows(self.exec(pod, SQL_CONTAINER, argv, timeout=timeout, input_text=sql).stdout)

    def sql_client(self, *, user: str = "root", password: str | None = None,
                   host: str | None = None, database: str | None = None) -> list[str]:
        """Command line of the SQL client that run_sql runs (same defaults), reading SQL from
        stdin in batch mode; e.g. for exec_stream."""
        return sql_client(self.root_password() if password is None else password,
                          user=user, host=host, database=database, flavor=self._image.flavor)

    def root_password(self) -> str:
        return root_password(self.manifests, self.name)

    # Logs and volumes

    def log(self, pod: str, container: str, previous: bool = False) -> str:
        """The whole output of the container's latest run (previous=True: the run before)."""
        with self._lock:
            path = self._kubelet.log_path(pod, container, previous)
        return read_log(path)

    def log_tail(self, pod: str, container: str, lines: int = LOG_TAIL_LINES,
                 previous: bool = False) -> str:
        """Last lines of the container's output (previous=True: the run before the latest)."""
        return tail(self.log(pod, container, previous), lines)

    def claim_path(self, pod: str, claim: str = "data") -> Path:
        """Directory on this machine that holds the pod's volume claim."""
        return claim_directory(self.claims_dir, claim, pod)

    # Diagnostics

    def describe(self, pod: str | None = None) -> str:
        """State of the pods (or one pod), their containers, probes and log tails."""
        with self._lock:
            pods = self._controller.pods
            if pod is None:
                shown = sorted(pods.values(), key=lambda p: p.ordinal)
            elif pod in pods:
                shown = [pods[pod]]
            else:
                return f"pod {pod}: does not exist"
            sections = [self._kubelet.describe_pod(p) for p in shown]
        if self._loop_error:
            sections.insert(0, f"kubelet loop crashed:\n{self._loop_error}")
        return "\n".join(sections) or "no pods"

    def leftovers(self) -> list[str]:
        """Anything of this harness still present on the machine (empty after close)."""
        found = [f"network namespace {n}" for n in self._network.owned_namespaces()]
        # The kernel reuses a freed namespace's id: one that now belongs to a namespace of
        # someone else (e.g. another harness running at the same time) is not ours any more.
        ours = self._network.namespace_ids - ids_of_other_namespaces(self._network.name_prefix)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if namespace_id(entry / "ns" / "net") in ours:
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
        with self._lock:
            errors = self._controller.remove_all()
        try:
            self._network.close()
        except Exception as error:
            errors.append(f"removing the pod network: {error}")
        self._clients.clear()
        shutil.rmtree(self.claims_dir, ignore_errors=True)
        # A killed server may still be exiting on a busy machine (its memory being freed): that
        # is not a leak, so give what is left a moment to go before calling it left behind.
        deadline = time.monotonic() + _LEFTOVER_GRACE
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.5)
        problems = errors + [f"left behind {item}" for item in left]
        if problems:
            raise HarnessError("closing the harness: " + "; ".join(problems))

    # The background thread: controller and kubelet, under the lock

    def _kubelet_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    now = time.monotonic()
                    self._controller.sync(now)
                    for kubelet, pod in self._jobs:
                        kubelet.sync_pod(pod, now)
            except Exception:  # a bug here must surface in the test, not hang it
                self._loop_error = traceback.format_exc()
                return
            self._stop.wait(_TICK)

    # Helpers

    def _build_image(self, root: ServerRoot) -> ContainerImage:
        problems = host_problems(root)
        if problems:
            raise HarnessError("this machine cannot run the e2e harness: " + "; ".join(problems))
        self._images_built += 1
        return build_image(self.workdir / f"image-{self._images_built}", root.path, root.flavor,
                           host_mysql().pw_uid, host_mysql().pw_gid, self._absent_commands)

    def _pod(self, name: str) -> Pod:
        if name not in self._controller.pods:
            raise HarnessError(f"pod {name} does not exist\n{self.describe()}")
        return self._controller.pods[name]

    def _wait_until(self, condition: Callable[[], bool], timeout: float, what: str,
                    pods: list[str] | None = None, locked: bool = True) -> None:
        """Poll condition (under the lock if locked); pods=None watches every pod for failure."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._loop_error:
                    raise HarnessError(f"kubelet loop crashed while waiting for {what}:\n"
                                       f"{self._loop_error}")
                existing = self._controller.pods
                watched = existing.values() if pods is None else [
                    existing[p] for p in pods if p in existing]
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
