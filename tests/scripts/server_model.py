"""The database server behind the SQL client and backup tool stand-ins, with the upstream rules
that decide whether a deployment works.

A server's state is a marshal'd dict in the pod's control directory (SERVER_STATE). It boots at
the first connection, as the server process would: its variables from the option files of the
conf directory the mysql container mounts (init-mysql's copies of the rendered ConfigMap), the
upstream default where a file says nothing; its durable state from its data directory, where a
restored backup left the donor's InnoDB tables (TABLES_FILE).

Where a real server runs here (MySQL 9.7.4, MariaDB 11.8 and 10.11: tests/e2e/server_roots.py),
it is the judge: test_model_agrees_with_real_servers.py (T below) sends the same statements to it
and to this model. The rules, and what checks each ("same code": 8.4 and 8.0 run the rule from
the same upstream code as 9.7, which the model follows without a server to check it on):

| rule | 9.7 / 11.8 / 10.11 | 8.4 / 8.0 (model only) |
|---|---|---|
| default variables (default_variables) | T::test_a_server_reads_its_option_files_as_the_model_boots | mysql-server sql/sys_vars.cc (GTIDs off before 9.x) |
| option files: names, loose-, old names, booleans, groups (server_options) | same test, on the rendered primary.cnf and replica.cnf | same code |
| super_read_only implies read_only; read_only=OFF clears it; MariaDB lacks it | T::test_super_read_only_turns_read_only_on_and_read_only_off_turns_both_off, T::test_mariadb_has_no_super_read_only | mysql-server sql/sys_vars.cc (fix_super_read_only, fix_read_only) |
| super_read_only refuses root's writes (1290); read_only alone does not | T::test_super_read_only_refuses_root_its_writes, T::test_read_only_alone_lets_root_write | same code |
| replication administration runs on a read-only server | T::test_replication_administration_runs_on_a_read_only_server | mysql-server sql/rpl_source.cc (rpl_master.cc before 8.0.26), reset_master(): set_skip_readonly_check() |
| the event scheduler turns off and on | T::test_the_event_scheduler_turns_off_and_on | same code |
| a logged write adds one GTID, sql_log_bin=0 none (commit) | T::test_a_logged_write_adds_one_gtid_of_the_server_and_an_unlogged_one_none, T::test_a_logged_write_advances_the_binlog_position_and_an_unlogged_one_does_not | same code |
| RESET BINARY LOGS AND GTIDS / RESET MASTER forget the GTIDs | T::test_resetting_the_binary_logs_forgets_the_servers_gtids | same code |
| SET GLOBAL gtid_purged (set_gtid_purged, 3546) | T::test_setting_gtid_purged | mysql-server sql/rpl_gtid_state.cc, Gtid_state::add_lost_gtids (since 8.0) |
| GTID_SUBSET (gtid_subset) | T::test_gtid_subset | same code |
| gtid_current_pos (MariaDB) | T::test_gtid_current_pos | - |
| replication passwords over 32 characters (3056); MariaDB takes them | T::test_replication_password_length | mysql-server sql/sql_yacc.yy, ER_CHANGE_SOURCE_PASSWORD_LENGTH |
| auto-position needs gtid_mode (1777) | T::test_auto_position_needs_gtid_mode_on | mysql-server share/messages_to_clients.txt, ER_AUTO_POSITION_REQUIRES_GTID_MODE_NOT_OFF |
| START without a source (1200); STOP without one is accepted | T::test_starting_a_replica_without_a_source_is_refused | mysql-server share/messages_to_clients.txt, ER_REPLICA_CONFIGURATION |
| RESET REPLICA ALL removes the channel | T::test_reset_replica_all_removes_the_channel | same code |
| statements a server lacks and its error (standins.UNKNOWN_TO) | T::test_statements_a_server_lacks_are_refused_as_it_refuses_them | 8.0 keeps the MASTER words: mysql-server 8.0 sql/sql_yacc.yy |
| database grants: _ and % are wildcards (database_granted) | T::test_a_database_grant_covers_the_databases_its_pattern_matches | same code |
| a physical copy carries the GTID state and (MySQL) the channel, no relay logs (tables_text, restore) | not checked here: tests/e2e restores real MariaDB backups; MySQL replicas are CLONEs | mysql-server scripts/mysql_system_tables.sql |
| a started channel applies at once (lag 0) and the heartbeat's age (start_replica, heartbeat) | not checked here: it needs a real source; tests/e2e runs real replicas | - |
| a restored replica's channel without relay logs does not start (1872) | not checked: needs a server restarted on a copied data directory | mysql-server sql/rpl_rli.cc, Relay_log_info::rli_init_info |
| XtraBackup: --slave-info refused, FTWRL, binlog_info, slave_info | XtraBackup does not run here | percona/percona-xtrabackup storage/innobase/xtrabackup/src/backup_mysql.cc |
| mariadb-backup: info file names, binlog_info's file and GTID, slave_info, --slave-info taken | T::test_mariadb_backup_files | - |

Only the SQL client and the backup tool import this module (standins.py's docstring explains
why imports are kept few); re is imported here for the same reason.
"""
from __future__ import annotations

