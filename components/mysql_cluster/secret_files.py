"""Which files of the cluster's Secrets a container reads, found in what the container runs.

Every container mounts exactly those files (pod_spec.py): the exporter, a third-party image, never
sees the server's private key, and a Job never holds a password its script does not use. The
files are derived from the container itself, so a script that starts or stops reading a key
changes what is mounted, with no list to keep in step:
- its scripts (the command's and the probes', with what they source or run) read a password with
  `secret_value <key>` or `client_options <user> <key>` (scripts/lib.sh);
- its arguments and environment name files under a Secret's mount (the image entrypoint's
  *_PASSWORD_FILE, the exporter's --config.my-cnf);
- with TLS_DIR set, its clients verify servers against the CA (scripts/tls.sh client_tls_options);
- a script that calls a function of tls.sh that reads the pod's private key presents the
  certificate (the backup stream's mutual TLS), so it gets the certificate and the key.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from .scripts_config_map import SCRIPTS_DIR, script_files
from .tls import CA_FILE, CERT_FILE, KEY_FILE

_SCRIPT_PATH = re.compile(re.escape(SCRIPTS_DIR) + r"/([\w.-]+\.sh)")
# `source "$(dirname "${BASH_SOURCE[0]}")/x.sh"` and `bash "$(dirname ...)/x.sh"`.
_SCRIPT_RUN = re.compile(r'^\s*(?:source|bash)\s+"\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)/([\w.-]+\.sh)"',
                         re.MULTILINE)
_KEY_READ = re.compile(r"\b(?:secret_value|client_options\s+\S+)\s+([a-z0-9][a-z0-9.-]*)")
_FUNCTION = re.compile(r"^([a-z_]+)\(\) *[({]\n(.*?)^[)}]$", re.MULTILINE | re.DOTALL)
_TLS_LIBRARY = "tls.sh"


def _code(text: str) -> str:
    """The script without its comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def scripts_run(command_lines: Iterable[Sequence[str]]) -> set[str]:
    """The scripts that commands (a container's, its probes') run, with every script these
    source or start, by file name."""
    pending = [name for command in command_lines for word in command
               for name in _SCRIPT_PATH.findall(word)]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += _SCRIPT_RUN.findall(script_files()[name])
    return found


@lru_cache(maxsize=None)
def _certificate_functions() -> frozenset[str]:
    """The functions of tls.sh that read the pod's private key, directly or through another."""
    bodies = dict(_FUNCTION.findall(_code(script_files()[_TLS_LIBRARY])))
    readers = {name for name, body in bodies.items() if KEY_FILE in body}
    while True:
        callers = {name for name, body in bodies.items()
                   if any(re.search(rf"\b{reader}\b", body) for reader in readers)}
        if callers <= readers:
            return frozenset(readers)
        readers |= callers


def keys_read_by_scripts(scripts: Iterable[str]) -> set[str]:
    """The Secret keys that `scripts` read, the TLS files aside."""
    return {key for name in scripts for key in _KEY_READ.findall(_code(script_files()[name]))}


def presents_certificate(scripts: Iterable[str]) -> bool:
    """Whether `scripts` use the pod's certificate and key (tls.sh aside, which defines them)."""
    calls = re.compile(r"\b(?:" + "|".join(sorted(_certificate_functions())) + r")\b")
    return any(calls.search(_code(script_files()[name])) for name in scripts
               if name != _TLS_LIBRARY)


def files_read(commands: Iterable[Sequence[str]], env: dict[str, str], tls_dir: str,
               mounts: Mapping[str, Sequence[str]]) -> set[tuple[str, str]]:
    """(mount path, key) of every Secret file a container reads: `commands` are its command and
    probes' commands (arguments included), `env` its environment, `mounts` the keys each
    Secret offers by the path it is mounted at."""
    commands = [list(command) for command in commands]
    scripts = scripts_run(commands)
    keys = keys_read_by_scripts(scripts)
    named = [word for command in commands for word in command] + list(env.values())
    files = {(path, key) for path, offered in mounts.items() for key in offered
             if key in keys or any(f"{path}/{key}" in word for word in named)}
    if "TLS_DIR" in env:
        files.add((tls_dir, CA_FILE))
        if presents_certificate(scripts):
            files |= {(tls_dir, CERT_FILE), (tls_dir, KEY_FILE)}
    return {(path, key) for path, key in files if key in mounts.get(path, ())}
