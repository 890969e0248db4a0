"""Server options a user adds to the component's own (`serverOptions`): which are well formed,
which the server knows and with what values, and which the cluster refuses, with the reason it
gives.

The server reads option names with '_' and '-' alike, lets `loose-`, `skip-`, `enable-`,
`disable-` and `maximum-` modify a name, and (MySQL 5.7 at least) accepts an unambiguous prefix of
a name: a managed option is refused in each of those spellings.

Refusing is a deny-list over a table of every option the server has: an allow-list of the few
hundred tuning options would have to be kept by hand for each server line, while what can defeat
the cluster falls into a few families (below). Every other name must be one the server knows
(server_option_tables/, generated from the real servers by tools/server_option_table.py), with
a value of its type, so that a typo stops `pulumi preview` instead of a rolled pod.
"""
from __future__ import annotations

import difflib
import fnmatch
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

_OPTION_NAME = re.compile(r"[A-Za-z]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")
MAX_VALUE_LENGTH = 1024
_MODIFIERS = ("loose-", "skip-", "enable-", "disable-", "maximum-")

_REASONS = {
    "identity": "each pod's identity is set at its start (server-id from its ordinal, its DNS "
                "name for replication)",
    "network": "the Services, probes, scripts and the NetworkPolicy reach the server on its fixed "
               "port and socket only",
    "storage": "the data volume's layout is fixed: the clone and the scripts find the data, "
               "binary and relay logs there",
    "replication": "GTID replication is managed by the cluster",
    "role": "every server starts read-only and only the primary is made writable, at run time",
    "heartbeat": "replicas measure their lag by the heartbeat event, which the event scheduler runs",
    "plugins": "the cluster loads the plugins it needs (MySQL's CLONE plugin, which a plugin-load "
               "list of yours would replace); code loaded into the server runs with every "
               "account's rights",
    "durability": "durability is managed: every commit is on disk in the binary log and the redo "
                  "log before the client hears OK",
    "retention": "binary log expiry is set by binlogRetentionDays",
    "access": "the cluster's accounts rely on authentication with address-based hosts",
    "tls": "the certificate and whether clients must use TLS are set by tlsSource and "
           "requireClientTls",
}
_MANAGED_BY_REASON = {
    "identity": ("server-id", "report-host", "report-port"),
    "network": ("port", "bind-address", "socket", "skip-networking", "extra-port",
                "extra-max-connections", "admin-address", "admin-port",
                "create-admin-listener-thread", "mysqlx", "mysqlx-port", "mysqlx-bind-address",
                "mysqlx-socket"),
    "storage": ("datadir", "log-bin", "relay-log", "log-basename", "log-bin-index",
                "relay-log-index"),
    "replication": ("gtid-mode", "enforce-gtid-consistency", "gtid-strict-mode", "gtid-domain-id",
                    "gtid-ignore-duplicates", "binlog-format",
                    "log-slave-updates", "log-replica-updates", "skip-slave-start",
                    "skip-replica-start", "slave-net-timeout", "replica-net-timeout",
                    "relay-log-recovery", "master-info-repository", "relay-log-info-repository"),
    "role": ("read-only", "super-read-only", "transaction-read-only", "tx-read-only",
             "innodb-read-only", "init-rpl-role"),
    "heartbeat": ("event-scheduler",),
    "plugins": ("plugin-load", "plugin-load-add"),
    "durability": ("sync-binlog", "innodb-flush-log-at-trx-commit"),
    "retention": ("binlog-expire-logs-seconds", "expire-logs-days",
                  "binlog-expire-logs-auto-purge", "slave-connections-needed-for-purge"),
    "access": ("skip-name-resolve", "skip-grant-tables", "proxy-protocol-networks"),
    "tls": ("ssl", "ssl-ca", "ssl-capath", "ssl-cert", "ssl-key", "ssl-cipher", "ssl-crl",
            "ssl-crlpath", "require-secure-transport"),
}
# Every option the cluster manages, by its canonical name, with why it does.
MANAGED_OPTIONS = {option: _REASONS[reason]
                   for reason, options in _MANAGED_BY_REASON.items() for option in options}

