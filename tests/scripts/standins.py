"""Stand-ins for the programs the cluster's scripts run, and the real commands they may use.

Each stand-in is a small executable in a directory that is the whole PATH of the script under
test (so a program the image would lack is missing here too). It records how it was called in
`calls.log` of its control directory and behaves as `scenario.bin` there says, the way the real
program would: a client refuses a wrong password or a statement its server does not know, the
stream extractor fails on a stream that stops inside a file, the backup tool marks a backup as
prepared. The SQL client and the backup tool work on the pod's server, modelled with upstream's
rules in server_model.py. The real commands the scripts may use (mv, grep, ...) are there too: in
traced runs as shims that record their argv and exec the real program, so that the argv of every
process the scripts start can be searched for passwords.

The stand-ins start with `python -SI` and import this module. A clone runs several stand-ins per
attempt, so it loads only what starts fast: the scenario and the calls are marshal data (json
and re take longer to import than the interpreter takes to start; re is imported only by the
stand-ins that parse SQL). scripted_pod.py installs the stand-ins.
"""
from __future__ import annotations

import io
import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing takes as long to import as the rest together
    from typing import Any, Callable, NoReturn

# Tool name -> what it stands in for.
ROLES = {
    "mysql": "sql", "mariadb": "sql",
    "mysqladmin": "admin", "mariadb-admin": "admin",
    "xtrabackup": "backup", "mariadb-backup": "backup", "mariabackup": "backup",
    "xbstream": "stream", "mbstream": "stream",
    "socat": "transfer",
    "sleep": "sleep",
}
# Real commands the scripts may use; anything else is "command not found", as in a slim image.
REAL_TOOLS = ("cat", "cp", "date", "dirname", "grep", "mkdir", "mktemp", "mv", "rm", "rmdir",
              "timeout")
# Commands whose effect no test needs: they only record their argv (sync would flush every
# filesystem of the machine; the image's entrypoint would start a server, which the model plays).
NO_OPS = ("sync", "docker-entrypoint.sh")

ARGV_LOG = "argv.log"
CALLS_LOG = "calls.log"
SCENARIO = "scenario.bin"
SERVED_STREAM = "served.stream"


# ---------------------------------------------------------------------------------------------
# The fake backup stream: one record per file, "FILE <name> <length>\n<bytes>". A stream cut at
# a record boundary extracts cleanly (as when a donor closes the connection between files).

def encode_stream(files: list[tuple[str, str]]) -> bytes:
    out = b""
    for name, content in files:
        data = content.encode()
        out += b"FILE %s %d\n" % (name.encode(), len(data)) + data
    return out


class IncompleteStream(Exception):
    pass


def decode_stream(data: bytes):
    """Yields (name, bytes) per record; raises IncompleteStream where a record is cut short."""
    while data:
        header, newline, rest = data.partition(b"\n")
        fields = header.split(b" ")
        if not newline or len(fields) != 3 or fields[0] != b"FILE" or not fields[2].isdigit():
            raise IncompleteStream(header[:40])
        length = int(fields[2])
        if len(rest) < length:
            raise IncompleteStream(fields[1])
        yield fields[1].decode(), rest[:length]
        data = rest[length:]


# ---------------------------------------------------------------------------------------------
# What the servers understand: a statement a server does not have is refused there.

# Each entry: a pattern of the statement's words, and the error the server gives (the matched
# text fills {}): a syntax error, or an unknown variable, table or function. Checked against the
# real 9.7, 11.8 and 10.11 by test_model_agrees_with_real_servers.py.
_SYNTAX = "ERROR 1064 (42000): You have an error in your SQL syntax near '{}'"
_UNKNOWN_VARIABLE = "ERROR 1193 (HY000): Unknown system variable '{}'"
_MASTER_WORDS = [(pattern, _SYNTAX) for pattern in (
    r"CHANGE MASTER", r"(START|STOP|RESET) SLAVE", r"SHOW SLAVE STATUS", r"RESET MASTER",
    r"MASTER_\w+\s*=")]
