"""Running one container: namespaces, root file system, user, and exec into it.

A container is the process tree of one ``unshare`` call entered into its
pod's network namespace. It gets its own mount, UTS, IPC and PID namespaces:
pid 1 is the container's command, and when pid 1 ends the kernel ends every
other process of the container. Its root is an overlay of the machine's ``/``
with a fresh, private upper layer (the container's writable layer), adjusted
to look like the image and with the pod's volumes bind-mounted into it. All
mounts are made inside the container's mount namespace, so the machine's own
mount table never changes and nothing is left mounted when it ends.
"""

from __future__ import annotations

import os
import pwd
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .image import ImageLayer
from .manifests import ManifestError

# The image runs MariaDB as uid/gid 999 ("mysql"), and manifests say
# runAsUser/runAsGroup/fsGroup 999. Here that account is Debian's mysql user,
# whatever its ids are on this machine; this is the one place that maps them.
IMAGE_MYSQL_ID = 999
HOST_MYSQL = pwd.getpwnam("mysql")

_STARTED = b"started"
_SETUP_NAME = "e2e-container-setup"


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def _host_uid(uid: int) -> int:
    if uid in (0, IMAGE_MYSQL_ID):
        return 0 if uid == 0 else HOST_MYSQL.pw_uid
    raise ManifestError(f"runAsUser {uid} is not emulated (only 0 and {IMAGE_MYSQL_ID})")


def _host_gid(gid: int) -> int:
    if gid in (0, IMAGE_MYSQL_ID):
        return 0 if gid == 0 else HOST_MYSQL.pw_gid
    raise ManifestError(f"group {gid} is not emulated (only 0 and {IMAGE_MYSQL_ID})")


def fs_group(pod_spec: dict) -> int | None:
    value = (pod_spec.get("securityContext") or {}).get("fsGroup")
    return None if value is None else _host_gid(int(value))


def container_identity(pod_spec: dict, container: dict) -> Identity:
    """The user a container runs as; container securityContext overrides the pod's."""
    pod_context = pod_spec.get("securityContext") or {}
    container_context = container.get("securityContext") or {}
    run_as_user = container_context.get("runAsUser", pod_context.get("runAsUser", 0))
    uid = _host_uid(int(run_as_user))
    run_as_group = container_context.get("runAsGroup", pod_context.get("runAsGroup"))
    if run_as_group is not None:
        gid = _host_gid(int(run_as_group))
    else:
        gid = HOST_MYSQL.pw_gid if uid == HOST_MYSQL.pw_uid else 0
    groups = {gid}
    if fs_group(pod_spec) is not None:
        groups.add(fs_group(pod_spec))
    groups.update(_host_gid(int(g)) for g in pod_context.get("supplementalGroups") or [])
    home = HOST_MYSQL.pw_dir if uid == HOST_MYSQL.pw_uid else "/root"
    return Identity(uid=uid, gid=gid, groups=tuple(sorted(groups)), home=home)


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
    identity: Identity
    mounts: list[Mount]
    kubelet_files: Path  # holds hosts and resolv.conf, kept current by the harness
    scratch_dir: Path  # empty directory; a private tmpfs is mounted on it
    image: ImageLayer


# Where the kubelet-managed files appear inside a container; /etc/hosts and
# /etc/resolv.conf point there, so the harness can replace them atomically.
KUBELET_FILES_MOUNT = "/run/kubernetes-pod"


def _user_switch(identity: Identity, working_dir: str, env: dict[str, str]) -> list[str]:
    """Command prefix that becomes the container user with exactly the container env."""
    return [
        "chroot", f"--userspec={identity.uid}:{identity.gid}",
        f"--groups={','.join(map(str, identity.groups))}", "/",
        "/usr/bin/env", "-i", "-C", working_dir,
        *(f"{name}={value}" for name, value in env.items()),
    ]