# Options that can silently defeat the cluster, by family (shell patterns over the name without
# its modifiers), with why each family is refused. Every one was seen to break a cluster in the
# probe of issue 22, or belongs to the same family as one that was.
REFUSED_FAMILIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("replication filters",
     ("binlog-do-db", "binlog-ignore-db", "replicate-do-*", "replicate-ignore-*",
      "replicate-wild-*", "replicate-rewrite-db", "replicate-same-server-id",
      "replicate-events-marked-for-skip"),
     "a filter keeps writes out of the binary log or off a replica without an error: replicas, "
     "backups and a switchover's wait for the primary's GTID position never notice"),
    ("error skipping", ("slave-skip-errors", "replica-skip-errors"),
     "a replica that skips the errors of replication silently drifts away from the primary"),
    ("statements run by the server",
     ("init-file", "init-connect", "init-slave", "init-replica"),
     "the server runs them at its start, at each login or in the replica's applier: a failing "
     "one locks the cluster's own accounts out, and an init file's content lands in the error "
     "log"),
    ("log destinations", ("general-log", "general-log-file", "log-error", "log-raw",
                          "log-isam", "log-tc", "slow-query-log-file", "log-slow-query-file"),
     "the general log records every statement, the cluster's own with their passwords; the "
     "server's logs stay where the pod writes them (stderr and the data volume)"),
    ("plugin loading", ("plugin-load", "plugin-load-add", "plugin-dir", "early-plugin-load",
                        "allow-suspicious-udfs"),
     "code loaded into the server runs with every account's rights and outside what the "
     "cluster was tested with; build an image that carries the plugin instead"),
    ("Galera", ("wsrep", "wsrep-*"),
     "Galera (wsrep) replicates in another way than the cluster's GTID replication"),
    ("file access", ("local-infile", "secure-file-priv"),
     "SQL that reads or writes files of the server's container (LOAD DATA LOCAL, INTO OUTFILE) "
     "reaches the data volume and the mounted secrets"),
    ("fixed at initialisation", ("innodb-page-size", "lower-case-table-names",
                                 "innodb-data-file-path", "innodb-undo-tablespaces"),
     "the data directory is created with it and every pod's copy keeps it: another value "
     "stops the server from starting on its data"),
    ("recovery", ("innodb-force-recovery", "tc-heuristic-recover", "bootstrap"),
     "it starts a server that does not serve (or serves damaged data): rescue a pod by hand, "
     "not by rolling every pod"),
    ("SQL syntax", ("ansi",),
     "it changes how the server parses quotes and '||': the scripts' statements and the "
     "applications' mean something else or fail"),
)
# The families whose options may be switched off (skip-log-error: the error log to stderr).
_HARMLESS_WHEN_OFF = ("replication filters", "error skipping", "statements run by the server",
                      "log destinations", "plugin loading", "Galera", "recovery", "SQL syntax")
# A path option (a name ending like these, with text values) places files of the server; the
# pod's file system is fixed: data and logs on the data volume, the rest where the image has it.
_PATH_SUFFIXES = ("-file", "-dir", "-path", "-directory", "-directories", "-filename", "tmpdir")
_PATH_REASON = ("the pod's file system is fixed, and a file elsewhere than the cluster puts it "
                "is lost with the pod, missing at the next start or, under /dev, in kubectl logs")
_PATH_NAMES = ("basedir", "chroot", "character-sets-dir", "lc-messages-dir", "pid-file")

# Values refused for options otherwise allowed: (option, values (upper case), why).
_DURABILITY = ("it lets a crash lose or tear committed data, which the cluster's durability "
               "promise rules out")
REFUSED_VALUES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("innodb-doublewrite", ("OFF", "0", "FALSE", "FAST", "DETECT_ONLY"), _DURABILITY),
    ("innodb-flush-method", ("NOSYNC", "LITTLESYNC"), _DURABILITY),
    ("innodb", ("OFF", "0", "FALSE"), "every table the cluster keeps is an InnoDB table"),
    ("slave-exec-mode", ("IDEMPOTENT",),
     "a replica that ignores duplicate and missing rows silently drifts away from the primary"),
    ("replica-exec-mode", ("IDEMPOTENT",),
     "a replica that ignores duplicate and missing rows silently drifts away from the primary"),
)
# SQL modes that change how statements are parsed (quotes, backslashes, '||'), alone or as part
# of a combination mode.
REFUSED_SQL_MODES = ("ANSI", "ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "PIPES_AS_CONCAT", "ORACLE",
                     "MSSQL", "DB2", "POSTGRESQL", "MAXDB", "EMPTY_STRING_IS_NULL")
_SQL_MODE_REASON = ("it changes how the server parses quotes, backslashes or '||': the scripts' "
                    "statements and the applications' mean something else or fail")


def canonical(name: str) -> str:
    """An option name as the component writes it: lower case, words joined by '-'."""
    return name.lower().replace("_", "-")


def _stem(name: str) -> str:
    """The name without the prefixes that modify an option rather than name it."""
    for modifier in _MODIFIERS:
        if name.startswith(modifier):
            return _stem(name[len(modifier):])
    return name


