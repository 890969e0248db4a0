"""The role loop: once the local server answers, it gets the heartbeat table and event, then
every ROLE_WATCH_SECONDS the agent gathers the cluster's view, decides (decide.py) and acts
(role.py). The first look gives the server its role; later looks watch the roles, and give the
role again to a server that restarted meanwhile (it comes back read-only, without replication).
Every look at a server that has its role also keeps it on the pod's current certificate
(tls_reload.py).

A look that fails (the local server does not answer, a statement is refused) is logged and the
next one tries again: nothing here ends the agent, so that the peers keep reading its state."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .accounts import (
    ClusterAccounts,
    Passwords,
    SecretError,
    accounts_sql,
    read_passwords,
    read_secret,
)
from .config import AgentConfig, ConfigProblem, TlsFiles
from .decide import Action, FailOver, Fence, Follow, Promote, Rebuild, Stay, decide
from .dialect import Dialect
from .donor import Donors, choose_donors, write_choice
from .failover import majority
from .gather import AskPeers, Gathered, gather
from .heartbeat import set_up_heartbeat
from .local_server import LocalServer, Sql, SqlError
from .mysql_clone import Cloner, clone_source
from .peers import peer_ordinals
from .primary_port import PrimaryRoute, writable_host
from .role import (
    OWN_GTID_STATE,
    RebuildPaths,
    Replication,
    RoleError,
    clone_coordinates,
    clone_position_statements,
    follow_statements,
    promote_statements,
    received_gtid,
    run,
    start_rebuild,
    wait_applied,
)
from .state import ClusterView
from .tls_reload import CertificateKeeper

Log = Callable[[str], None]
# A message that stays true is said again this often, so that it is in the recent log.
REPEAT_SECONDS = 60
# How long a server asked to shut down for a rebuild may take to stop.
SHUTDOWN_SECONDS = 300
# How long a failover's candidate waits for its relay log to be applied in one look: within the
# local connection's statement timeout (local_server.STATEMENT_TIMEOUT_SECONDS); the next look
# waits again.
FAILOVER_CATCH_UP_SECONDS = 20
# The mark's name in CLIENT_OPTIONS_DIR (RoleSettings.role_taken_mark; scripts/lib.sh).
ROLE_TAKEN_MARK = "role-taken"


@dataclass(frozen=True)
class RoleSettings:
    dialect: Dialect
    replication: Replication
    rebuild: RebuildPaths
    watch_seconds: float
    accounts: ClusterAccounts
    passwords: Callable[[], Passwords]
    # Made once the server has its role (and its certificate reloaded), on the pod's memory
    # volume: the pod may then be ready (readiness.py), and on MariaDB the backup listener serves
    # (scripts/sidecar.sh), so that the next pod clones only from a donor that has its role.
    role_taken_mark: Path
    # Where the rebuild leaves its donor choice for the clone (donor.py), and the lag a replica
    # may have to serve as a donor.
    donor_dir: Path
    max_lag_seconds: int
    # The cluster's Secret files: the backup account's password for a clone (mysql_clone.py).
    secrets_dir: Path
    # The port where the agent forwards connections to the writable server (primary_port.py).
    primary_port: int
    # The pod's certificate files, which the server is kept on (tls_reload.py); None: no TLS.
    tls: TlsFiles | None = None
    # The copy's pace where the agent clones into the running server (MySQL, mysql_clone.py),
    # in whole MiB per second (backupThrottleBytesPerSecond; 0: no limit).
    throttle_mib: int = 0


def _env(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigProblem(f"environment variable {name} is not set; the StatefulSet must set it")
    return value


def _number(env: Mapping[str, str], name: str) -> int:
    value = _env(env, name)
    if not value.isdigit() or int(value) == 0:
        raise ConfigProblem(f"environment variable {name} is {value[:40]!r}; it must be a whole number above 0")
    return int(value)


def role_settings(config: AgentConfig, env: Mapping[str, str] = os.environ) -> RoleSettings:
    """What the role loop needs beyond the agent's configuration, from the container's
    environment; ConfigProblem naming the first variable that is missing or wrong."""
    dialect = config.dialect
    secrets = Path(_env(env, "SECRETS_DIR"))
    metrics_secrets = Path(env["METRICS_SECRETS_DIR"]) if env.get("METRICS_SECRETS_DIR") else None

    def passwords() -> Passwords:
        return read_passwords(secrets, dialect.max_replication_password, metrics_secrets)

    return RoleSettings(
        dialect=dialect,
        replication=Replication(
            user=_env(env, "REPLICATION_USER"),
            password=lambda: read_secret(secrets, "replication-password", dialect.max_replication_password),
            port=_number(env, "MYSQL_PORT"), heartbeat_seconds=_number(env, "REPLICATION_HEARTBEAT_SECONDS"),
            tls_ca=str(config.tls.ca) if config.tls is not None else None),
        rebuild=RebuildPaths(Path(_env(env, "DATA_VOLUME")), _env(env, "DATA_SUBDIR")),
        watch_seconds=_number(env, "ROLE_WATCH_SECONDS"),
        accounts=ClusterAccounts(
            flavor=dialect.flavor, replication_user=_env(env, "REPLICATION_USER"), backup_user=_env(env, "BACKUP_USER"),
            app_user=_env(env, "APP_USER"),
            app_database=_env(env, "APP_DATABASE"), tls=config.tls is not None,
            tls_subject=env.get("TLS_SUBJECT") or None, metrics_user=env.get("METRICS_USER") or None),
        passwords=passwords,
        role_taken_mark=Path(_env(env, "CLIENT_OPTIONS_DIR")) / ROLE_TAKEN_MARK,
        tls=config.tls,
        donor_dir=Path(_env(env, "DONOR_DIR")),
        max_lag_seconds=_number(env, "MAX_REPLICATION_LAG_SECONDS"),
        secrets_dir=secrets,
        throttle_mib=_whole(env, "BACKUP_THROTTLE_MIB"),
        primary_port=_number(env, "PRIMARY_PORT"),
    )


def _whole(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, "0") or "0"
    if not value.isdigit():
        raise ConfigProblem(f"environment variable {name} is {value[:40]!r}; it must be a whole number")
    return int(value)


class RoleKeeper:
    """Gives this pod's server its role and keeps it, one look at a time (step)."""

    def __init__(self, sql: Sql, settings: RoleSettings, look: Callable[[int | None], Gathered], log: Log,
                 clock: Callable[[], float] = time.time, route: PrimaryRoute | None = None) -> None:
        self._sql = sql
        self._settings = settings
        self._look = look
        self._log = log
        self._clock = clock
        self._route = route
        # When the server that was given its role started (None: no role given yet).
        self.role_given_at: int | None = None
        self._said: dict[str, float] = {}
        self._problems: dict[int, str] = {}
        # What the primary's fence needs from earlier looks (decide._cut_off): whether a look
        # ever reached a majority of the pods, and whether this agent fenced its server.
        self._majority_heard = False
        self._fenced = False
        self._certificate = (CertificateKeeper(sql, settings.dialect, settings.tls, log, clock)
                             if settings.tls is not None else None)

    def _view(self, gathered: Gathered) -> ClusterView:
        """The gathered view with what this agent remembers; remembers a majority it reaches."""
        view = replace(gathered.view, majority_heard=self._majority_heard, fenced=self._fenced)
        if view.pods_reached >= majority(len(view.peers) + 1):
            self._majority_heard = True
        return view

    def step(self) -> Action:
        gathered = self._look(self.role_given_at)
        view = self._view(gathered)
        self._tell_peer_problems(gathered.problems)
        if view.restarted:
            assert self.role_given_at is not None
            self._log(f"the server restarted {int(self._clock()) - view.me.started_at}s ago; giving it its role again")
            set_up_heartbeat(self._sql, self._settings.dialect)
        action = decide(view)
        self._act(view, action)
        if self._route is not None:
            self._route.set(writable_host(view))
        if self.role_given_at is not None and not isinstance(action, Rebuild):
            if self._certificate is not None:
                self._certificate.look(view.me.started_at)
            self._role_taken()
        return action

    def _act(self, view: ClusterView, action: Action) -> None:
        if isinstance(action, Stay):
            if action.why:
                self._say(action.why)
            return
        self._log(action.why)
        if isinstance(action, Fence):
            run(self._sql, [(text, ()) for text in self._settings.dialect.demote()], self._log)
            self._fenced = True
            return
        if isinstance(action, Promote):
            self._promote()
        elif isinstance(action, FailOver):
            if not self._fail_over():
                return
        elif isinstance(action, Follow):
            self._follow(view, action.source)
        elif isinstance(action, Rebuild):
            self._choose_donors(view)
            # Not ready from here on: the pod is ready again once the rebuilt server has its role.
            self._settings.role_taken_mark.unlink(missing_ok=True)
            start_rebuild(self._sql, self._settings.rebuild, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock())),
                          self._settings.dialect.clones_with_plugin, self._log)
            self._fenced = False
            return
        # A role given ends the fence: the server follows the primary or is the primary.
        self._fenced = False
        self.role_given_at = view.me.started_at

    def _promote(self) -> None:
        self._log("becoming the primary")
        run(self._sql, promote_statements(self._settings.dialect), self._log)
        self._log("making sure the cluster's accounts exist with current passwords")
        statements = accounts_sql(self._settings.accounts, self._settings.passwords())
        for text, args in statements:
            self._sql.execute(text, args)  # never logged: they carry passwords

    def _fail_over(self) -> bool:
        """Promotes this replica in place of the lost primary (decide.FailOver): it stops
        receiving, applies what it received, looks at the cluster again and is promoted only if
        the failover still stands (a peer may have become writable or more advanced meanwhile).
        Otherwise it receives again, and the next look decides anew. Whether it was promoted."""
        dialect = self._settings.dialect
        run(self._sql, [(f"{dialect.stop_replica} IO_THREAD", ())], self._log)
        received = received_gtid(self._sql, dialect)
        if received:
            self._log(f"failover: applying what this replica received, up to {received} (at most "
                      f"{FAILOVER_CATCH_UP_SECONDS}s in this look)")
            applied, result = wait_applied(self._sql, dialect, received, FAILOVER_CATCH_UP_SECONDS)
            if not applied:
                self._log(f"failover: this replica has not applied what it received within "
                          f"{FAILOVER_CATCH_UP_SECONDS}s (the wait answered {result!r}); not promoted yet, the next "
                          "look waits again")
                run(self._sql, [(dialect.start_replica, ())], self._log)
                return False
        again = decide(self._view(self._look(self.role_given_at)))
        if not isinstance(again, FailOver):
            self._log(f"failover called off: looking again, {again.situation.value}"
                      + (f" ({again.why})" if again.why else "") + "; this replica receives again")
            run(self._sql, [(dialect.start_replica, ())], self._log)
            return False
        self._promote()
        self._log("failover done: this pod is the primary; the other pods follow it when they next look")
        return True

    def _follow(self, view: ClusterView, source: int) -> None:
        """Replication runs from the primary by GTID. A fresh clone's position is applied once,
        decided by the clone's own file and not by the server's replication status: a backup of a
        replica brings the donor's replication metadata along, so a fresh clone already looks
        configured. Every later follow re-points the channel with the current password, so a
        rotated one takes effect."""
        dialect = self._settings.dialect
        pending = self._settings.rebuild.pending_coordinates
        host = view.host(source)
        position = None
        start = ""
        if pending.exists():
            text = pending.read_text(encoding="utf-8").strip()
            if not text:
                raise RoleError(f"{pending} is empty; delete this pod's PersistentVolumeClaim and pod to clone it again")
            start = clone_coordinates(dialect.flavor, self._settings.rebuild, text)
            position = clone_position_statements(dialect, self._sql, start)
        run(self._sql, follow_statements(dialect, host, self._settings.replication, position), self._log)
        if position is None:
            self._log(f"replicating from {host}")
            return
        pending.rename(pending.with_name(pending.name + ".applied"))
        self._log(f"replicating from {host}, starting "
                  + ("from the copy's own gtid_executed" if start == OWN_GTID_STATE else f"at the clone's GTID {start}"))

    def _choose_donors(self, view: ClusterView) -> None:
        """The rebuild's donors, from the view the rebuild was decided on, for the clone that the
        server container runs (scripts/server.sh); where the agent clones, it chooses again at
        each attempt (mysql_clone.py), but only a rebuild that has a donor now begins."""
        choice = choose_donors(view.ordinal, peer_ordinals(view.ordinal, len(view.hosts)), view.peers,
                               self._settings.max_lag_seconds)
        if not isinstance(choice, Donors):
            raise RoleError(f"no donor for the rebuild: {choice.why}")
        try:
            write_choice(self._settings.donor_dir, choice, view.host)
        except OSError as error:
            raise RoleError(f"cannot write the rebuild's donors to {self._settings.donor_dir}: {error.strerror}") from None
        self._log(f"the rebuild copies from {choice.why}")

    def _role_taken(self) -> None:
        if not self._settings.role_taken_mark.exists():
            self._settings.role_taken_mark.touch()

    def _say(self, message: str) -> None:
        """Logs a message that stays true once, and again every REPEAT_SECONDS."""
        now = self._clock()
        if now - self._said.get(message, -REPEAT_SECONDS) >= REPEAT_SECONDS:
            self._said = {message: now}
            self._log(message)

    def _tell_peer_problems(self, problems: dict[int, str]) -> None:
        for ordinal, problem in sorted(problems.items()):
            if self._problems.get(ordinal) != problem:
                self._log(f"pod {ordinal} does not count as answering: {problem}")
        self._problems = dict(problems)

    def wait_for_rebuild(self, stop: threading.Event) -> None:
        """After a Rebuild: until the server has stopped (the server container then clones it
        anew and starts it; the next look finds it restarted)."""
        deadline = self._clock() + SHUTDOWN_SECONDS
        while not stop.is_set() and _answers(self._sql):
            if self._clock() > deadline:
                self._log(f"the server did not stop within {SHUTDOWN_SECONDS}s; the rebuild goes on when it restarts")
                return
            stop.wait(1)
        self._log("the server stopped; its container sets its data aside and starts it (scripts/server.sh)")


