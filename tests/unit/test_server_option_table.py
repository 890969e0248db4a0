"""tools/server_option_table.py reads a server's `--verbose --help` into the table serverOptions
is checked against: each option's kind from how it takes its argument, the values an
enumeration or set lists, and booleans from the variables' TRUE/FALSE defaults."""
from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).parents[2] / "tools" / "server_option_table.py"
_spec = importlib.util.spec_from_file_location("server_option_table", TOOL)
generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generator)

# The shape of `mariadbd --no-defaults --verbose --help` (MySQL's is alike), abridged.
HELP = """\
mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)

  --ansi              Use ANSI SQL syntax instead of MySQL syntax.
  --binlog-checksum=name
                      Type of BINLOG_CHECKSUM_ALG. One of: NONE, CRC32
  --innodb[=name]     Enable or disable InnoDB plugin. One of: ON, OFF, FORCE (don't start if
                      the plugin fails to load), FORCE_PLUS_PERMANENT (like FORCE, but the
                      plugin can not be uninstalled).
  --log-slow-verbosity=name
                      Verbosity level for the slow log. Any combination of: innodb,
                      query_plan, explain
  --max-connections=# The number of simultaneous clients allowed
  --innodb-fast-shutdown[=#]
                      Speeds up the shutdown process
  --performance-schema
                      Enable the performance schema.
  --tmpdir=name       Path for temporary files.
  --plugin-load-add=name
                      Optional semicolon-separated list of plugins to load.
  Use 'ALL' to set all combinations.

Variables (--variable-name=value)
and boolean options {FALSE|TRUE}                             Value (after reading options)
------------------------------------------------------------ -------------
ansi                                                         
binlog-checksum                                              CRC32
max-connections                                              151
performance-schema                                           FALSE
read-only                                                    OFF

To see what variables a running server is using, type
"""


def test_each_option_gets_its_kind_and_listed_values():
    assert generator.option_table(HELP) == {
        "ansi": {"type": "flag"},
        "binlog-checksum": {"type": "enum", "values": ["NONE", "CRC32"], "optional": False},
        "innodb": {"type": "enum", "values": ["ON", "OFF", "FORCE", "FORCE_PLUS_PERMANENT"],
                   "optional": True},
        "innodb-fast-shutdown": {"type": "optional-number"},
        "log-slow-verbosity": {"type": "set", "values": ["innodb", "query_plan", "explain"],
                               "optional": False},
        "max-connections": {"type": "number"},
        "performance-schema": {"type": "boolean"},
        "plugin-load-add": {"type": "text"},
        "read-only": {"type": "optional-text"},
        "tmpdir": {"type": "text"},
    }


def test_the_table_names_the_server_it_came_from():
    assert generator._server_version(HELP) == "10.11.19-MariaDB-0+deb12u1"