def _setup_script(launch: ContainerLaunch, started_fd: int) -> str:
    q = shlex.quote
    root = f"{launch.scratch_dir}/root"
    lines = [
        "set -euo pipefail",
        "umask 0022",
        f"exec 3>&{started_fd} {started_fd}>&-",
        f"hostname {q(launch.hostname)}",
        f"mount -t tmpfs -o mode=0755 container {q(str(launch.scratch_dir))}",
        f"cd {q(str(launch.scratch_dir))} && mkdir upper work root",
        f"mount -t overlay overlay -o lowerdir=/,upperdir=$PWD/upper,workdir=$PWD/work {q(root)}",
        f"mount -t proc proc {q(root)}/proc",
        f"mount -t sysfs -o ro sysfs {q(root)}/sys",
        f"mount --rbind /dev {q(root)}/dev",
        f"mount -t tmpfs -o mode=1777 shm {q(root)}/dev/shm",
        f"mount -t tmpfs -o mode=1777 tmp {q(root)}/tmp",
        # Image stand-in: its own /usr/local/bin, config and directories, none
        # of the machine's extra tools, and no trace of the machine's datadir.
        f"rm -rf {q(root)}/usr/local/bin/*",
        f"install -m 0755 {q(str(launch.image.entrypoint))} {q(root)}/usr/local/bin/docker-entrypoint.sh",
        "shopt -s nullglob",
        *(f"rm -f {q(root)}/usr/bin/{pattern}" for pattern in launch.image.absent_commands),
        f"rm -rf {q(root)}/etc/mysql && cp -a {q(str(launch.image.etc_mysql))} {q(root)}/etc/mysql",
        f"rm -rf {q(root)}/run/mysqld {q(root)}/var/lib/mysql",
        f"install -d -m 0777 -o mysql -g mysql {q(root)}/run/mysqld",
        f"install -d -m 0755 -o mysql -g mysql {q(root)}/var/lib/mysql",
        f"mkdir -p {q(root)}{KUBELET_FILES_MOUNT}",
        f"mount --bind -o ro {q(str(launch.kubelet_files))} {q(root)}{KUBELET_FILES_MOUNT}",
        f"ln -sfn {KUBELET_FILES_MOUNT}/hosts {q(root)}/etc/hosts",
        f"ln -sfn {KUBELET_FILES_MOUNT}/resolv.conf {q(root)}/etc/resolv.conf",
    ]
    # Parents before children, as container runtimes order mounts.
    for mount in sorted(launch.mounts, key=lambda m: m.target.rstrip("/").count("/")):
        # Resolve the target inside the container's root, so that symlinks on
        # the way (/var/run -> /run) lead where they would in the container.
        lines.append(f"target={q(root)}$(chroot {q(root)} realpath -m -- {q(mount.target)})")
        if mount.source.is_dir():
            lines.append('mkdir -p "$target"')
        else:
            lines.append('mkdir -p "$(dirname "$target")" && touch "$target"')
        lines.append(f'mount --bind {q(str(mount.source))} "$target"')
        if mount.read_only:
            lines.append('mount -o remount,bind,ro "$target"')
    # Once inside the root and as the container user, report "started" and
    # become the container's command.
    announce = f'printf {_STARTED.decode()} >&3; exec 3>&-; exec "$@"'
    command = [
        "exec", "chroot", f"--userspec={launch.identity.uid}:{launch.identity.gid}",
        f"--groups={','.join(map(str, launch.identity.groups))}", root,
        "/usr/bin/env", "-i", "-C", launch.working_dir,
        *(f"{name}={value}" for name, value in launch.env.items()),
        "/bin/sh", "-c", announce, "container", *launch.argv,
    ]
    lines.append(" ".join(q(part) for part in command))
    return "\n".join(lines) + "\n"


class RunningContainer:
    """One start of a container, from launch until its pid 1 has exited."""

    def __init__(self, launch: ContainerLaunch, log_path: Path):
        self.launch = launch
        self.log_path = log_path
        self.started_at = time.monotonic()
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
                    # If the harness dies, unshare gets SIGKILL, and --kill-child
                    # passes it on to the container's pid 1.
                    "setpriv", "--pdeathsig", "KILL",
                    "nsenter", f"--net={launch.netns_path}",
                    "unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child",
                    "bash", "-c", _setup_script(launch, write_end), _SETUP_NAME,
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
        """Host pid of the container's pid 1 (the child unshare forked)."""
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
        # the whole PID namespace. Before pid 1 exists, end unshare itself.
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

    def exec_command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """Command line that runs argv inside this container, like ``kubectl exec``."""
        if not self.is_started or self.root_pid is None:
            raise RuntimeError("container is not running")
        return [
            "nsenter", f"--target={self.root_pid}",
            "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
            *_user_switch(self.launch.identity, self.launch.working_dir, env),
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