def _answers(sql: Sql) -> bool:
    try:
        sql.query("SELECT 1")
    except SqlError:
        return False
    return True


def wait_for_server(sql: Sql, stop: threading.Event, log: Log) -> None:
    """Until the local server answers, and is the server itself: the image's entrypoint runs a
    temporary server on the same socket while it initializes a new data directory, without
    networking (docker-library/mysql and mariadb docker-entrypoint.sh, docker_temp_server_start),
    which must not be given a role. A refused password will not get better by waiting (the Secret
    and the server disagree): it is said once, and waited on."""
    said = ""
    while not stop.is_set():
        try:
            rows = sql.query("SELECT @@GLOBAL.skip_networking")
            if rows and str(rows[0][0]) == "0":
                return
            message = "the server is the image entrypoint's temporary one (initializing its data); waiting"
        except SqlError as error:
            message = (f"the local server refused root's password: {error}; the Secret and the server disagree"
                       if error.code == 1045 else f"waiting for the local server to accept connections ({error})")
        if message != said:
            log(message)
            said = message
        stop.wait(2)


def clone_while_marked(cloner: Cloner, sql: Sql, stop: threading.Event, log: Log, watch_seconds: float) -> None:
    """While the clone mark exists: one clone step per look at a server that answers (the server
    restarts on the copy in between). Nothing else is done with the server meanwhile."""
    while not stop.is_set() and cloner.marked():
        wait_for_server(sql, stop, log)
        if stop.is_set():
            return
        try:
            cloner.step(stop)
        except (SqlError, RoleError, SecretError, ValueError, OSError) as error:
            log(f"the clone step failed: {error}; looking again in {watch_seconds:g}s")
        stop.wait(watch_seconds)


