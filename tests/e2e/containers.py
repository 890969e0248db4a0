"""Running one container: namespaces, root file system, user, and exec into it.

A container is a process tree in its pod's network namespace with its own
mount, UTS, IPC and PID namespaces. Pid 1 is the container's command; when it
ends, the kernel ends every other process of the container. Its parent, a
small shell "shim" outside the PID namespace, reports its exit status the way
Kubernetes does (128+n for signal n).

The root file system is an overlay: a fresh writable layer (private tmpfs)
over the image layer over a server's root tree (image.py, server_roots.py).
The pod's volumes are bind-mounted into it. All mounts exist only in the
container's mount namespace, so the machine's mount table never changes and
nothing stays mounted when the container ends.
"""

from __future__ import annotations

import functools
import os
import pwd
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .image import KUBELET_FILES_MOUNT, ContainerImage
from .manifests import ManifestError

# The image runs MariaDB as uid/gid 999 ("mysql"), and manifests say
# runAsUser/runAsGroup/fsGroup 999. Here that account is Debian's mysql user,
# whatever its ids are on this machine; this is the one place that maps them.
IMAGE_MYSQL_ID = 999


@functools.cache
def host_mysql() -> pwd.struct_passwd:
    return pwd.getpwnam("mysql")


def _host_uid(uid: int) -> int:
    if uid == 0:
        return 0
    if uid == IMAGE_MYSQL_ID:
        return host_mysql().pw_uid
    raise ManifestError(f"runAsUser {uid} is not emulated (only 0 and {IMAGE_MYSQL_ID})")


def _host_gid(gid: int) -> int:
    if gid == 0:
        return 0
    if gid == IMAGE_MYSQL_ID:
        return host_mysql().pw_gid
    raise ManifestError(f"group {gid} is not emulated (only 0 and {IMAGE_MYSQL_ID})")


def fs_group(pod_spec: dict) -> int | None:
    value = (pod_spec.get("securityContext") or {}).get("fsGroup")
    return None if value is None else _host_gid(int(value))


@dataclass(frozen=True)
class Security:
    """The parts of a securityContext that the harness applies to container processes."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    read_only_root: bool
    no_new_privileges: bool


def container_security(pod_spec: dict, container: dict) -> Security:
    """Container securityContext settings override the pod's."""
    pod_context = pod_spec.get("securityContext") or {}
    context = {**pod_context, **(container.get("securityContext") or {})}
    uid = _host_uid(int(context.get("runAsUser", 0)))
    if context.get("runAsNonRoot") and uid == 0:
        raise ManifestError(f"container {container['name']!r} has runAsNonRoot but would run as root")
    if context.get("runAsGroup") is not None:
        gid = _host_gid(int(context["runAsGroup"]))
    else:
        # Without runAsGroup the user's primary group from the image applies.
        gid = host_mysql().pw_gid if uid == host_mysql().pw_uid else 0
    groups = {gid}
    if fs_group(pod_spec) is not None:
        groups.add(fs_group(pod_spec))
    groups.update(_host_gid(int(g)) for g in pod_context.get("supplementalGroups") or [])
    return Security(
        uid=uid,
        gid=gid,
        groups=tuple(sorted(groups)),
        home=host_mysql().pw_dir if uid == host_mysql().pw_uid else "/root",
        read_only_root=bool(context.get("readOnlyRootFilesystem")),
        no_new_privileges=context.get("allowPrivilegeEscalation") is False,
    )


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool


@dataclass(frozen=True)
class ContainerLaunch:
    hostname: str
    netns_path: Path
    argv: list[str]
    env: dict[str, str]
    working_dir: str
    security: Security
    mounts: list[Mount]
    image: ContainerImage
    kubelet_files: Path  # holds hosts and resolv.conf, kept current by the harness
    scratch_dir: Path  # empty directory; a private tmpfs is mounted on it


def _become_container_process(launch: ContainerLaunch, root: str, parent_death_kill: bool) -> list[str]:
    """Command prefix: enter root as the container user, with exactly the container env."""
    security = launch.security
    privileges = ["/usr/bin/setpriv"]
    if parent_death_kill:
        # Set after the user switch, which clears it.
        privileges += ["--pdeathsig", "KILL"]
    if security.no_new_privileges:
        privileges.append("--no-new-privs")
    return [
        "chroot", f"--userspec={security.uid}:{security.gid}",
        f"--groups={','.join(map(str, security.groups))}", root,
        *privileges, "--",
        "/usr/bin/env", "-i", "-C", launch.working_dir,
        *(f"{name}={value}" for name, value in launch.env.items()),
    ]


_STARTED = b"started"

# Outside the new PID namespace, so its first child becomes pid 1 there.
# Job control keeps SIGINT and SIGQUIT usable in that child, as in a
# container; the shim's own job reports are kept out of the container log.
_SHIM = """set -m
exec 3>&{started_fd} {started_fd}>&-
bash -c "$1" e2e-container-setup &
exec 3>&- >/dev/null 2>&1
wait $!
"""


