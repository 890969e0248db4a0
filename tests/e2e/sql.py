"""SQL through the pods' own client: the command line, and its batch output as rows.

The names are the component's contract: the server container, and the Secret key of the root
password.
"""

from __future__ import annotations

import re

from .manifests import RenderedManifests

SQL_CONTAINER = "mysql"
CREDENTIALS_SECRET_SUFFIX = "-credentials"
ROOT_PASSWORD_KEY = "root-password"


def root_password(manifests: RenderedManifests, statefulset_name: str) -> str:
    secret = f"{statefulset_name}{CREDENTIALS_SECRET_SUFFIX}"
    return manifests.secret_data(secret)[ROOT_PASSWORD_KEY].decode()


def sql_client(password: str, *, user: str, host: str | None, database: str | None,
               flavor: str) -> list[str]:
    """The `flavor` image's client in batch mode, reading SQL from stdin; over the socket unless
    host is given."""
    argv = ["mariadb" if flavor == "mariadb" else "mysql", "--batch", f"--user={user}"]
    argv += ["--protocol=tcp", f"--host={host}"] if host else ["--protocol=socket"]
    if database:
        argv.append(f"--database={database}")
    # The password travels in the client's env rather than on its command line.
    return ["env", f"MYSQL_PWD={password}", *argv]


def batch_rows(output: str) -> list[tuple[str | None, ...]]:
    """The client's --batch output as rows of strings, NULL as None."""
    return [tuple(_unescape_batch_field(value) for value in line.split("\t"))
            for line in output.splitlines()]


_BATCH_ESCAPE = re.compile(r"\\(.)")
_BATCH_ESCAPES = {"t": "\t", "n": "\n", "0": "\0", "\\": "\\"}


def _unescape_batch_field(value: str) -> str | None:
    """Undo the client's --batch escaping; its NULL marker becomes None."""
    if value == "NULL":
        return None
    return _BATCH_ESCAPE.sub(lambda m: _BATCH_ESCAPES.get(m.group(1), m.group(1)), value)