import marshal
import os
import re
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SERVER_STATE = "server.bin"

# The file of a data directory that stands for the InnoDB tables a physical backup carries:
# MySQL 8 keeps mysql.gtid_executed and the replication metadata (mysql.slave_master_info,
# mysql.slave_relay_log_info) in the mysql tablespace (mysql-server
# scripts/mysql_system_tables.sql); MariaDB keeps its replica position in mysql.gtid_slave_pos
# (MariaDB/server sql/rpl_gtid.cc, rpl_slave_state).
TABLES_FILE = {"mysql": "mysql.ibd", "mariadb": "mysql/gtid_slave_pos.ibd"}


class SqlError(Exception):
    """A statement the server refuses: the message is what the client prints."""


def flavor(server: str) -> str:
    return server.split()[0]


def is_mariadb(server: str) -> bool:
    return flavor(server) == "mariadb"


def speaks_source_replica(server: str) -> bool:
    return server.startswith("mysql ")


# ---------------------------------------------------------------------------------------------
# Variables: upstream defaults, then the option files.

def default_variables(server: str) -> dict[str, str]:
    """What a server runs with when no option file sets a variable: the defaults of mysql-server
    sql/sys_vars.cc and MariaDB/server sql/sys_vars.cc (checked on 9.7, 11.8 and 10.11 by
    test_model_agrees_with_real_servers.py)."""
    variables = {"gtid_mode": "OFF", "enforce_gtid_consistency": "OFF", "super_read_only": "OFF",
                 "read_only": "OFF", "skip_replica_start": "OFF", "relay_log_recovery": "OFF",
                 "log_bin": "", "server_id": "1"}
    if not is_mariadb(server):
        # replica_parallel_workers is 4 from 8.0.27 (Sys_replica_parallel_workers); the images'
        # 8.0 is newer than that. The binary log is on by default since 8.0, named binlog.
        variables.update(replica_parallel_workers="4", log_bin="binlog")
    else:
        # MariaDB's slave_parallel_threads defaults to 0.
        variables["replica_parallel_workers"] = "0"
    if server == "mysql 9.7":
        # GTIDs are on by default in the 9.x line (seen on 9.7.4), off in 8.4 and 8.0
        # (mysql-server 8.4 sql/sys_vars.cc, Sys_gtid_mode and Sys_enforce_gtid_consistency).
        variables.update(gtid_mode="ON", enforce_gtid_consistency="ON")
    return variables


# Option names as the server knows them: dashes are underscores, loose- only silences unknown
# names, and the old replica words are aliases.
_ALIASES = {"slave_parallel_workers": "replica_parallel_workers",
            "slave_parallel_threads": "replica_parallel_workers",
            "skip_slave_start": "skip_replica_start", "log_slave_updates": "log_replica_updates"}
_BOOLEANS = {"on": "ON", "1": "ON", "true": "ON", "off": "OFF", "0": "OFF", "false": "OFF"}


def server_options(texts: list[str], server: str) -> dict[str, str]:
    """The server's options from the text of its option files, in the order read."""
    groups = ("mysqld", "server", "mariadb", "mariadbd") if is_mariadb(server) else ("mysqld",)
    options, group = {}, None
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                group = line.strip("[]").strip()
                continue
            if group not in groups:
                continue
            name, equals, value = line.partition("=")
            name = name.strip().lower().replace("-", "_")
            name = _ALIASES.get(name.removeprefix("loose_"), name.removeprefix("loose_"))
            value = value.strip() if equals else "ON"
            options[name] = _BOOLEANS.get(value.lower(), value) if name != "log_bin" else value
    return options


# ---------------------------------------------------------------------------------------------
# GTID sets (MySQL: uuid:1-5:7,uuid2:1-3) and positions (MariaDB: domain-server-seqno,...).

def gtid_set(text: str) -> dict[str, list[tuple[int, int]]]:
    result: dict[str, list[tuple[int, int]]] = {}
    for part in text.replace("\n", "").split(","):
        uuid, *intervals = part.strip().split(":")
        for interval in intervals:
            low, _, high = interval.partition("-")
            result.setdefault(uuid.lower(), []).append((int(low), int(high or low)))
    return result


def gtid_text(gtids: dict[str, list[tuple[int, int]]]) -> str:
    return ",".join(uuid + "".join(f":{lo}" if lo == hi else f":{lo}-{hi}" for lo, hi in spans)
                    for uuid, spans in sorted(gtids.items()))


