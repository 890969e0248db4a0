"""The scripts' dialect facts come from the one table (mysql_cluster_agent/dialect.py): the
component gives every container that runs a script the table's environment for its server, and a
script that reads them spells none of them itself."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from mysql_cluster_agent.dialect import Flavor, dialect_for

from .conftest import PROJECT_DIR, SERVER_IDS, SERVERS, server_config

SCRIPTS = sorted(PROJECT_DIR.glob("scripts/*.sh"))
DIALECTS = [dialect_for(Flavor(flavor), version) for flavor, version in SERVERS]
# A call of is_mariadb, not its definition in lib.sh.
_FLAVOR_BRANCH = re.compile(r"\bis_mariadb\b(?!\(\))|\$\{?DB_VERSION\b")
_LOOKS_FOR_A_PROGRAM = re.compile(r"\b(?:need_command|first_command|command -v)\b[^\n]*")


def script_containers(manifest: Any) -> Iterator[dict[str, Any]]:
    """Every container of a manifest's pod specs whose command runs a script with bash."""
    if isinstance(manifest, dict):
        for key, value in manifest.items():
            if key in ("containers", "initContainers"):
                yield from (c for c in value if c.get("command", [""])[0] == "bash")
            else:
                yield from script_containers(value)
    elif isinstance(manifest, list):
        for item in manifest:
            yield from script_containers(item)


@pytest.mark.parametrize("flavor, version", SERVERS, ids=SERVER_IDS)
def test_every_container_that_runs_a_script_has_its_servers_facts_from_the_dialect_table(
        rendered, flavor, version):
    facts = dialect_for(Flavor(flavor), version).script_environment()
    manifests = rendered(**server_config(flavor, version), backupTarget="pvc", backupClaim="backups",
                         backupSchedule="@daily")
    containers = list(script_containers(manifests))
    assert {c["name"] for c in containers} >= {"init-mysql", "mysql", "clone-mysql"}
    for container in containers:
        env = {var["name"]: var.get("value") for var in container.get("env", [])}
        assert {name: env.get(name) for name in facts} == facts, container["name"]


def test_the_facts_differ_where_the_servers_do():
    mysql_8_0, mysql_9_7 = dialect_for(Flavor.MYSQL, "8.0"), dialect_for(Flavor.MYSQL, "9.7")
    mariadb = dialect_for(Flavor.MARIADB, "11.8").script_environment()
    assert mysql_8_0.script_environment()["RESET_BINARY_LOGS_SQL"] == "RESET MASTER"
    assert mysql_9_7.script_environment()["RESET_BINARY_LOGS_SQL"] == "RESET BINARY LOGS AND GTIDS"
    assert mariadb["STOP_REPLICA_SQL"] == "STOP SLAVE"
    assert mariadb["SQL_CLIENT"] == "mariadb mysql"
    assert "BACKUP_TOOL" not in mysql_9_7.script_environment()


def _statements() -> set[str]:
    return {value for dialect in DIALECTS for name, value in dialect.script_environment().items()
            if name.endswith("_SQL")}


def _programs() -> set[str]:
    return {program for dialect in DIALECTS for names in (
        dialect.sql_client, dialect.admin_client, dialect.binlog_tool, dialect.backup_tool,
        dialect.stream_tool, (dialect.server_command,)) for program in names}


def _client_options() -> set[str]:
    return {option for dialect in DIALECTS for option in (
        dialect.client_verify_option, dialect.client_without_tls_option,
        *dialect.unverified_tls_options) if option}


# The scripts that no longer tell the servers apart themselves (the others are still being moved
# to the environment's facts; each joins this list by losing its last flavor branch).
FLAVOR_FREE = [path for path in SCRIPTS if not _FLAVOR_BRANCH.search(path.read_text(encoding="utf-8"))]


def test_the_library_and_the_server_containers_scripts_are_flavor_free():
    names = {path.name for path in FLAVOR_FREE}
    assert names >= {"lib.sh", "tls.sh", "liveness.sh", "init-config.sh", "server.sh",
                     "clone-plugin.sh", "backup-clone.sh", "backup-stream-end.sh"}


@pytest.mark.parametrize("script", FLAVOR_FREE, ids=lambda path: path.name)
def test_a_flavor_free_script_spells_no_fact_the_environment_gives(script):
    text = script.read_text(encoding="utf-8")
    assert [s for s in _statements() if s in text] == []
    assert [o for o in _client_options() if re.search(rf"(?<![\w-]){re.escape(o)}(?![\w=-])", text)] == []
    lookups = " ".join(_LOOKS_FOR_A_PROGRAM.findall(text))
    assert [p for p in _programs() if re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])", lookups)] == []
