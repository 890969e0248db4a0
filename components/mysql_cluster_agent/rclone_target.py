"""The backup target through rclone: the static binary the `rclone-tools` init container copies
into the pod's tools volume (mysql_cluster/backups.py), run for the remote `sealed:` (rclone's
crypt, https://rclone.org/crypt/) over `target:` (an S3-compatible bucket or a mounted claim),
both configured by the component in the environment (RCLONE_CONFIG_*).

The s3 keys (files of the mounted Secret) and the backup key, in the obscured form rclone's crypt
takes (`rclone obscure`), enter the environment of the rclone process alone: never argv, never a
log line, never this process's environment.

    target = RcloneTarget.from_env(os.environ)      # TargetProblem: what to fix
    target.list(f"{remote}/backups", "--dirs-only")  # [] while the directory does not exist
    target.cat(path) -> bytes; with target.stream(path, what) as reader: ...; target.rcat(path, data); target.size(path) -> int | None
    target.copy(source, destination, *options); target.delete(path, *options)
    target.delete_file(path); target.purge(path)

`python3 -m mysql_cluster_agent rclone <rclone arguments>` (main) is the same for a shell pipeline
in a container that has the target: rclone's standard input and output are the command's, so a
stream (`tar -c ... | ... rclone rcat <path>`, `... rclone cat <path> | tar -x`) passes through a
pipe and is never held in memory.

Every failure raises RcloneError (one line: what failed, and rclone's last words);
AuthenticationFailed when rclone's crypt says a block or header failed authentication: the object
was altered in the bucket or encrypted with another key.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional

# The command line's exit statuses (main): rclone failed; the pod's rclone setup is incomplete.
EXIT_FAILED = 1
EXIT_SETUP = 2
# rclone's exit status when the directory or file does not exist
# (https://rclone.org/docs/#exit-code): for a listing, nothing was written there yet.
EXIT_NOT_FOUND = 3
# What rclone's crypt backend says when a block or the file header does not authenticate (rclone
# backend/crypt/cipher.go: ErrorAuthenticationFailed, ErrorEncryptedBadMagic, ErrorEncryptedFileTooShort).
_AUTHENTICATION_WORDS = ("authenticate", "bad magic", "too short")
S3_KEY_FILES = {"RCLONE_CONFIG_TARGET_ACCESS_KEY_ID": "access-key-id",
                "RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY": "secret-access-key"}
_SHOWN = 160


def shown(text: str) -> str:
    """Text as it may appear in a log line: its last line, printable, bounded."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return "".join(c if c.isprintable() else "?" for c in last)[:_SHOWN]


class TargetProblem(ValueError):
    """The pod's rclone setup is incomplete: the message names the file or variable and the fix."""


class RcloneError(RuntimeError):
    """An rclone command failed; str() is one line naming the command's object and rclone's words."""

    def __init__(self, message: str, status: int, said: str) -> None:
        super().__init__(message)
        self.status = status
        self.said = said


class AuthenticationFailed(RcloneError):
    """The object (or the manifest) does not authenticate with this cluster's backup key."""