def _switched_off(name: str) -> bool:
    """Whether the modifiers of a name turn the option off (skip-x, disable-x)."""
    for modifier in _MODIFIERS:
        if name.startswith(modifier):
            return modifier in ("skip-", "disable-") or _switched_off(name[len(modifier):])
    return False


_MANAGED_STEMS = {_stem(option): option for option in MANAGED_OPTIONS}


def managed_option_named(name: str) -> str:
    """The managed option that `name` (canonical) would set, or "" when it sets none: the option
    of that name, or one it is a prefix of unless it names an option of its own (innodb)."""
    stem = _stem(name)
    if stem in _MANAGED_STEMS:
        return _MANAGED_STEMS[stem]
    if _known_to_any_server(stem):
        return ""
    for managed_stem, option in _MANAGED_STEMS.items():
        if managed_stem.startswith(stem):
            return option
    return ""


def refused_family(name: str) -> Optional[tuple[str, str]]:
    """(family, reason) when `name` (canonical) is in a refused family, else None."""
    stem = _stem(name)
    for family, patterns, reason in REFUSED_FAMILIES:
        if any(fnmatch.fnmatchcase(stem, pattern) for pattern in patterns):
            return family, reason
    return None


def _value_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise ValueError({name: value}, "give each value as text or a number")
    if any(ord(ch) < 32 for ch in value) or "#" in value or value.startswith("[") \
            or len(value) > MAX_VALUE_LENGTH:
        raise ValueError(
            {name: value},
            f"write each value on one line, without '#' (it starts a comment) or a leading '[' "
            f"(it starts a section), at most {MAX_VALUE_LENGTH} characters",
        )
    return value.strip()


def extra_server_options(value: Any) -> dict[str, str]:
    """The options a user adds, by canonical name, with text values ("" for a bare flag).
    Raises ValueError(what to show, what to do instead)."""
    if not isinstance(value, dict):
        raise ValueError(value, 'use a map of option to value, e.g. {"max_connections": "500"}')
    options: dict[str, str] = {}
    for name, option_value in value.items():
        if not isinstance(name, str) or not _OPTION_NAME.fullmatch(name):
            raise ValueError(name, "name each option with letters, digits, '-' and '_', starting "
                             "with a letter and ending with a letter or digit, at most 64 "
                             "characters")
        option = canonical(name)
        if option in options:
            raise ValueError(name, f"{option} is given twice ('_' and '-' are the same to the "
                             "server); give it once")
        managed = managed_option_named(option)
        if managed:
            raise ValueError(name, f"{managed} is managed by the cluster "
                             f"({MANAGED_OPTIONS[managed]}); remove it")
        refused = refused_family(option)
        if refused and not (_switched_off(option) and refused[0] in _HARMLESS_WHEN_OFF):
            raise ValueError(name, f"{_stem(option)} is refused ({refused[0]}: {refused[1]}); "
                             "remove it")
        options[option] = _value_text(name, option_value)
    return options


# --- What each server knows --------------------------------------------------------------------

_TABLES_DIR = Path(__file__).with_name("server_option_tables")


@lru_cache(maxsize=None)
def _table(file_name: str) -> dict[str, dict[str, Any]]:
    options: dict[str, dict[str, Any]] = json.loads((_TABLES_DIR / file_name).read_text())["options"]
    return options


def _known_to_any_server(stem: str) -> bool:
    return any(stem in _table(path.name) for path in _TABLES_DIR.glob("*.json"))


def _versions_with_tables(flavor: str) -> list[str]:
    return sorted((path.stem.split("-", 1)[1] for path in _TABLES_DIR.glob(f"{flavor}-*.json")),
                  key=lambda version: tuple(int(part) for part in version.split(".")))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def option_table(flavor: str, version: str) -> tuple[dict[str, dict[str, Any]], bool]:
    """The options server `flavor` `version` knows, and whether that list is complete.

    A line generated from its real server has its own table. A line without one gets the tables
    of its flavor's lines merged; the merge is taken as complete only when generated lines older
    and newer than it bracket it (an option of that line alone, added after the older and dropped
    before the newer, is not to be expected). Otherwise an option of that line may be missing
    from the merge (one a newer server dropped), so only a likely typo is refused."""
    versions = _versions_with_tables(flavor)
    if version in versions:
        return _table(f"{flavor}-{version}.json"), True
    merged: dict[str, dict[str, Any]] = {}
    for known in versions:
        merged.update(_table(f"{flavor}-{known}.json"))
    line = _version_key(version)
    bracketed = any(_version_key(v) < line for v in versions) and \
        any(_version_key(v) > line for v in versions)
    return merged, bracketed