def _setup_script(launch: ContainerLaunch) -> str:
    """What pid 1 does as root before it becomes the container's command."""
    q = shlex.quote
    root = f"{launch.scratch_dir}/root"
    lines = [
        "set -euo pipefail",
        "umask 0022",
        f"hostname {q(launch.hostname)}",
        f"mount -t tmpfs -o mode=0755 container {q(str(launch.scratch_dir))}",
        f"cd {q(str(launch.scratch_dir))}",
        "mkdir upper work root",
        # The image layer is copied into the tmpfs: overlayfs refuses a lower
        # layer that lies inside another lower layer (such as the machine's /).
        f"cp -a {q(str(launch.image.layer))} image",
        f"mount -t overlay overlay -o lowerdir=$PWD/image:{q(str(launch.image.tree))},"
        "upperdir=$PWD/upper,workdir=$PWD/work root",
        "mount -t proc proc root/proc",
        "mount -t sysfs -o ro sysfs root/sys",
        "mount --rbind /dev root/dev",
        "mount -t tmpfs -o mode=1777 shm root/dev/shm",
        f"mount --bind -o ro {q(str(launch.kubelet_files))} root{KUBELET_FILES_MOUNT}",
    ]
    # Parents before children, as container runtimes order mounts.
    for mount in sorted(launch.mounts, key=lambda m: m.target.rstrip("/").count("/")):
        # Resolve the target inside the container's root, so that symlinks on
        # the way (/var/run -> /run) lead where they would in the container.
        lines.append(f"target=root$(chroot root realpath -m -- {q(mount.target)})")
        if mount.source.is_dir():
            lines.append('mkdir -p "$target"')
        else:
            lines.append('mkdir -p "$(dirname "$target")" && touch "$target"')
        lines.append(f'mount --bind {q(str(mount.source))} "$target"')
        if mount.read_only:
            lines.append('mount -o remount,bind,ro "$target"')
    if launch.security.read_only_root:
        lines.append("mount -o remount,ro root")
    # Once inside the root and as the container user, report "started" and
    # become the container's command.
    announce = f'printf {_STARTED.decode()} >&3; exec 3>&-; exec "$@"'
    command = ["exec", *_become_container_process(launch, root, parent_death_kill=True),
               "/bin/sh", "-c", announce, "container", *launch.argv]
    lines.append(" ".join(q(part) for part in command))
    return "\n".join(lines) + "\n"


class RunningContainer:
    """One start of a container, from launch until its pid 1 has exited."""

    def __init__(self, launch: ContainerLaunch, log_path: Path):
        self.launch = launch
        self.log_path = log_path
        self.is_started = False
        self.exit_code: int | None = None
        self._root_pid: int | None = None
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(read_end, False)
        self._started_pipe = read_end
        launch.scratch_dir.mkdir(parents=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    # If the harness dies, the shim gets SIGKILL, and pid 1 with it.
                    "setpriv", "--pdeathsig", "KILL",
                    "nsenter", f"--net={launch.netns_path}",
                    "unshare", "--mount", "--uts", "--ipc", "--pid",
                    "bash", "-c", _SHIM.format(started_fd=write_end), "e2e-container-shim",
                    _setup_script(launch),
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(write_end,), start_new_session=True,
            )
        os.close(write_end)

    def poll(self) -> int | None:
        """Exit code once the container has ended (128+n when killed by signal n)."""
        if self.exit_code is None:
            if not self.is_started:
                self._check_started()
            code = self.process.poll()
            if code is not None:
                self.exit_code = 128 - code if code < 0 else code
                self._close_pipe()
        return self.exit_code

    def _check_started(self) -> None:
        if self._started_pipe < 0:
            return
        try:
            data = os.read(self._started_pipe, len(_STARTED))
        except BlockingIOError:
            return
        self.is_started = data == _STARTED
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self._started_pipe >= 0:
            os.close(self._started_pipe)
            self._started_pipe = -1

    @property
    def root_pid(self) -> int | None:
        """Host pid of the container's pid 1 (the shim's child)."""
        if self._root_pid is None and self.process.poll() is None:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            try:
                pids = children.read_text().split()
            except FileNotFoundError:
                return None
            self._root_pid = int(pids[0]) if pids else None
        return self._root_pid

    def signal(self, signum: int) -> None:
        # Signal pid 1 from outside, as the runtime does; SIGKILL of pid 1 ends
        # the whole PID namespace. Before pid 1 exists, end the shim itself.
        if self.poll() is not None:
            return
        target = self.root_pid or self.process.pid
        try:
            os.kill(target, signum)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float) -> int | None:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.poll()

    def exec_command(self, argv: list[str]) -> list[str]:
        """Command line that runs argv inside this container, like ``kubectl exec``."""
        if not self.is_started or self.root_pid is None:
            raise RuntimeError("container is not running")
        return [
            "nsenter", f"--target={self.root_pid}",
            "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
            *_become_container_process(self.launch, "/", parent_death_kill=False),
            *argv,
        ]


def run_in_container(command: list[str], timeout: float, input_text: str | None = None
                     ) -> subprocess.CompletedProcess:
    """Run an exec command line, killing its whole process group on timeout."""
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