_MYSQL_ONLY = [(r"gtid_purged", _UNKNOWN_VARIABLE), (r"AUTO_POSITION", _SYNTAX),
               (r"BACKUP_ADMIN", _SYNTAX),
               (r"performance_schema\.clone_\w+", "ERROR 1146 (42S02): Table '{}' doesn't exist"),
               (r"\bGTID_SUBSET\b", "ERROR 1305 (42000): FUNCTION {} does not exist"),
               (r"RESET BINARY LOGS AND GTIDS", _SYNTAX)]
_MARIADB_ONLY = [(r"gtid_slave_pos", _UNKNOWN_VARIABLE), (r"MASTER_USE_GTID", _SYNTAX),
                 (r"BINLOG MONITOR", _SYNTAX), (r"SLAVE MONITOR", _SYNTAX)]
_SOURCE_WORDS_MARIADB_LACKS = [(pattern, _SYNTAX) for pattern in (
    r"CHANGE REPLICATION SOURCE", r"SOURCE_\w+\s*=", r"GET_SOURCE_PUBLIC_KEY")]
UNKNOWN_TO = {
    # 8.4 removed the MASTER/SLAVE statements (9.7 too).
    "mysql 9.7": _MASTER_WORDS + _MARIADB_ONLY,
    "mysql 8.4": _MASTER_WORDS + _MARIADB_ONLY,
    "mysql 8.0": _MARIADB_ONLY + [(r"RESET BINARY LOGS AND GTIDS", _SYNTAX)],
    # MariaDB 10.5+ accepts START/STOP REPLICA and SHOW REPLICA STATUS as synonyms.
    "mariadb 11.8": _MYSQL_ONLY + _SOURCE_WORDS_MARIADB_LACKS,
    "mariadb 11.4": _MYSQL_ONLY + _SOURCE_WORDS_MARIADB_LACKS,
    "mariadb 10.11": _MYSQL_ONLY + _SOURCE_WORDS_MARIADB_LACKS,
}


def unknown_statement(server: str, sql: str) -> str | None:
    """The error `server` gives for words of `sql` it does not have, or None."""
    import re  # here only: see the module's docstring

    for pattern, error in UNKNOWN_TO[server]:
        match = re.search(pattern, sql, re.IGNORECASE)
        if match:
            return error.format(match.group(0))
    return None


# ---------------------------------------------------------------------------------------------
# MySQL option files, as the clients read them.

_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "r": "\r", "s": " ", "\\": "\\", '"': '"', "'": "'"}


def option_value(raw: str) -> str:
    """A value as the clients read it: quoted or not, with backslash escapes."""
    raw = raw.strip()
    quote = raw[:1] if raw[:1] in ("'", '"') else ""
    body, out, i = raw[len(quote):], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
            continue
        if quote and char == quote:
            return "".join(out)
        if not quote and char == "#":
            break
        out.append(char)
        i += 1
    if quote:
        raise ValueError(f"unterminated quoted value: {raw}")
    return "".join(out).rstrip()


def read(path: str) -> str:
    with open(path) as file:
        return file.read()


def read_calls(path: str) -> list[dict[str, Any]]:
    """The records of calls.log, oldest first."""
    calls = []
    if os.path.exists(path):
        with open(path, "rb") as file:
            while True:
                try:
                    calls.append(marshal.load(file))
                except EOFError:
                    return calls
    return calls


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)


def client_options(path: str) -> dict[str, str]:
    """The [client] group of an option file."""
    group, options = None, {}
    for line in read(path).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            group = line.strip("[]").strip()
        elif group == "client":
            key, _, value = line.partition("=")
            options[key.strip()] = option_value(value)
    return options


# ---------------------------------------------------------------------------------------------
# One run of a stand-in.