def make_cloner(config: AgentConfig, settings: RoleSettings, sql: Sql, ask: AskPeers, log: Log) -> Cloner:
    """The clone into the running server, with a connection of its own for the CLONE statement."""
    return Cloner(sql, lambda: LocalServer(config.socket, config.root_password, statement_timeout=None),
                  settings.rebuild,
                  clone_source(settings.accounts.backup_user, settings.secrets_dir, settings.replication.port, settings.tls,
                               settings.throttle_mib),
                  config.ordinal, config.replicas, config.pod_host, ask, settings.max_lag_seconds, log)


def run_role_loop(config: AgentConfig, settings: RoleSettings, sql: Sql, ask: AskPeers, stop: threading.Event,
                  log: Log, lock: threading.Lock, route: PrimaryRoute) -> None:
    """The agent's role loop, until `stop` is set. It holds `lock` while it looks and acts, the
    lock the role endpoints hold (role_api.py): a switchover Job's request and the pod's own look
    never interleave on this server. Every look tells `route` where the writable server is. A pod
    with the clone mark clones first (mysql_clone.py)."""
    settings.role_taken_mark.unlink(missing_ok=True)
    cloner = make_cloner(config, settings, sql, ask, log)
    clone_while_marked(cloner, sql, stop, log, settings.watch_seconds)
    while not stop.is_set():
        wait_for_server(sql, stop, log)
        try:
            log("making sure this server has the heartbeat table and event")
            set_up_heartbeat(sql, settings.dialect)
            break
        except SqlError as error:
            log(f"could not set up the heartbeat: {error}; trying again")
            stop.wait(2)

    def look(role_given_at: int | None) -> Gathered:
        return gather(config, sql, settings.dialect, ask, role_given_at, time.time_ns() // 1000)

    keeper = RoleKeeper(sql, settings, look, log, route=route)
    while not stop.is_set():
        try:
            with lock:
                action = keeper.step()
            if isinstance(action, Rebuild):
                keeper.wait_for_rebuild(stop)
                wait_for_server(sql, stop, log)
                clone_while_marked(cloner, sql, stop, log, settings.watch_seconds)
                continue
        except (SqlError, RoleError, SecretError, ConfigProblem, ValueError, OSError) as error:
            log(f"the role look failed: {error}; looking again in {settings.watch_seconds:g}s")
        except Exception as error:  # noqa: BLE001 - the loop must outlive a defect, and say it
            log(f"the role look failed unexpectedly ({type(error).__name__}: {error}); this is a defect of "
                f"the agent: please report it. Looking again in {settings.watch_seconds:g}s")
        stop.wait(settings.watch_seconds)