# How alike a name must be to a known option to be taken for a misspelling of it, where the
# table may lack options of the server line (difflib's ratio: 'max_conections' is 0.97 alike
# 'max_connections').
_TYPO_LIKENESS = 0.85


# A whole number with a size suffix, or a number with a fraction: the help does not say which
# options take fractions (long_query_time does), so a fraction is let through for every number.
_NUMBER = re.compile(r"-?[0-9]+[KMGTPEkmgtpe]?|-?[0-9]+\.[0-9]+")
_BOOLEAN = ("ON", "OFF", "TRUE", "FALSE", "1", "0")


def _is_path_option(name: str, entry: Optional[dict[str, Any]]) -> bool:
    named_like_a_path = name in _PATH_NAMES or name.endswith(_PATH_SUFFIXES)
    return named_like_a_path and (entry is None or entry["type"] in ("text", "optional-text"))


def _typed_value(server: str, name: str, entry: dict[str, Any], value: str) -> str:
    """The value as the option file gets it; raises ValueError(shown, fix) when the server would
    refuse it."""
    kind = entry["type"]
    if kind == "flag":
        if value:
            raise ValueError({name: value}, f"{name} takes no value on {server}; give \"\"")
        return value
    if kind == "boolean":
        if value and value.upper() not in _BOOLEAN:
            raise ValueError({name: value}, f"{name} is ON or OFF on {server} (true/false, 1/0); "
                             "\"\" also means ON")
        return value
    if value == "":
        if kind.startswith("optional") or entry.get("optional"):
            return value
        if kind in ("text", "set"):
            return '""'  # an empty value, not a bare flag, which the server refuses
        raise ValueError({name: value}, f"{name} needs a value on {server}; give one or remove "
                         "the option")
    if kind in ("number", "optional-number"):
        if not _NUMBER.fullmatch(value):
            raise ValueError({name: value}, f"{name} is a number on {server}: write digits, "
                             "optionally with a size suffix K, M or G (e.g. 128M)")
        return value
    if kind == "enum" and value.upper() not in {v.upper() for v in entry["values"]}:
        raise ValueError({name: value}, f"{name} is one of {', '.join(entry['values'])} "
                         f"on {server}")
    if kind == "set":
        members = [member.strip() for member in value.split(",") if member.strip()]
        allowed = {v.upper() for v in entry["values"]}
        unknown = [member for member in members if member.upper() not in allowed]
        if unknown:
            raise ValueError({name: value}, f"{unknown[0]} is not a value of {name} on {server}; "
                             f"combine values of {', '.join(entry['values'])}")
    return value


def _refused_value(name: str, value: str) -> Optional[str]:
    stem = _stem(name)
    effective = "OFF" if _switched_off(name) else value.upper()
    for option, values, reason in REFUSED_VALUES:
        if stem == option and effective in values:
            return reason
    if stem == "sql-mode":
        modes = {mode.strip().upper() for mode in value.split(",")}
        refused = sorted(modes & set(REFUSED_SQL_MODES))
        if refused:
            return f"{refused[0]}: {_SQL_MODE_REASON}"
    return None


def server_options_for(flavor: str, version: str, options: dict[str, str]) -> dict[str, str]:
    """The user's options (from extra_server_options) checked against what server `flavor`
    `version` knows, with the values its option file gets. Raises ValueError(shown, fix)."""
    table, complete = option_table(flavor, version)
    server = f"{'MariaDB' if flavor == 'mariadb' else 'MySQL'} {version}"
    result = {}
    for name, value in options.items():
        stem = _stem(name)
        entry = table.get(stem)
        if _is_path_option(stem, entry) and not _switched_off(name):
            raise ValueError(name, f"{stem} is refused (it places files of the server: "
                             f"{_PATH_REASON}); remove it")
        reason = _refused_value(name, value)
        if reason:
            raise ValueError({name: value}, f"{stem}={value or 'OFF'} is refused ({reason}); "
                             "remove it or choose another value")
        if entry is None:
            close = difflib.get_close_matches(stem, table, n=1,
                                              cutoff=0.6 if complete else _TYPO_LIKENESS)
            if complete or (close and not _known_to_any_server(stem)):
                hint = (f"did you mean {close[0].replace('-', '_')}?" if close
                        else "see the server's option reference")
                raise ValueError(name, f"{server} has no option {stem}; {hint}")
            result[name] = value
            continue
        if value == "" and name != stem:
            result[name] = value  # skip-x, enable-x, ...: a switch whatever x takes
            continue
        result[name] = _typed_value(server, name, entry, value)
    return result
