"""Real servers for the model to be judged against: MySQL 9.7 (Debian sid tree), MariaDB 11.8
(Debian 13 tree) and MariaDB 10.11 (this machine), from the trees tests/e2e runs its pods on
(tests/e2e/server_roots.py builds and caches them).

Each server gets a fresh data directory in a temporary directory inside its tree and runs under
chroot as the mysql user, listening on a socket only; root connects over that socket. One server
per flavor and pytest session: the differential test resets what it changed between cases.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from e2e.server_roots import ServerRootError, server_root

START_SECONDS = 90
STATEMENT_SECONDS = 30
# What the server needs to run in a scratch directory, whatever the differential test sets.
_INFRASTRUCTURE = ("datadir", "socket", "pid_file", "log_error", "skip_networking", "user")


@dataclass(frozen=True)
class Outcome:
    """What the client printed for a script: the first error line, without the client's
    "at line N" (the statement before it took effect), or None when every statement ran."""

    error: str | None
    output: str = ""

    @property
    def code(self) -> str | None:
        """The error number and SQLSTATE, e.g. "ERROR 1064 (42000)"."""
        return self.error.split(":", 1)[0] if self.error else None


@dataclass
class RealServer:
    name: str  # "mysql 9.7", as the model names servers
    tree: Path
    directory: Path  # inside the tree
    options: str  # the option file's text after the scratch lines
    process: subprocess.Popen | None = None
    log: list[str] = field(default_factory=list)

    @property
    def is_mariadb(self) -> bool:
        return self.name.startswith("mariadb")

    def _inside(self, path: Path) -> str:
        return "/" + str(path.relative_to(self.tree))

    def _argv(self, *argv: str) -> list[str]:
        return [*argv] if self.tree == Path("/") else ["chroot", str(self.tree), *argv]

    @property
    def config(self) -> Path:
        return self.directory / "my.cnf"

    def start(self) -> None:
        inside = self._inside(self.directory)
        self.config.write_text(
            f"[mysqld]\ndatadir={inside}/data\nsocket={inside}/mysqld.sock\n"
            f"pid-file={inside}/mysqld.pid\nlog-error={inside}/error.log\nskip-networking\n"
            # A temporary directory of its own: a server starting deletes every #sql file in its
            # tmpdir, those of another server of the same tree still initialising included.
            f"tmpdir={inside}\nuser=mysql\n{self.options}")
        defaults = f"--defaults-file={self._inside(self.config)}"
        if self.is_mariadb:
            initialise = self._argv("mariadb-install-db", defaults, "--skip-test-db", "--rpm",
                                    "--auth-root-authentication-method=socket")
            server = self._argv("mariadbd", defaults)
        else:
            initialise = self._argv("mysqld", defaults, "--initialize-insecure")
            server = self._argv("mysqld", defaults)
        result = subprocess.run(initialise, capture_output=True, text=True, timeout=START_SECONDS)
        if result.returncode:
            raise ServerRootError(f"{self.name}: initialising a data directory failed: "
                                  f"{(result.stdout + result.stderr)[-800:]}{self.error_log()}")
        self.process = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while self.run("SELECT 1").error:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ServerRootError(f"{self.name} did not start (exit {self.process.poll()})"
                                      f"{self.error_log()}")
            time.sleep(0.2)

    def error_log(self) -> str:
        log = self.directory / "error.log"
        return "; its error log ends:\n" + log.read_text(errors="replace")[-1500:] if log.exists() else ""

    def run(self, sql: str, user: str = "root", password: str | None = None) -> Outcome:
        """The statements of `sql` as the scripts' client sends them (stopping at the first
        error), as `user` over the socket."""
        client = "mariadb" if self.is_mariadb else "mysql"
        argv = [client, f"--socket={self._inside(self.directory)}/mysqld.sock", f"--user={user}",
                "--batch", "--skip-column-names"]
        if password is not None:
            argv.append(f"--password={password}")
        result = subprocess.run(self._argv(*argv), input=sql, capture_output=True, text=True,
                                timeout=STATEMENT_SECONDS)
        self.log.append(sql)
        if result.returncode == 0:
            return Outcome(None, result.stdout)
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        error = errors[0] if errors else result.stderr.strip()
        return Outcome(re.sub(r"^(ERROR \d+ \(\w+\)) at line \d+:", r"\1:", error), result.stdout)

    def value(self, expression: str) -> str:
        outcome = self.run(f"SELECT {expression}")
        assert outcome.error is None, f"{self.name}: SELECT {expression}: {outcome.error}"
        return outcome.output.rstrip("\n")

    def backup(self, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
        """mariadb-backup --backup of this server into a new directory, as root over the socket;
        its exit and the info files it wrote (name: text)."""
        target = Path(tempfile.mkdtemp(prefix="backup-", dir=self.directory))
        target.rmdir()  # the tool makes it
        argv = ["mariadb-backup", "--backup", f"--target-dir={self._inside(target)}",
                f"--socket={self._inside(self.directory)}/mysqld.sock", "--user=root", *args]
        if self.tree != Path("/"):
            # The tool reads /proc; mounted in a mount namespace of its own, it goes with it.
            argv = ["unshare", "--mount", "--propagation", "private", "bash", "-c",
                    'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', str(self.tree), *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=START_SECONDS)
        files = {path.name: path.read_text() for path in target.glob("*_info")} if target.exists() else {}
        shutil.rmtree(target, ignore_errors=True)
        return result, files

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


# The model's names of the servers that run here, and their trees (tests/e2e names them so).
REAL_SERVERS = {"mysql 9.7": "mysql-9.7", "mariadb 11.8": "mariadb-11.8", "mariadb 10.11": "mariadb-10.11"}


def start_server(name: str, options: str) -> RealServer:
    """A fresh server `name` whose option file adds `options` to the scratch lines."""
    tree = server_root(REAL_SERVERS[name]).path
    scratch = tree / "tmp"
    scratch.mkdir(exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="model-vs-server-", dir=scratch))
    directory.chmod(0o755)  # the server runs as mysql
    shutil.chown(directory, "mysql", "mysql")
    server = RealServer(name, tree, directory, options)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
