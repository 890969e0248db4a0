"""Runs a rendered container's scripts on this machine, as far as they go without a database.

The scripts get the environment the StatefulSet gives the container, with the paths it mounts
moved into a temporary directory, and the ConfigMaps it mounts (its scripts among them) laid out
there; the database, backup and transfer tools are stubs that log how they were called
(arguments, then whatever they read on stdin) and answer as a test says.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from stack_manifests import Manifests, container, find, host_path, lay_out_config_maps

# The variables naming writable or secret mounts, and where each goes in the sandbox (the
# ConfigMaps' directories come from lay_out_config_maps).
MOUNTED_PATHS = {"SECRETS_DIR": "secrets", "DATA_VOLUME": "data", "TMPDIR": "tmp",
                 "CONF_DIR": "conf", "CLIENT_OPTIONS_DIR": "client-options", "TLS_DIR": "tls",
                 "DONOR_DIR": "donor"}
PASSWORDS = {"root-password": "root-secret-1234", "replication-password": "repl-secret-1234",
             "backup-password": "backup-secret-1234", "app-password": "app-secret-1234"}


class PodSandbox:
    def __init__(self, root: Path, manifests: Manifests, container_name: str, pod_name: str) -> None:
        self.root = root
        self.log = root / "calls.log"
        self.stubs = root / "stubs"
        self.stubs.mkdir()
        self.env = {"PATH": f"{self.stubs}:{os.environ['PATH']}", "STUB_LOG": str(self.log)}
        config_maps = lay_out_config_maps(manifests, container_name, root)
        spec = container(find(manifests, "StatefulSet"), container_name)
        self.command = [host_path(part, config_maps) for part in spec["command"]]
        for variable in spec["env"]:
            if "value" in variable:
                self.env[variable["name"]] = host_path(variable["value"], config_maps)
            elif variable["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name":
                self.env[variable["name"]] = pod_name
        for name, directory in MOUNTED_PATHS.items():
            if name in self.env:
                self.env[name] = str(self.path(directory))
        for key, password in PASSWORDS.items():
            (self.path("secrets") / key).write_text(password, encoding="utf-8")
        if "TLS_DIR" in self.env:
            for key in ("ca.crt", "tls.crt", "tls.key"):  # read by the real servers only
                (self.path("tls") / key).write_text(f"{key} stand-in\n", encoding="utf-8")

    def path(self, directory: str) -> Path:
        """A directory of the sandbox, created on first use."""
        path = self.root / directory
        path.mkdir(exist_ok=True)
        return path

    def stub(self, *names: str, answer: str = "exit 0") -> None:
        """Commands `names` log their call and then run the bash snippet `answer` (with "$*"
        their arguments)."""
        for name in names:
            script = self.stubs / name
            script.write_text(
                "#!/usr/bin/env bash\n"
                'printf "%s %s\\n" "${0##*/}" "$*" >>"$STUB_LOG"\n'
                'cat >>"$STUB_LOG"\n'
                f"{answer}\n",
                encoding="utf-8",
            )
            script.chmod(0o755)

    def run(self, **env: str) -> subprocess.CompletedProcess:
        """Runs the container's command with stdin closed, `env` on top."""
        return subprocess.run(self.command, env={**self.env, **env}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30, check=False)

    def calls(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""