class Invocation:
    def __init__(self, tool: str, control: str):
        self.tool = tool
        self.control = control
        with open(os.path.join(control, SCENARIO), "rb") as file:
            self.scenario: dict[str, Any] = marshal.load(file)
        self.args = sys.argv[1:]
        self.record: dict[str, Any] = {"tool": tool, "argv": self.args}

    def fail(self, message: str, status: int = 1) -> NoReturn:
        print(message, file=sys.stderr)
        raise SystemExit(status)

    def earlier(self, **match: Any) -> int:
        """How many earlier calls recorded these fields (e.g. action="connect")."""
        calls = read_calls(os.path.join(self.control, CALLS_LOG))
        return sum(all(call.get(k) == v for k, v in match.items()) for call in calls)

    def outcome(self, key: str, **match: Any) -> str:
        """The scenario's outcome for this call: the n-th entry for the n-th such call, the last
        entry for every call after it."""
        outcomes = self.scenario[key]
        return outcomes[min(self.earlier(**match), len(outcomes) - 1)]

    def login(self) -> list[str]:
        """Checks the credentials of --defaults-extra-file, which must be the first option (the
        clients accept it nowhere else); returns the other arguments."""
        first = self.args[0] if self.args else ""
        if not first.startswith("--defaults-extra-file="):
            self.fail(f"{self.tool}: --defaults-extra-file must be the first option", 2)
        path = first.split("=", 1)[1]
        options = client_options(path)
        self.record["login"] = {"user": options.get("user"), "password": options.get("password"),
                                "mode": oct(os.stat(path).st_mode & 0o777)}
        return self.args[1:]

    def authenticate(self) -> None:
        login = self.record["login"]
        if self.scenario["accounts"].get(login["user"]) != login["password"]:
            self.fail(f"ERROR 1045 (28000): Access denied for user '{login['user']}'@'localhost' "
                      "(using password: YES)")

    def connect(self) -> None:
        """Refuses the first `refused_connections` connections, as a server still starting."""
        earlier = self.earlier(action="connect-server")
        self.record["action"] = "connect-server"
        if earlier < self.scenario["refused_connections"]:
            self.fail("ERROR 2003 (HY000): Can't connect to MySQL server on '127.0.0.1:3306' (111)")
        self.authenticate()

    def save(self, status: int) -> None:
        self.record["status"] = status
        with open(os.path.join(self.control, CALLS_LOG), "ab") as log:
            log.write(marshal.dumps(self.record))


def _connection_options(inv: Invocation, args: list[str], flags: set[str]) -> tuple[dict[str, str], list[str]]:
    """Splits --name=value and bare flags from the rest; an option the scripts should not use
    is an error."""
    options, rest = {}, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-e":
            options["execute"] = args[i + 1]
            i += 2
            continue
        name, equals, value = arg.partition("=")
        if name in ("--protocol", "--host", "--port", "--socket", "--execute", "--connect-timeout") and equals:
            options[name[2:]] = value
        elif arg in flags:
            options[arg[2:]] = "on"
        elif arg.startswith("-"):
            inv.fail(f"{inv.tool}: unknown option '{arg}'", 2)
        else:
            rest.append(arg)
        i += 1
    return options, rest


def sql_client(inv: Invocation) -> None:
    """Runs the statements on stdin, or answers the query of -e, on the pod's server model."""
    import server_model  # here only: see the module's docstring

    options, rest = _connection_options(inv, inv.login(),
                                        {"--batch", "--skip-column-names"})
    if rest:
        inv.fail(f"{inv.tool}: unexpected arguments {rest}", 2)
    query = options.get("execute")
    if query is not None:
        inv.record["query"] = query
    if options.get("host", "127.0.0.1") != "127.0.0.1":
        # A pod models one server: the other pods of the cluster are not there.
        inv.fail(f"ERROR 2005 (HY000): Unknown server host '{options['host']}' (-2)")
    inv.connect()
    refused = inv.scenario.get("refused_statement")  # (words it starts with, the server's error)
    if refused and query is None:
        sql = sys.stdin.read()
        if refused[0] in sql:
            inv.record["stdin"] = sql
            inv.fail(refused[1])
        sys.stdin = io.StringIO(sql)
    state = server_model.load(inv.control, inv.scenario)
    try:
        if query is None:
            inv.record["stdin"] = sql = sys.stdin.read()
            reject_unknown(inv, server_model, sql)
            server_model.execute(state, sql)
        else:
            reject_unknown(inv, server_model, query)
            answer(options, query.strip().rstrip(";"), state, server_model)
    except server_model.SqlError as error:
        inv.fail(str(error))
    finally:
        server_model.save(inv.control, state)