def gtid_subset(subset: str, superset: str) -> bool:
    """GTID_SUBSET(subset, superset)."""
    have = gtid_set(superset)
    return all(any(lo >= a and hi <= b for a, b in have.get(uuid, []))
               for uuid, spans in gtid_set(subset).items() for lo, hi in spans)


def gtid_union(first: str, second: str) -> str:
    spans = gtid_set(first)
    for uuid, added in gtid_set(second).items():
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(spans.get(uuid, []) + added):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        spans[uuid] = merged
    return gtid_text(spans)


def gtid_overlap(first: str, second: str) -> bool:
    other = gtid_set(second)
    return any(lo <= b and a <= hi for uuid, spans in gtid_set(first).items()
               for lo, hi in spans for a, b in other.get(uuid, []))


def gtid_subtract(first: str, second: str) -> str:
    """The GTIDs of `first` that are not in `second` (one transaction at a time: small sets)."""
    other = gtid_set(second)
    left = {uuid: [(n, n) for lo, hi in spans for n in range(lo, hi + 1)
                   if not any(a <= n <= b for a, b in other.get(uuid, []))]
            for uuid, spans in gtid_set(first).items()}
    return gtid_union("", gtid_text({uuid: spans for uuid, spans in left.items() if spans}))


def gtid_added(gtids: str, uuid: str) -> str:
    """gtid_executed after the server commits one more transaction of its own."""
    spans = gtid_set(gtids)
    last = spans.get(uuid, [(0, 0)])[-1]
    spans[uuid] = spans.get(uuid, [])[:-1] + [(last[0] or 1, last[1] + 1)]
    return gtid_text(spans)


# ---------------------------------------------------------------------------------------------
# Boot and persistence.

def new_state(server: str, options: dict[str, str]) -> dict[str, Any]:
    variables = {**default_variables(server), **options}
    if variables["super_read_only"] == "ON" and not is_mariadb(server):
        # super_read_only implies read_only (mysql-server sql/sys_vars.cc,
        # fix_super_read_only); MariaDB has no such variable (loose- makes it ignored).
        variables["read_only"] = "ON"
    server_id = int(variables["server_id"])
    return {
        "server": server,
        "variables": variables,
        "server_uuid": f"3e11fa47-71ca-11e1-9e33-c80aa9{server_id:06d}",
        "gtid_executed": "", "gtid_purged": "",           # MySQL
        "gtid_binlog_pos": "", "gtid_slave_pos": "",      # MariaDB
        "binlog": 1, "binlog_pos": 157,
        "started_at": int(time.time()),  # the server's start, for its Uptime status
        "channel": None,
        "events": [],          # replication administration, in order (tests read it)
        "applier_stalls": [],  # what blocked the replica's applier, e.g. a backup's FTWRL
    }


def restored_tables(text: str) -> dict[str, Any]:
    """The TABLES_FILE of a restored backup: name=value lines."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def boot(server: str, conf_dir: str, datadir: str) -> dict[str, Any]:
    """A server starting on its option files and data directory."""
    texts = []
    if os.path.isdir(conf_dir):
        # The images read /etc/mysql/conf.d/*.cnf in name order (!includedir).
        texts = [_read(os.path.join(conf_dir, name)) for name in sorted(os.listdir(conf_dir))
                 if name.endswith(".cnf")]
    state = new_state(server, server_options(texts, server))
    tables = os.path.join(datadir, TABLES_FILE[flavor(server)])
    if os.path.exists(tables):
        restore(state, restored_tables(_read(tables)))
    return state


def restore(state: dict[str, Any], tables: dict[str, str]) -> None:
    """What the donor's tables bring to a server restored from its backup: its GTID state and its
    replication channel, but no relay logs (neither XtraBackup nor mariadb-backup copies them), so
    the channel's applier metadata names relay logs that are not there."""
    for name in ("gtid_executed", "gtid_purged", "gtid_slave_pos"):
        state[name] = tables.get(name, "")
    if state["gtid_executed"] and not state["gtid_purged"]:
        # Binary logs are not in a backup either: all the history is purged.
        state["gtid_purged"] = state["gtid_executed"]
    if tables.get("channel_host"):
        state["channel"] = new_channel(host=tables["channel_host"], user=tables.get("channel_user", ""),
                                       auto_position=tables.get("channel_auto_position") == "1",
                                       use_gtid=tables.get("channel_use_gtid", "no"))
        state["channel"]["relay_logs_missing"] = True


def tables_text(state: dict[str, Any]) -> str:
    """TABLES_FILE as a copy of this server carries it. MySQL 8.0.17+ writes mysql.gtid_executed
    with every commit, so a copy holds the server's GTID state."""
    tables = {"gtid_executed": state["gtid_executed"],
              "gtid_slave_pos": state["gtid_slave_pos"]}
    channel = state["channel"]
    if channel and not is_mariadb(state["server"]):
        # MariaDB keeps the connection in master.info, a file; only gtid_slave_pos is a table.
        tables.update(channel_host=channel["host"], channel_user=channel["user"],
                      channel_auto_position="1" if channel["auto_position"] else "0")
    return "".join(f"{name}={value}\n" for name, value in tables.items())


