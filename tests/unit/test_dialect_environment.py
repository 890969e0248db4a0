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
# A script telling the servers apart itself: by their flavor or version.
_FLAVOR_BRANCH = re.compile(r"\bis_mariadb\b|\$\{?DB_(?:FLAVOR|VERSION)\b")
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
    # MariaDB's clone init container; a MySQL pod's agent clones into its server.
    assert {c["name"] for c in containers} >= {"mysql", *(["clone-mysql"] if flavor == "mariadb" else [])}
    for container in containers:
        env = {var["name"]: var.get("value") for var in container.get("env", [])}
        assert {name: env.get(name) for name in facts} == facts, container["name"]


def test_the_facts_differ_where_the_servers_do():
    mysql = dialect_for(Flavor.MYSQL, "9.7").script_environment()
    mariadb = dialect_for(Flavor.MARIADB, "11.8").script_environment()
    assert (mysql["CLONE_METHOD"], mariadb["CLONE_METHOD"]) == ("plugin", "stream")
    assert (mysql["READ_ONLY_OPTION"], mariadb["READ_ONLY_OPTION"]) == ("super-read-only", "read-only")
    assert mariadb["SQL_CLIENT"] == "mariadb mysql"
    assert "BACKUP_TOOL" not in mysql


def _programs() -> set[str]:
    return {program for dialect in DIALECTS for names in (
        dialect.sql_client, dialect.admin_client, dialect.binlog_tool, dialect.backup_tool,
        dialect.stream_tool, (dialect.server_command,)) for program in names}


def _client_options() -> set[str]:
    return {option for dialect in DIALECTS for option in (
        dialect.client_verify_option, dialect.client_without_tls_option) if option}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_script_tells_the_servers_apart_itself(script):
    assert _FLAVOR_BRANCH.findall(script.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_script_spells_a_fact_the_environment_gives(script):
    text = script.read_text(encoding="utf-8")
    assert [o for o in _client_options() if re.search(rf"(?<![\w-]){re.escape(o)}(?![\w=-])", text)] == []
    lookups = " ".join(_LOOKS_FOR_A_PROGRAM.findall(text))
    assert [p for p in _programs() if re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])", lookups)] == []
