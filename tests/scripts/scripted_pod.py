"""One pod of the rendered StatefulSet, laid out in a temporary directory, whose container and
probe commands run with bash and the stand-ins of standins.py; a container that runs a step of
the agent (init-mysql) runs the agent's code as the pod's agent volume lays it out.

Every volume of the pod is a directory; each container sees the volumes it mounts, so a path in
its environment (DATA_VOLUME=/data, SECRETS_DIR=..., TMPDIR=/tmp) is rewritten to the directory
of the volume mounted there. A path under no mount is on the container's read-only root
filesystem: it is rewritten to a place that does not exist, so writing there fails.
"""
from __future__ import annotations

import functools
import marshal
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mysql_cluster import supported_servers
from mysql_cluster_agent.dialect import Flavor, dialect_for
from mysql_cluster_agent.donor import Donors, NewDatabase, write_choice

import server_model
import standins

# Every server the cluster supports, from the component's own list, as "flavor version".
SERVERS = tuple(f"{flavor} {version}" for flavor, version in supported_servers.SERVERS)
# The servers whose new replicas receive a streamed backup, which the stand-ins model (MariaDB's
# mariadb-backup), in the clone-mysql init container. MySQL's are copied by the agent into the
# running server with the CLONE plugin (mysql_cluster_agent/mysql_clone.py): tests/agent runs it
# on MySQL 9.7, and tests/e2e (test_replication.py, test_scale_out.py, test_tls.py).
STREAM_CLONE_SERVERS = tuple(server for server in SERVERS if server.startswith("mariadb"))
# For behaviour that differs by flavor only: the default line of each.
ONE_PER_FLAVOR = tuple(f"{flavor} {version}" for flavor, version in supported_servers.DEFAULT_VERSIONS.items())


def server_of(server: str) -> supported_servers.Server:
    flavor, version = server.split()
    return supported_servers.SERVERS[(flavor, version)]


# Stack config per server.
SERVER_CONFIG = {server: {"flavor": server.split()[0], "version": server.split()[1]}
                 for server in SERVERS}

# The passwords the stacks are rendered with, by Secret key. Each holds a marker found nowhere
# else, so a leak is found in any quoting, and characters that need escaping in an option file,
# in SQL and in the shell.
PASSWORDS = {
    "root-password": "rootQx7Vd-'\"\\ #;$x",
    "replication-password": "replQx7Vd-'\"\\ #;$x",
    "backup-password": "backQx7Vd-'\"\\ #;$x",
    "app-password": "appsQx7Vd-'\"\\ #;$x",
}
MARKERS = ("rootQx7Vd", "replQx7Vd", "backQx7Vd", "appsQx7Vd")
PASSWORD_CONFIG = {"rootPassword": PASSWORDS["root-password"],
                   "replicationPassword": PASSWORDS["replication-password"],
                   "backupPassword": PASSWORDS["backup-password"],
                   "appPassword": PASSWORDS["app-password"]}

# The GTIDs of the donor a clone copies when a test does not say otherwise.
DONOR_GTIDS = {"mysql": "3e11fa47-71ca-11e1-9e33-c80aa9000100:1-77", "mariadb": "0-100-42"}