def load(control: str, scenario: dict[str, Any]) -> dict[str, Any]:
    path = os.path.join(control, SERVER_STATE)
    if os.path.exists(path):
        with open(path, "rb") as file:
            return marshal.load(file)
    return boot(scenario["server"], scenario["conf_dir"], scenario["datadir"])


def save(control: str, state: dict[str, Any]) -> None:
    # Whole or not at all: a pod's scripts run clients side by side (the sidecar's role watch
    # while its listener serves a backup), and a reader must never see half a state.
    path = os.path.join(control, SERVER_STATE)
    partial = f"{path}.{os.getpid()}"
    with open(partial, "wb") as file:
        file.write(marshal.dumps(state))
    os.replace(partial, path)


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()


# ---------------------------------------------------------------------------------------------
# SQL text: statements split at ';' outside quotes, literals unescaped.

_TOKEN = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`|[\w@.*%$]+|\S", re.S)
_UNESCAPE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "0": "\0", "Z": "\x1a"}


def unquote(token: str) -> str:
    """The value of a string literal (default sql_mode: backslash escapes, doubled quotes)."""
    quote, body, out, i = token[0], token[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(_UNESCAPE.get(body[i + 1], body[i + 1]))
            i += 2
        elif body[i] == quote and body[i + 1:i + 2] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def statements(sql: str) -> list[list[str]]:
    """The statements of a script, each as its tokens."""
    result, current = [], []
    for token in _TOKEN.findall(sql):
        if token == ";":
            if current:
                result.append(current)
            current = []
        else:
            current.append(token)
    return result + ([current] if current else [])


def skeleton(tokens: list[str]) -> str:
    """The statement's words with every literal a '?': what the parser sees as syntax."""
    return " ".join("?" if token[0] in "'\"" else token for token in tokens)


# ---------------------------------------------------------------------------------------------
# Statements.

# ER_OPTION_PREVENTS_STATEMENT (1290): mysql-server share/messages_to_clients.txt; seen on 9.7.4.
SUPER_READ_ONLY_ERROR = ("ERROR 1290 (HY000): The MySQL server is running with the --super-read-only "
                         "option so it cannot execute this statement")
# ER_CHANGE_SOURCE_PASSWORD_LENGTH / ER_CHANGE_MASTER_PASSWORD_LENGTH (3056), raised by the
# parser: mysql-server sql/sql_yacc.yy, rule source_def (SOURCE_PASSWORD); seen on 9.7.4.
PASSWORD_LENGTH_ERROR = ("ERROR 3056 (HY000): The password provided for the replication user exceeds "
                         "the maximum length of 32 characters")
# ER_REPLICA_RLI_INIT_REPOSITORY (1872): a channel whose applier metadata names relay logs that
# are missing does not start (mysql-server sql/rpl_rli.cc, Relay_log_info::rli_init_info, which
# cannot find the relay log it names in the index; reported by radondb-mysql-kubernetes #271
# and vitess #2799). Not checked against 9.7 here: it needs a server restarted on a copied data
# directory. relay_log_recovery=ON makes rli_init_info start from a new relay log instead, which
# the model does not credit: the stricter failure is modelled whatever that variable says.
RLI_INIT_ERROR = "ERROR 1872 (HY000): Replica failed to initialize applier metadata structure from the repository"
# ER_CANT_SET_GTID_PURGED_DUE_SETS_CONSTRAINTS (3546): since 8.0 gtid_purged may be set on a
# server with GTIDs of its own, as long as what is added is new to it (mysql-server
# sql/rpl_gtid_state.cc, Gtid_state::add_gtids_to_gtid_purged; seen on 9.7.4).
GTID_PURGED_ERROR = {
    "superset": "ERROR 3546 (HY000): @@GLOBAL.GTID_PURGED cannot be changed: the new value must "
                "be a superset of the old value",
    "overlap": "ERROR 3546 (HY000): @@GLOBAL.GTID_PURGED cannot be changed: the added gtid set "
               "must not overlap with @@GLOBAL.GTID_EXECUTED",
}
# ER_AUTO_POSITION_REQUIRES_GTID_MODE_NOT_OFF (1777): mysql-server
# share/messages_to_clients.txt; seen on 9.7.4.
AUTO_POSITION_ERROR = ("ERROR 1777 (HY000): CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION = 1 "
                       "cannot be executed because @@GLOBAL.GTID_MODE = OFF.")


# START without a source (1200): ER_REPLICA_CONFIGURATION in mysql-server
# share/messages_to_clients.txt (8.0.26+ wording), ER_BAD_SLAVE in MariaDB/server
# sql/share/errmsg-utf8.txt as START SLAVE raises it (sql/sql_repl.cc, start_slave); both seen
# on the real servers.
NOT_CONFIGURED_ERROR = {
    "mysql": "ERROR 1200 (HY000): The server is not configured as replica; fix in config file or "
             "with CHANGE REPLICATION SOURCE TO",
    "mariadb": "ERROR 1200 (HY000): Misconfigured slave: MASTER_HOST was not set; Fix in config "
               "file or with CHANGE MASTER TO",
}


def new_channel(host: str, user: str, auto_position: bool, use_gtid: str) -> dict[str, Any]:
    return {"host": host, "port": "3306", "user": user, "password": "", "auto_position": auto_position,
            "use_gtid": use_gtid, "heartbeat": "", "log_file": "", "log_pos": "0",
            "lag": "NULL",
            "relay_logs_missing": False}


def execute(state: dict[str, Any], sql: str) -> None:
    """Runs a script as the client does without --force: statement by statement, stopping at the
    first error (the statements before it took effect)."""
    session: dict[str, str] = {}
    for tokens in statements(sql):
        run_statement(state, tokens, session)


def run_statement(state: dict[str, Any], tokens: list[str], session: dict[str, str]) -> None:
    words = skeleton(tokens).upper()
    if words.startswith("SET @"):
        session[tokens[1].lower()] = words
    elif re.match(r"SET SESSION SQL_LOG_BIN = [01]$", words):
        session["sql_log_bin"] = tokens[-1]
    elif re.match(r"SET GLOBAL (SUPER_)?READ_ONLY = ", words):
        read_only_statement(state, tokens, session)
    elif re.match(r"SET GLOBAL EVENT_SCHEDULER = (ON|OFF)$", words):
        # Both flavors can turn a running scheduler on and off (not one started DISABLED).
        state["variables"]["event_scheduler"] = tokens[-1].upper()
    elif re.match(r"(STOP|START) (REPLICA|SLAVE)$|RESET (REPLICA|SLAVE) ALL$|RESET MASTER$|"
                  r"RESET BINARY LOGS AND GTIDS$|SET GLOBAL GTID_(PURGED|SLAVE_POS) = \?$|"
                  r"SET GLOBAL GTID_SLAVE_POS = @@GLOBAL.GTID_CURRENT_POS$|"
                  r"CHANGE (REPLICATION SOURCE|MASTER) TO ", words):
        replication_statement(state, tokens, words)
    elif re.match(r"CREATE USER |GRANT |CREATE DATABASE ", words):
        write_statement(state, tokens, words, logged=session.get("sql_log_bin") != "0")
    else:
        raise SqlError(f"the stand-in does not model: {words}")


def read_only_statement(state: dict[str, Any], tokens: list[str], session: dict[str, str]) -> None:
    """read_only and super_read_only: on MySQL super_read_only=ON sets read_only too and
    read_only=OFF clears super_read_only (MySQL manual, super_read_only); MariaDB has no
    super_read_only."""
    name, value = tokens[2].lower(), tokens[-1]
    if name == "super_read_only" and is_mariadb(state["server"]):
        raise SqlError("ERROR 1193 (HY000): Unknown system variable 'super_read_only'")
    on = {"1": "ON", "0": "OFF", "ON": "ON", "OFF": "OFF"}[value.upper()]
    variables = state["variables"]
    variables[name] = on
    if name == "super_read_only" and on == "ON":
        variables["read_only"] = "ON"
    if name == "read_only" and on == "OFF":
        variables["super_read_only"] = "OFF"


def write_statement(state: dict[str, Any], tokens: list[str], words: str, logged: bool = True) -> None:
    """A client's write. super_read_only refuses it even for root; read_only alone does not stop
    root, which holds SUPER (MySQL) or READ_ONLY ADMIN (MariaDB). Seen on 9.7.4, 11.8 and 10.11."""
    if state["variables"]["super_read_only"] == "ON" and not is_mariadb(state["server"]):
        raise SqlError(SUPER_READ_ONLY_ERROR)
    if logged:
        commit(state)


def commit(state: dict[str, Any]) -> None:
    """A transaction of this server's own: in the binary log with a GTID of its own."""
    state["binlog_pos"] += 100
    if is_mariadb(state["server"]):
        # The next sequence number follows the newest GTID the server knows of in the domain,
        # its replica position's too (MariaDB/server sql/log.cc, MYSQL_BIN_LOG::write_gtid_event;
        # seen on 11.8 and 10.11).
        seqno = max((int(pos.rsplit("-", 1)[1]) for pos in (state["gtid_binlog_pos"], state["gtid_slave_pos"])
                     if pos), default=0)
        state["gtid_binlog_pos"] = f"0-{state['variables']['server_id']}-{seqno + 1}"
    elif state["variables"]["gtid_mode"] == "ON":
        state["gtid_executed"] = gtid_added(state["gtid_executed"], state["server_uuid"])


def replication_statement(state: dict[str, Any], tokens: list[str], words: str) -> None:
    """Replication and GTID administration: allowed under super_read_only (mysql-server
    sql/rpl_source.cc, reset_master() calls set_skip_readonly_check(); seen on 9.7.4, and on
    11.8 and 10.11 under read_only)."""
    state["events"].append(words)
    channel = state["channel"]
    if words.startswith("STOP"):
        if channel:
            channel.update(io="No", sql="No", lag="NULL")
    elif words.startswith(("RESET REPLICA", "RESET SLAVE")):
        # RESET REPLICA ALL drops the channel with its metadata and relay logs.
        state["channel"] = None
    elif words.startswith("RESET"):
        # RESET BINARY LOGS AND GTIDS (MySQL), RESET MASTER (MariaDB: its binary log's GTIDs go,
        # gtid_slave_pos stays).
        state.update(gtid_executed="", gtid_purged="", gtid_binlog_pos="", binlog=1, binlog_pos=157)
    elif words.startswith("SET GLOBAL GTID_PURGED"):
        set_gtid_purged(state, unquote(tokens[-1]))
    elif words.startswith("SET GLOBAL GTID_SLAVE_POS = @@GLOBAL.GTID_CURRENT_POS"):
        state["gtid_slave_pos"] = gtid_current_pos(state)
    elif words.startswith("SET GLOBAL GTID_SLAVE_POS"):
        state["gtid_slave_pos"] = unquote(tokens[-1])
    elif words.startswith("CHANGE"):
        change_source(state, tokens)
    else:
        start_replica(state)


def set_gtid_purged(state: dict[str, Any], value: str) -> None:
    """'+set' adds to gtid_purged; a plain set replaces it and must contain it. Either way the
    added GTIDs join gtid_executed and must not be there already."""
    purged = state["gtid_purged"]
    if value.startswith("+"):
        added = value[1:]
    elif gtid_subset(purged, value):
        added = gtid_subtract(value, purged)
    else:
        raise SqlError(GTID_PURGED_ERROR["superset"])
    if gtid_overlap(added, state["gtid_executed"]):
        raise SqlError(GTID_PURGED_ERROR["overlap"])
    state["gtid_purged"] = gtid_union(purged, added)
    state["gtid_executed"] = gtid_union(state["gtid_executed"], added)


def gtid_current_pos(state: dict[str, Any]) -> str:
    """MariaDB's gtid_current_pos (one domain here): the binary log's last GTID when this server
    wrote it itself and it is newer than the replica position, else the replica position
    (MariaDB KB, gtid_current_pos)."""
    own, replica = state["gtid_binlog_pos"], state["gtid_slave_pos"]
    if own and own.split("-")[1] == state["variables"]["server_id"] and (
            not replica or int(own.rsplit("-", 1)[1]) > int(replica.rsplit("-", 1)[1])):
        return own
    return replica


def change_source(state: dict[str, Any], tokens: list[str]) -> None:
    options = {}
    rest = tokens[tokens.index("TO") + 1:]
    for i in range(0, len(rest), 4):  # NAME = value ,
        options[rest[i].upper().split("_", 1)[1]] = unquote(rest[i + 2]) if rest[i + 2][0] in "'\"" else rest[i + 2]
    server = state["server"]
    if "PASSWORD" in options and not is_mariadb(server) and len(options["PASSWORD"].encode()) > 32:
        raise SqlError(PASSWORD_LENGTH_ERROR)
    if options.get("AUTO_POSITION") == "1" and state["variables"]["gtid_mode"] != "ON":
        raise SqlError(AUTO_POSITION_ERROR)
    # MariaDB's new channel replicates by GTID (slave_pos) unless it is given a binary log
    # position (seen on 11.8 and 10.11; the default since 10.10).
    channel = state["channel"] or new_channel("", "", False, "slave_pos" if is_mariadb(server) else "no")
    fields = {"HOST": "host", "PORT": "port", "USER": "user", "PASSWORD": "password",
              "HEARTBEAT_PERIOD": "heartbeat", "LOG_FILE": "log_file", "LOG_POS": "log_pos",
              "USE_GTID": "use_gtid"}
    for option, value in options.items():
        if option in fields:
            channel[fields[option]] = value
    if "AUTO_POSITION" in options:
        channel["auto_position"] = options["AUTO_POSITION"] == "1"
    if is_mariadb(server) and ("LOG_FILE" in options or "LOG_POS" in options) and "USE_GTID" not in options:
        channel["use_gtid"] = "no"
    state["channel"] = channel


def start_replica(state: dict[str, Any]) -> None:
    channel = state["channel"]
    if not channel or not channel["host"]:
        raise SqlError(NOT_CONFIGURED_ERROR[flavor(state["server"])])
    if channel["relay_logs_missing"]:
        raise SqlError(RLI_INIT_ERROR)
    channel.update(lag="0")


# ---------------------------------------------------------------------------------------------
# Queries.

def query(state: dict[str, Any], text: str) -> list[str]:
    """The answer of a one-value query, as its rows."""
    tokens = _TOKEN.findall(text)
    words = skeleton(tokens).upper()
    if words == "SELECT 1":
        return ["1"]
    if words == "SELECT GTID_SUBSET ( ? , @@GLOBAL.GTID_EXECUTED )":
        return ["1" if gtid_subset(unquote(tokens[3]), state["gtid_executed"]) else "0"]
    if words == "SELECT @@GLOBAL.GTID_SLAVE_POS":
        return [state["gtid_slave_pos"]]
    read_only = "1" if state["variables"]["read_only"] == "ON" else "0"
    if words == "SELECT @@GLOBAL.READ_ONLY":
        return [read_only]
    if words.startswith("SELECT @@GLOBAL.READ_ONLY , ( SELECT TIMESTAMPDIFF ( MICROSECOND"):
        # What a pod tells its peers (topology.sh): the heartbeat's writer relative to this
        # server is known for its own heartbeat only (0); a replica's is not modelled (NULL).
        micros = heartbeat(state)
        return [read_only, str(micros) if micros else "NULL", "0" if read_only == "0" else "NULL",
                gtid_state(state)]
    if words.startswith("SELECT CONCAT_WS (") or words.startswith("SELECT REPLACE ( @@GLOBAL.GTID_EXECUTED"):
        return [gtid_state(state)]
    if words == "SELECT GTID_SUBSET ( ? , ? )":
        return ["1" if gtid_subset(unquote(tokens[3]), unquote(tokens[5])) else "0"]
    if words == "SHOW GLOBAL STATUS LIKE ?" and unquote(tokens[4]) == "Uptime":
        return ["Uptime", str(int(time.time()) - state["started_at"])]
    raise SqlError(f"the stand-in has no answer to: {text}")


def gtid_state(state: dict[str, Any]) -> str:
    """The server's GTID state as gtid_state_expression (scripts/gtid.sh) gives it."""
    if is_mariadb(state["server"]):
        return ",".join(filter(None, (state["gtid_binlog_pos"], state["gtid_slave_pos"])))
    return state["gtid_executed"]


# The replica's clock when it reads the heartbeat (any fixed time: only differences count).
NOW_MICROS = 1_800_000_000_000_000


def heartbeat(state: dict[str, Any]) -> int:
    """The primary's heartbeat the server has applied (mysql_cluster_agent/heartbeat.py), microseconds since
    the epoch; 0 for none. Modelled from the channel: its lag is the heartbeat's age (the event
    writes every second and the row replicates like any write); a writable server's own is now."""
    if state["variables"]["read_only"] != "ON":
        return NOW_MICROS
    channel = state["channel"]
    if channel is None or not channel["lag"].isdigit():
        return 0
    return NOW_MICROS - int(channel["lag"]) * 1_000_000


# ---------------------------------------------------------------------------------------------
# The backup tool: mariadb-backup. XtraBackup's files stand in for the data a MySQL pod's CLONE
# leaves (scripts/backup-clone.sh), whose tables carry the donor's GTID state.

# percona-xtrabackup storage/innobase/xtrabackup/src/backup_mysql.cc,
# detect_mysql_capabilities_for_backup(), logged with xb::error().
SLAVE_INFO_ERROR = ("[ERROR] [MY-011825] [Xtrabackup] The --slave-info option requires GTID enabled "
                    "or --safe-slave-backup option used for a multi-threaded slave.")


def info_prefix(server: str) -> str:
    """MariaDB renamed mariabackup's xtrabackup_* files to mariadb_backup_* (MDEV-18931, commit
    b314f7b642; MariaDB/server extra/mariabackup/backup_mysql.h, MB_BINLOG_INFO): in 11.x, not
    in 10.11."""
    return "mariadb_backup" if server.startswith("mariadb 11") else "xtrabackup"


def slave_info_refused(state: dict[str, Any], args: list[str]) -> bool:
    """XtraBackup's get_mysql_vars() reads the parallel workers and gtid_mode from SHOW
    VARIABLES; the check looks at values only, so it fires on a primary too. XtraBackup 8.x
    refuses more than 1 worker (PXB-2844). mariadb-backup took --slave-info from servers with
    slave_parallel_threads=2 and no GTID position on 11.8 and 10.11 (T::test_mariadb_backup_files),
    so no refusal is modelled for it."""
    if "--slave-info" not in args or "--safe-slave-backup" in args or is_mariadb(state["server"]):
        return False
    multi_threaded = int(state["variables"]["replica_parallel_workers"]) > 1
    return multi_threaded and state["variables"]["gtid_mode"] != "ON"


def backup_locks(state: dict[str, Any], args: list[str]) -> list[str]:
    """Finding 3: lock_tables_maybe() forces FLUSH TABLES WITH READ LOCK for the whole copy when
    --slave-info meets a channel without auto-position on a server that is not Percona Server
    (it then reads the position from SHOW SLAVE STATUS under the lock); with no MyISAM tables and
    no forced lock it takes none (backup_mysql.cc, lock_tables_maybe / lock_tables_ftwrl;
    upstream test t/ib_slave_info.sh). mariabackup locks differently (BACKUP STAGE),
    so the rule is XtraBackup's."""
    channel = state["channel"]
    if is_mariadb(state["server"]) or "--slave-info" not in args or not channel or channel["auto_position"]:
        return []
    return ["FLUSH NO_WRITE_TO_BINLOG TABLES", "FLUSH TABLES WITH READ LOCK"]


def binlog_info(state: dict[str, Any]) -> str | None:
    """write_binlog_info() (backup_mysql.cc of both tools): XtraBackup writes file<TAB>pos, plus gtid_executed when
    gtid_mode=ON and it is not empty, and no file without a binary log or GTIDs; mariadb-backup
    adds gtid_current_pos (seen on 11.8 and 10.11)."""
    log_bin = state["variables"]["log_bin"]
    position = f"{log_bin or 'binlog'}.{state['binlog']:06d}\t{state['binlog_pos']}"
    if is_mariadb(state["server"]):
        return f"{position}\t{gtid_current_pos(state)}\n" if log_bin else None
    if not log_bin and not state["gtid_executed"]:
        return None
    if state["variables"]["gtid_mode"] == "ON" and state["gtid_executed"]:
        return f"{position}\t{state['gtid_executed']}\n"
    return f"{position}\n"


def slave_info(state: dict[str, Any]) -> str | None:
    """write_slave_info() (backup_mysql.cc of both tools), for a server with a channel (without one the tool
    ignores --slave-info). XtraBackup: an auto-position channel gives SET GLOBAL gtid_purged (the
    server's gtid_executed) and CHANGE ... AUTO_POSITION=1, any other the source position; 8.4
    writes the SOURCE words (its test t/ib_slave_info.sh and pxb-docs 8.4), 8.0 and 2.4 the
    MASTER words. mariadb-backup: a channel using GTIDs, on a server with a GTID position, gives
    gtid_slave_pos and master_use_gtid, any other its executed position (seen on 11.8, 10.11)."""
    channel = state["channel"]
    if not channel:
        return None
    server = state["server"]
    if is_mariadb(server):
        if channel["use_gtid"] != "no" and state["gtid_slave_pos"]:
            return (f"SET GLOBAL gtid_slave_pos = '{state['gtid_slave_pos']}';\n"
                    "CHANGE MASTER TO master_use_gtid = slave_pos;\n")
        return f"CHANGE MASTER TO MASTER_LOG_FILE='{channel['log_file']}', MASTER_LOG_POS={channel['log_pos']};\n"
    change, option = ("CHANGE REPLICATION SOURCE TO", "SOURCE") if server in ("mysql 9.7", "mysql 8.4") else ("CHANGE MASTER TO", "MASTER")
    if channel["auto_position"]:
        return f"SET GLOBAL gtid_purged='{state['gtid_executed']}';\n{change} {option}_AUTO_POSITION=1;\n"
    return f"{change} {option}_LOG_FILE='{channel['log_file']}', {option}_LOG_POS={channel['log_pos']};\n"


# What a backup copies besides the tables: a stand-in for the data files.
DATA_FILES = [("ibdata1", "system tablespace"), ("mysql/general_log.CSV", ""),
              ("app/db.opt", "default-character-set=utf8mb4")]


def backup_files(state: dict[str, Any], args: list[str]) -> list[tuple[str, str]]:
    """The files of a backup of this server, in stream order: data, the tables (with the
    replication metadata, but no relay or binary logs), the info files the tool writes at the
    end, checkpoints and tool info last."""
    server, prefix = state["server"], info_prefix(state["server"])
    files = list(DATA_FILES) + [(TABLES_FILE[flavor(server)], tables_text(state))]
    if not is_mariadb(server):
        files.append(("auto.cnf", f"[auto]\nserver-uuid={state['server_uuid']}\n"))
    info = {"binlog_info": binlog_info(state),
            "slave_info": slave_info(state) if "--slave-info" in args else None}
    files += [(f"{prefix}_{kind}", text) for kind, text in info.items() if text is not None]
    files += [(f"{prefix}_checkpoints", "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 8765\n"),
              (f"{prefix}_info", "tool_command = --backup --slave-info --stream=xbstream\n")]
    return files