def reject_unknown(inv: Invocation, server_model: Any, sql: str) -> None:
    """A statement with words the server does not have is refused as that server refuses it: its
    words are checked, not its literals."""
    text = " ; ".join(server_model.skeleton(tokens) for tokens in server_model.statements(sql))
    unknown = unknown_statement(inv.scenario["server"], text)
    if unknown:
        inv.fail(unknown)


def answer(options: dict[str, str], query: str, state: dict[str, Any], server_model: Any) -> None:
    """Prints the answer as the client does in batch mode: tab-separated, with a header line
    unless --skip-column-names."""
    rows = [(query.removeprefix("SELECT "), value) for value in server_model.query(state, query)]
    if "skip-column-names" not in options:
        print("\t".join(name for name, _ in rows))
    print("\t".join(value for _, value in rows))


def admin_client(inv: Invocation) -> None:
    _, rest = _connection_options(inv, inv.login(), set())
    if rest != ["ping"]:
        inv.fail(f"{inv.tool}: the stand-in only answers ping, not {rest}", 2)
    inv.connect()
    print("mysqld is alive")


def _option(inv: Invocation, name: str) -> str:
    for arg in inv.args:
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    inv.fail(f"{inv.tool}: {name} is required", 2)


def backup_tool(inv: Invocation) -> None:
    if "--prepare" in inv.args:
        prepare(inv)
    elif "--backup" in inv.args:
        backup(inv)
    else:
        inv.fail(f"{inv.tool}: neither --backup nor --prepare", 2)


def prepare(inv: Invocation) -> None:
    inv.record["action"] = "prepare"
    target = _option(inv, "--target-dir")
    checkpoints = sorted(os.path.join(target, name) for name in os.listdir(target)
                         if name.endswith("_checkpoints")) if os.path.isdir(target) else []
    if not checkpoints:
        inv.fail(f"{inv.tool}: cannot open {target}/xtrabackup_checkpoints")
    outcome = inv.outcome("prepare", action="prepare")
    if outcome == "fail":
        inv.fail(f"[ERROR] {inv.tool}: the redo log is corrupt")
    if outcome == "ok":
        prepared = "log-applied" if inv.tool.startswith("maria") else "full-prepared"
        lines = [f"backup_type = {prepared}" if line.startswith("backup_type = ") else line
                 for line in read(checkpoints[0]).splitlines()]
        write(checkpoints[0], "".join(line + "\n" for line in lines).encode())
    else:
        assert outcome == "unmarked", outcome