def sql_literal(text: str) -> str:
    """A MySQL string literal (default sql_mode: backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def primary_state(server: str) -> dict[str, Any]:
    """The server model of a primary of this cluster (GTIDs on, its own binary log) that has
    committed the DONOR_GTIDS."""
    state = server_model.new_state(server, {"gtid_mode": "ON", "enforce_gtid_consistency": "ON",
                                            "log_bin": "mysql-bin", "server_id": "100"})
    state["gtid_binlog_pos" if is_mariadb(server) else "gtid_executed"] = DONOR_GTIDS[server_model.flavor(server)]
    return state


def donor_files(server: str, state: dict[str, Any] | None = None, **info: str | None) -> list[tuple[str, str]]:
    """What the backup tool of `server` streams from a donor with this server model (by default
    primary_state), with --slave-info; `info` replaces info files by kind (binlog_info="..."), or
    drops them (None)."""
    files = dict(server_model.backup_files(state or primary_state(server), ["--backup", "--slave-info"]))
    prefix = server_model.info_prefix(server)
    last = {name: files.pop(name) for name in (f"{prefix}_checkpoints", f"{prefix}_info")}
    for kind, text in info.items():
        files.pop(f"{prefix}_{kind}", None)
        if text is not None:
            files[f"{prefix}_{kind}"] = text
    return list({**files, **last}.items())


def is_mariadb(server: str) -> bool:
    return server.startswith("mariadb")


def dialect_env(flavor: str, version: str = "") -> dict[str, str]:
    """The dialect facts the component gives every container that runs a script, for the tests
    that run one with an environment of their own."""
    return dialect_for(Flavor(flavor), version).script_environment()


def sql_client(server: str) -> str:
    return server_of(server).dialect.sql_client[0]


def admin_client(server: str) -> str:
    return server_of(server).dialect.admin_client[0]


def backup_tool(server: str) -> str:
    return server_of(server).dialect.backup_tool[0]


def stream_tool(server: str) -> str:
    return server_of(server).dialect.stream_tool[0]


def image_tools(server: str) -> set[str]:
    """The programs of the pod's images that the stand-ins model: the mariadb image has the
    clients, the backup and stream tools and socat; the mysql image only the clients (its clones
    are the server's CLONE plugin, which tests/e2e runs for real on 9.7: no stand-in here)."""
    if is_mariadb(server):
        return {sql_client(server), admin_client(server), backup_tool(server), stream_tool(server),
                "socat", "sleep"}
    return {sql_client(server), admin_client(server), "sleep"}


@functools.cache
def real_command(name: str) -> str:
    path = shutil.which(name)
    assert path, f"this machine has no {name}"
    return path


def install_standins(bin_dir: Path, control: Path, tools: set[str], record_real: bool) -> None:
    """Makes bin_dir the whole PATH of a container: the given stand-ins, the real commands the
    scripts may use (shims that record their argv first when record_real: they are called
    thousands of times, so only where their argv is searched), the no-ops, and bash."""
    if bin_dir.exists():
        shutil.rmtree(bin_dir)
    bin_dir.mkdir(parents=True)
    here = Path(__file__).resolve().parent
    for tool in sorted(tools):
        assert tool in standins.ROLES, f"no stand-in for {tool}"
        _executable(bin_dir / tool, (
            f"#!{sys.executable} -SI\n"
            "import sys\n"
            f"sys.path.insert(0, {str(here)!r})\n"
            "import standins\n"
            f"standins.main({tool!r}, {str(control)!r})\n"))
    argv_log = shlex.quote(str(control / standins.ARGV_LOG))
    record_argv = f"printf '%s\\0' \"${{0##*/}}\" \"$@\" >>{argv_log}\necho >>{argv_log}\n"
    for tool in standins.REAL_TOOLS:
        if record_real:  # dash starts quickest
            _executable(bin_dir / tool, f"#!/bin/sh\n{record_argv}exec {shlex.quote(real_command(tool))} \"$@\"\n")
        else:
            (bin_dir / tool).symlink_to(real_command(tool))
    for tool in standins.NO_OPS:
        _executable(bin_dir / tool, f"#!/bin/sh\n{record_argv}")
    # socat's EXEC finds bash on PATH.
    (bin_dir / "bash").symlink_to(real_command("bash"))


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    calls: list[dict[str, Any]]

    @property
    def stopped(self) -> bool:
        """The kubelet stopped the script (a sidecar that runs until stopped, see Pod.scenario)."""
        return bool(self.calls) and self.calls[-1]["tool"] == "sleep" and self.calls[-1]["status"] == 143

    @property
    def settled(self) -> bool:
        """The script ended without an error: by itself, or stopped by the kubelet (SIGTERM,
        status 143) once its start was done."""
        return self.status == 0 or (self.stopped and self.status == 143)

    def of(self, *tools: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["tool"] in tools]

    def argvs(self, *tools: str) -> list[list[str]]:
        return [call["argv"] for call in self.of(*tools)]

    @property
    def sleeps(self) -> list[str]:
        return [call["argv"][0] for call in self.of("sleep")]

    @property
    def statements(self) -> list[str]:
        """The SQL sent on stdin to the server, per client call."""
        return [call["stdin"] for call in self.calls if "stdin" in call]

    @property
    def queries(self) -> list[str]:
        return [call["query"] for call in self.calls if "query" in call]


class Pod:
    def __init__(self, root: Path, server: str, ordinal: int, statefulset: dict[str, Any],
                 container: Callable[[dict[str, Any], str], dict[str, Any]],
                 config_maps: dict[str, dict[str, str]], secrets: dict[str, dict[str, str]]):
        """`container` is tests/conftest.py's lookup of a container in a StatefulSet; config_maps
        and secrets give the data of each by name."""
        self.server = server
        self.statefulset = statefulset
        self._container = container
        self.name = f"{statefulset['metadata']['name']}-{ordinal}"
        self.spec = statefulset["spec"]["template"]["spec"]
        self.root = root
        self.control = root / "control"
        self.bin = root / "bin"
        self.volumes = root / "volumes"
        self.read_only_root = root / "image-root-filesystem-is-read-only"
        self.control.mkdir(parents=True)
        self.tools = image_tools(server)
        self._installed: tuple[set[str], bool] | None = None
        self.outputs: list[str] = []
        self._lay_out_volumes(statefulset, config_maps, secrets)
        # What the donor init container writes when no other pod's agent answers.
        if ordinal == 0:
            write_choice(self.volume("donor"), NewDatabase(""), self.host)
        else:
            self.choose_donors(ordinal - 1)
        self._initialised = False
        server_mounts = self.container("mysql").get("volumeMounts", [])
        self.scenario: dict[str, Any] = {
            "server": server,
            # The server model boots on the option files and data directory the mysql container
            # mounts where the images read them.
            "conf_dir": str(self._host_path("/etc/mysql/conf.d", server_mounts)),
            "datadir": str(self._host_path("/var/lib/mysql", server_mounts)),
            "accounts": {"root": PASSWORDS["root-password"],
                         self.env("mysql")["BACKUP_USER"]: PASSWORDS["backup-password"]},
            "refused_connections": 0,
            "donor_files": donor_files(server),
            "transfers": ["ok"],
            "prepare": ["ok"],
            "backup_fails": False,
            "serve_once": False,
            # A sleep of this many seconds stops the script, as the kubelet stops a container.
            "stopped_at_sleep": None,
        }

    def _lay_out_volumes(self, statefulset: dict[str, Any], config_maps: dict[str, dict[str, str]],
                         secrets: dict[str, dict[str, str]]) -> None:
        for claim in statefulset["spec"].get("volumeClaimTemplates", []):
            self.volume(claim["metadata"]["name"]).mkdir(parents=True)
        for volume in self.spec["volumes"]:
            path = self.volume(volume["name"])
            path.mkdir(parents=True)
            if "configMap" in volume:
                # Like the kubelet, only the keys the volume lists, at their paths, when it lists them.
                data = config_maps[volume["configMap"]["name"]]
                items = volume["configMap"].get("items") or [{"key": key, "path": key} for key in data]
                for item in items:
                    (path / item["path"]).parent.mkdir(parents=True, exist_ok=True)
                    (path / item["path"]).write_text(data[item["key"]])
            elif "secret" in volume:
                # An existingSecret is not rendered: it holds the test passwords. Like the
                # kubelet, only the keys the volume lists, when it lists them.
                data = secrets.get(volume["secret"]["secretName"], PASSWORDS)
                items = volume["secret"].get("items") or [{"key": key, "path": key} for key in data]
                for item in items:
                    (path / item["path"]).write_text(data[item["key"]])
            else:
                assert "emptyDir" in volume, f"the harness does not emulate volume {volume}"

    def host(self, ordinal: int) -> str:
        env = self.env("mysql")
        return (f"{env['STATEFULSET_NAME']}-{ordinal}.{env['HEADLESS_SERVICE']}.{env['CLUSTER_NAMESPACE']}"
                f".svc.{env['CLUSTER_DOMAIN']}")

    def choose_donors(self, *ordinals: int) -> None:
        """The donors, the preferred first, as the donor init container (or the agent, for a
        rebuild) hands them to the clone (mysql_cluster_agent/donor.py)."""
        write_choice(self.volume("donor"), Donors(ordinals, ""), self.host)

    def volume(self, name: str) -> Path:
        return self.volumes / name

    def path_in(self, container: str, path: str) -> Path:
        """Where `path`, as the container sees it, is on this machine (e.g. a Secret's file,
        to change it)."""
        return self._host_path(path, self.container(container).get("volumeMounts", []))

    @property
    def data(self) -> Path:
        """The data volume, as the clone and backup containers see it at DATA_VOLUME."""
        return self.volume("data")

    def container(self, name: str) -> dict[str, Any]:
        return self._container(self.statefulset, name)

    def _host_path(self, path: str, mounts: list[dict[str, Any]]) -> Path:
        best = None
        for mount in mounts:
            prefix = mount["mountPath"].rstrip("/")
            if (path == prefix or path.startswith(prefix + "/")) and (
                    best is None or len(prefix) > len(best["mountPath"].rstrip("/"))):
                best = mount
        if best is None:
            return self.read_only_root / path.lstrip("/")
        inside = path[len(best["mountPath"].rstrip("/")):].lstrip("/")
        return self.volume(best["name"]) / best.get("subPath", "") / inside

    def env(self, container: str) -> dict[str, str]:
        spec = self.container(container)
        mounts = spec.get("volumeMounts", [])
        env = {"PATH": str(self.bin)}
        for var in spec.get("env", []):
            if "value" in var:
                value = var["value"]
            elif var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                value = self.name
            else:
                raise AssertionError(f"the harness cannot resolve {var}")
            # The kubelet expands $(NAME) to the value of a variable set before it.
            value = re.sub(r"\$\((\w+)\)", lambda reference: env.get(reference[1], reference[0]), value)
            # Paths move to the pod's directories; an X.509 subject starts with '/' too.
            is_path = value.startswith("/") and var["name"] != "TLS_SUBJECT"
            env[var["name"]] = str(self._host_path(value, mounts)) if is_path else value
        return env

    def run(self, container: str, probe: str | None = None, trace: bool = False) -> Run:
        """Runs the container's command, or its probe's, as the kubelet would; traced, with
        `bash -x` and the argv of every process recorded."""
        if container != "init-mysql":
            self._initialise()
        self._initialised = self._initialised or container == "init-mysql"
        spec = self.container(container)
        command = spec[probe]["exec"]["command"] if probe else spec["command"]
        if command[:3] == ["python3", "-m", "mysql_cluster_agent"]:
            return self._run_agent_step(container, command)
        assert command[0] == "bash" and len(command) == 2, command
        # The script file as laid out from the ConfigMap mounted there.
        script = self._host_path(command[1], spec.get("volumeMounts", []))
        for mount in spec.get("volumeMounts", []):
            if "subPath" in mount:  # the kubelet creates a missing subPath directory
                (self.volume(mount["name"]) / mount["subPath"]).mkdir(parents=True, exist_ok=True)
        if self._installed != (self.tools, trace):
            install_standins(self.bin, self.control, self.tools, record_real=trace)
            self._installed = (set(self.tools), trace)
        (self.control / standins.SCENARIO).write_bytes(marshal.dumps(self.scenario))
        log = str(self.control / standins.CALLS_LOG)
        before = len(standins.read_calls(log))
        process = subprocess.run([real_command("bash"), *(["-x"] if trace else []), str(script)],
                                 env=self.env(container), stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=30, check=False)
        calls = standins.read_calls(log)
        self.outputs += [process.stdout, process.stderr]
        return Run(process.returncode, process.stdout, process.stderr, calls[before:])

    def _run_agent_step(self, container: str, command: list[str]) -> Run:
        """An agent step runs the agent's code as the pod's agent volume lays it out (PYTHONPATH)."""
        process = subprocess.run([sys.executable, *command[1:]], env=self.env(container), stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=30, check=False)
        self.outputs += [process.stdout, process.stderr]
        return Run(process.returncode, process.stdout, process.stderr, [])

    def _initialise(self) -> None:
        """The kubelet runs init-mysql before the other containers: it gives the server its
        option files."""
        if not self._initialised:
            assert self.run("init-mysql").status == 0

    @property
    def served_stream(self) -> list[tuple[str, str]]:
        """The files of the backup served to a peer, as a cloning pod's donor_files."""
        stream = (self.control / standins.SERVED_STREAM).read_bytes()
        return [(name, data.decode()) for name, data in standins.decode_stream(stream)]

    @property
    def server_state(self) -> dict[str, Any]:
        """The state of the pod's server model, booted as at its first connection."""
        self._initialise()
        return server_model.load(str(self.control), self.scenario)

    def update_server(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Changes the server model's state as replication or a client would."""
        state = self.server_state
        change(state)
        server_model.save(str(self.control), state)

    def replicating(self, lag: str = "0") -> None:
        """Gives the server a running channel to the primary, `lag` seconds behind, as the
        agent starts replication."""
        def configure(state: dict[str, Any]) -> None:
            state["channel"] = server_model.new_channel(
                "mysql-0.mysql.mysql-dev.svc.cluster.local", "replicator", True, "slave_pos")
            state["channel"]["lag"] = lag
        self.update_server(configure)

    def password_leaks(self) -> list[str]:
        """Where a password showed up: the output of any run, or the argv of any process."""
        argv_log = (self.control / standins.ARGV_LOG).read_bytes().decode(errors="replace") \
            if (self.control / standins.ARGV_LOG).exists() else ""
        places = {"output": "\n".join(self.outputs), "argv": argv_log.replace("\0", " ")}
        return [f"{marker} in {where}: ...{text[max(0, text.find(marker) - 80):text.find(marker) + 40]}..."
                for marker in MARKERS for where, text in places.items() if marker in text]