@dataclass(frozen=True)
class RcloneTarget:
    rclone: Path
    crypt_password_file: Path
    # The mounted Secret with the s3 keys; None for a claim (rclone's local backend).
    credentials_dir: Optional[Path]
    # The environment rclone starts from: the component's RCLONE_CONFIG_* and the pod's.
    base_env: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RcloneTarget:
        for name in ("RCLONE", "CRYPT_PASSWORD_FILE"):
            if not env.get(name):
                raise TargetProblem(f"{name} is not set; the component sets it in every container that reaches the backup target")
        rclone = Path(env["RCLONE"])
        if not os.access(rclone, os.X_OK):
            raise TargetProblem(f"rclone is missing at {rclone}; the rclone-tools init container copies it from rcloneImage")
        credentials = env.get("TARGET_CREDENTIALS_DIR", "")
        return cls(rclone, Path(env["CRYPT_PASSWORD_FILE"]), Path(credentials) if credentials else None,
                   dict(env))

    def _secret_env(self) -> dict[str, str]:
        """rclone's environment: the base, the s3 keys and the obscured backup key."""
        env = dict(self.base_env)
        if self.credentials_dir is not None:
            for variable, key in S3_KEY_FILES.items():
                path = self.credentials_dir / key
                try:
                    env[variable] = path.read_text().strip()
                except OSError:
                    raise TargetProblem(f"the backup target's Secret has no readable key '{key}' ({path}); "
                                        "add it to the Secret named by backupS3Secret") from None
        try:
            backup_key = self.crypt_password_file.read_bytes()
        except OSError:
            backup_key = b""
        if not backup_key.strip():
            raise TargetProblem(f"the backup key {self.crypt_password_file} is missing or empty; "
                                "the credentials Secret needs the key backup-key (backupKey)")
        # `rclone obscure -` reads the key from its input: it never appears in argv.
        obscured = subprocess.run([str(self.rclone), "obscure", "-"], input=backup_key, capture_output=True,
                                  env=env, check=False)
        if obscured.returncode != 0:
            raise TargetProblem(f"rclone could not read the backup key {self.crypt_password_file}: "
                                f"{shown(obscured.stderr.decode(errors='replace'))}")
        env["RCLONE_CONFIG_SEALED_PASSWORD"] = obscured.stdout.decode().strip()
        return env

    def run(self, args: Sequence[str], what: str, *, data: Optional[bytes] = None,
            stdout: Optional[IO[bytes]] = None, missing_ok: bool = False) -> bytes:
        """rclone <args>; its output (unless sent to stdout). `what` names the object in errors.
        With missing_ok, exit status 3 (no such directory or file) returns b""."""
        result = subprocess.run([str(self.rclone), "--log-level=ERROR", *args], input=data,
                                stdout=stdout if stdout is not None else subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self._secret_env(), check=False)
        if result.returncode == 0:
            return result.stdout if stdout is None else b""
        if missing_ok and result.returncode == EXIT_NOT_FOUND:
            return b""
        raise _failure(args, what, result.returncode, result.stderr.decode(errors="replace"))

    @contextmanager
    def stream(self, path: str, what: str) -> Iterator[IO[bytes]]:
        """The clear bytes of the file at path as rclone reads them (`rclone cat`), to be read
        once, never held whole in memory. On leaving, rclone's failure raises RcloneError (or
        AuthenticationFailed), ahead of any error of the reader: a stream cut short is rclone's.
        Its error output is read by a thread (the pods' root file system has no /tmp)."""
        process = subprocess.Popen([str(self.rclone), "--log-level=ERROR", "cat", path], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self._secret_env())
        stdout, stderr, said = process.stdout, process.stderr, bytearray()
        if stdout is None or stderr is None:
            raise RcloneError(f"rclone cat of {what} has no pipes", 0, "")
        reader = threading.Thread(target=lambda: said.extend(stderr.read()), daemon=True)
        reader.start()

        def failure(killed: bool) -> RcloneError | None:
            """rclone's error, if it failed (not merely killed here because the reader failed)."""
            status = process.wait()
            reader.join()
            failed = status > 0 if killed else status != 0
            return _failure(["cat"], what, status, said.decode(errors="replace")) if failed else None

        try:
            yield stdout
        except BaseException:
            process.kill()
            error = failure(killed=True)
            if error is not None:
                raise error from None
            raise
        finally:
            stdout.close()
        error = failure(killed=False)
        if error is not None:
            raise error

    def list(self, path: str, *options: str) -> list[str]:
        """The entries under path (`rclone lsf`), one each, directories with a trailing '/';
        none while path does not exist (nothing was written there yet)."""
        output = self.run(["lsf", *options, path], path, missing_ok=True)
        return [line for line in output.decode(errors="replace").splitlines() if line]

    def size(self, path: str) -> Optional[int]:
        """The stored size of a file as read through the crypt remote (its clear size); None
        when there is no such file."""
        output = self.run(["lsjson", path], path, missing_ok=True)
        try:
            entries = json.loads(output or b"[]")
        except ValueError:
            raise RcloneError(f"rclone lsjson of {path} printed no JSON", 0, "") from None
        sizes = [entry.get("Size") for entry in entries if isinstance(entry, dict)]
        return sizes[0] if len(sizes) == 1 and isinstance(sizes[0], int) else None

    def cat(self, path: str, what: str = "") -> bytes:
        return self.run(["cat", path], what or path)

    def rcat(self, path: str, data: bytes) -> None:
        self.run(["rcat", path], path, data=data)

    def copy(self, source: str, destination: str, *options: str) -> None:
        self.run(["copy", *options, source, destination], source)

    def delete(self, path: str, *options: str) -> None:
        """Deletes the files under path that options select; nothing there is no error."""
        self.run(["delete", *options, path], path, missing_ok=True)

    def delete_file(self, path: str) -> None:
        self.run(["deletefile", path], path)

    def purge(self, path: str) -> None:
        """Removes path and all it holds."""
        self.run(["purge", path], path, missing_ok=True)


def _failure(args: Sequence[str], what: str, status: int, said: str) -> RcloneError:
    if any(word in said for word in _AUTHENTICATION_WORDS):
        return AuthenticationFailed(
            f"{what} failed authentication with this cluster's backup key (backupKey): it was altered "
            f"in the bucket or encrypted with another key; refusing it. rclone said: {shown(said)}", status, said)
    return RcloneError(f"rclone {args[0]} of {what} failed (exit status {status}): {shown(said)}", status, said)


def main(args: Sequence[str], env: Mapping[str, str]) -> int:
    """`python3 -m mysql_cluster_agent rclone <rclone arguments>`: rclone with the target's keys in
    its environment alone, reading this process's standard input and writing its standard output.
    A failure is one line on stderr: exit status 2 for an incomplete setup, 1 for rclone's."""
    if not args:
        print("usage: python3 -m mysql_cluster_agent rclone <rclone arguments>, e.g. rcat sealed:<path>",
              file=sys.stderr)
        return EXIT_SETUP
    try:
        target = RcloneTarget.from_env(env)
        sys.stdout.flush()
        target.run(args, args[-1], stdout=sys.stdout.buffer)
    except TargetProblem as problem:
        print(f"rclone: {problem}", file=sys.stderr)
        return EXIT_SETUP
    except RcloneError as error:
        print(f"rclone: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0