def backup(inv: Invocation) -> None:
    """A hot backup of the pod's server model, streamed to stdout, with the files and the locks
    of the tool's version (server_model has the rules)."""
    import server_model  # here only: see the module's docstring

    inv.record["action"] = "backup"
    inv.login()
    inv.connect()
    if _option(inv, "--stream") != "xbstream":
        inv.fail(f"{inv.tool}: the stream format must be xbstream", 2)
    if not os.path.isdir(_option(inv, "--target-dir")):
        inv.fail(f"{inv.tool}: --target-dir does not exist", 2)
    state = server_model.load(inv.control, inv.scenario)
    if server_model.slave_info_refused(state, inv.args):
        inv.fail(server_model.SLAVE_INFO_ERROR)
    inv.record["locks"] = locks = server_model.backup_locks(state, inv.args)
    if locks and state["channel"]["sql"] == "Yes":
        # The read lock is held for the whole copy: the replica applies nothing meanwhile.
        state["applier_stalls"].append(locks[-1])
        server_model.save(inv.control, state)
    files = server_model.backup_files(state, inv.args)
    lsn_dir = next((arg.split("=", 1)[1] for arg in inv.args if arg.startswith("--extra-lsndir=")), None)
    if lsn_dir is not None:
        # The real tools also write their checkpoints and info file there.
        for name, content in files:
            if name.endswith(("_checkpoints", "xtrabackup_info", "mariadb_backup_info")):
                write(os.path.join(lsn_dir, name), content.encode())
    stream = encode_stream(files)
    if inv.scenario["backup_fails"]:
        sys.stdout.buffer.write(stream[:len(stream) // 2])
        inv.fail(f"[ERROR] {inv.tool}: failed to copy datafile")
    sys.stdout.buffer.write(stream)


def stream_tool(inv: Invocation) -> None:
    if len(inv.args) >= 4 and inv.args[:2] == ["-c", "-C"]:
        # Create: the named files of the directory, as one stream on stdout.
        directory, names = inv.args[2], inv.args[3:]
        sys.stdout.buffer.write(encode_stream(
            [(name, read(os.path.join(directory, name))) for name in names]))
        return
    if len(inv.args) != 3 or inv.args[0] != "-x" or inv.args[1] != "-C":
        inv.fail(f"{inv.tool}: expected -x -C <directory>, got {inv.args}", 2)
    target = inv.args[2]
    if not os.path.isdir(target):
        inv.fail(f"{inv.tool}: cannot change to directory {target}")
    inv.record["into_empty_directory"] = not os.listdir(target)
    try:
        for name, content in decode_stream(sys.stdin.buffer.read()):
            path = os.path.join(target, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write(path, content)
    except IncompleteStream:
        inv.fail(f"{inv.tool}: premature end of stream")


# socat's OPENSSL and OPENSSL-LISTEN addresses are TCP ones with TLS on top (socat's
# xio-openssl.c). Mutual TLS needs both ends to name their certificate, key and CA file, which
# socat reads before it connects or listens, and to leave verify on (its default).
_TLS_ADDRESSES = (("OPENSSL-LISTEN:", "TCP-LISTEN:"), ("OPENSSL:", "TCP:"))
_TLS_FILE_OPTIONS = ("cert", "key", "cafile")


def _as_tcp(inv: Invocation, address: str) -> str:
    """The TCP address an OPENSSL one runs over, once its TLS options are checked."""
    for tls, tcp in _TLS_ADDRESSES:
        if not address.startswith(tls):
            continue
        options = dict(option.partition("=")[::2] for option in address.split(",")[1:])
        missing = [name for name in _TLS_FILE_OPTIONS if not options.get(name)]
        if missing or options.get("verify", "1") != "1":
            inv.fail(f"socat: {address}: not mutual TLS (missing {missing}, "
                     f"verify={options.get('verify', '1')})", 2)
        for name in _TLS_FILE_OPTIONS:
            if not os.access(options[name], os.R_OK):
                inv.fail(f"socat: {options[name]}: No such file or directory")
        return tcp + address[len(tls):]
    return address


def socat_addresses(inv: Invocation) -> tuple[list[str], str | None]:
    """socat's two addresses (OPENSSL ones as the TCP ones they run over) and its -u/-U; a buffer
    size (-b) is allowed, other options not."""
    addresses, direction = [], None
    for arg in inv.args:
        if arg in ("-u", "-U"):
            direction = arg
        elif not (arg.startswith("-b") and arg[2:].isdigit() and int(arg[2:]) > 0):
            if arg.startswith("-"):
                inv.fail(f"socat: the stand-in knows no option {arg}", 2)
            addresses.append(arg)
    if len(addresses) != 2:
        inv.fail(f"socat: exactly two addresses are needed, not {addresses}", 2)
    inv.record["addresses"] = addresses
    return [_as_tcp(inv, address) for address in addresses], direction


def socat_flows(addresses: list[str], direction: str | None, source: str, target: str) -> bool:
    """Whether data moves from the address starting with `source` to the one starting with
    `target`: -u from the first address to the second, -U from the second to the first."""
    if not (addresses[0].startswith(source) and addresses[1].startswith(target)
            or addresses[1].startswith(source) and addresses[0].startswith(target)):
        return False
    forward = addresses[0].startswith(source)
    return direction is None or (direction == "-u") == forward


def transfer_tool(inv: Invocation) -> None:
    """socat: listening, it lets one peer connect when the scenario says so and records what the
    per-connection command sent it; connecting, it receives the donor's stream."""
    addresses, direction = socat_addresses(inv)
    listen = any(address.startswith("TCP-LISTEN:") for address in addresses)
    command = next((a[len("EXEC:"):] for a in addresses if a.startswith("EXEC:")), None)
    to_peer = socat_flows(addresses, direction, "EXEC:", "TCP-LISTEN:")
    from_donor = socat_flows(addresses, direction, "TCP:", "STDOUT")
    if listen:
        inv.record["action"] = "listen"
        if inv.scenario["serve_once"]:
            import shlex
            import subprocess
            # One peer connects: the per-connection command streams the backup to it.
            with open(os.path.join(inv.control, SERVED_STREAM), "wb") as peer:
                inv.record["served_status"] = subprocess.run(
                    shlex.split(command or "false"), stdin=subprocess.DEVNULL,
                    stdout=peer if to_peer else subprocess.DEVNULL, check=False).returncode
        return
    inv.record["action"] = "connect"
    outcome = inv.outcome("transfers", action="connect")
    files = inv.scenario["donor_files"]
    if outcome == "refused":
        inv.fail(f"{inv.tool}: connect: Connection refused")
    stream = encode_stream(files[:-2] if outcome == "cut" else files) if from_donor else b""
    try:
        if outcome == "broken":
            sys.stdout.buffer.write(stream[:len(stream) // 2])
            sys.stdout.flush()
            inv.fail(f"{inv.tool}: read: Connection reset by peer")
        sys.stdout.buffer.write(stream)
        sys.stdout.flush()
    except BrokenPipeError:
        inv.fail(f"{inv.tool}: write: Broken pipe")


def sleep(inv: Invocation) -> None:
    if len(inv.args) != 1 or not inv.args[0].replace(".", "", 1).isdigit():
        inv.fail(f"sleep: invalid time interval {inv.args}")
    if inv.args[0] == inv.scenario.get("stopped_at_sleep"):
        # The kubelet's SIGTERM reaches the container's script; a sleep it waits for ends too.
        os.kill(os.getppid(), 15)
        inv.fail("", status=143)


PROGRAMS: dict[str, Callable[[Invocation], None]] = {
    "sql": sql_client, "admin": admin_client, "backup": backup_tool, "stream": stream_tool,
    "transfer": transfer_tool, "sleep": sleep,
}


def main(tool: str, control: str) -> NoReturn:
    inv = Invocation(tool, control)
    with open(os.path.join(control, ARGV_LOG), "ab") as log:
        log.write(b"".join(arg.encode(errors="surrogateescape") + b"\0" for arg in [tool, *inv.args]) + b"\n")
    try:
        PROGRAMS[ROLES[tool]](inv)
        sys.stdout.flush()
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except Exception as error:  # noqa: BLE001 - a bug in the stand-in: visible, never a success
        inv.record["crash"] = repr(error)
        print(f"stand-in {tool} crashed: {error!r}", file=sys.stderr)
        status = 99
    inv.save(status)
    sys.exit(status)
