"""Server options a user adds to the component's own (`serverOptions`): which are well formed,
and which the component keeps to itself, with the reason it gives when refusing one.

The server reads option names with '_' and '-' alike, lets `loose-`, `skip-`, `enable-`,
`disable-` and `maximum-` modify a name, and (MySQL 5.7 at least) accepts an unambiguous prefix of
a name: a managed option is refused in each of those spellings.
"""
from __future__ import annotations

import re
from typing import Any

_OPTION_NAME = re.compile(r"[A-Za-z]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")
MAX_VALUE_LENGTH = 1024
_MODIFIERS = ("loose-", "skip-", "enable-", "disable-", "maximum-")

_REASONS = {
    "identity": "each pod's identity is set at its start (server-id from its ordinal, its DNS "
                "name for replication)",
    "network": "the Services, probes and scripts reach the server on its fixed port and socket",
    "storage": "the data volume's layout is fixed: the clone and the scripts find the data, "
               "binary and relay logs there",
    "replication": "GTID replication is managed by the cluster",
    "role": "every server starts read-only and only the primary is made writable, at run time",
    "heartbeat": "replicas measure their lag by the heartbeat event, which the event scheduler runs",
    "clone": "new MySQL replicas are copied by the CLONE plugin, which every server loads (a "
             "plugin-load list of yours would replace it)",
    "durability": "durability is managed: every commit is on disk in the binary log and the redo "
                  "log before the client hears OK",
    "retention": "binary log expiry is set by binlogRetentionDays",
    "access": "the cluster's accounts rely on authentication with address-based hosts",
    "tls": "the certificate and whether clients must use TLS are set by tlsSource and "
           "requireClientTls",
}
_MANAGED_BY_REASON = {
    "identity": ("server-id", "report-host", "report-port"),
    "network": ("port", "bind-address", "socket", "skip-networking"),
    "storage": ("datadir", "log-bin", "relay-log"),
    "replication": ("gtid-mode", "enforce-gtid-consistency", "gtid-strict-mode", "binlog-format",
                    "log-slave-updates", "log-replica-updates", "skip-slave-start",
                    "skip-replica-start", "slave-net-timeout", "replica-net-timeout",
                    "relay-log-recovery", "master-info-repository", "relay-log-info-repository"),
    "role": ("read-only", "super-read-only"),
    "heartbeat": ("event-scheduler",),
    "clone": ("plugin-load", "plugin-load-add"),
    "durability": ("sync-binlog", "innodb-flush-log-at-trx-commit"),
    "retention": ("binlog-expire-logs-seconds", "expire-logs-days",
                  "binlog-expire-logs-auto-purge", "slave-connections-needed-for-purge"),
    "access": ("skip-name-resolve", "skip-grant-tables"),
    "tls": ("ssl", "ssl-ca", "ssl-capath", "ssl-cert", "ssl-key", "require-secure-transport"),
}
# Every option the cluster manages, by its canonical name, with why it does.
MANAGED_OPTIONS = {option: _REASONS[reason]
                   for reason, options in _MANAGED_BY_REASON.items() for option in options}


def canonical(name: str) -> str:
    """An option name as the component writes it: lower case, words joined by '-'."""
    return name.lower().replace("_", "-")


def _stem(name: str) -> str:
    """The name without the prefixes that modify an option rather than name it."""
    for modifier in _MODIFIERS:
        if name.startswith(modifier):
            return _stem(name[len(modifier):])
    return name


_MANAGED_STEMS = {_stem(option): option for option in MANAGED_OPTIONS}


def managed_option_named(name: str) -> str:
    """The managed option that `name` (canonical) would set, or "" when it sets none."""
    stem = _stem(name)
    for managed_stem, option in _MANAGED_STEMS.items():
        if managed_stem.startswith(stem):
            return option
    return ""


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
        options[option] = _value_text(name, option_value)
    return options
