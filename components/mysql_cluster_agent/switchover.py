"""The switchover Job: makes pod TARGET_ORDINAL the primary by asking the pods' agents (role_api.py),
each of which changes its own server as local root; the Job holds no SQL account.

What happens when is decided by switchover_decide.py (a switchover while the old primary answers,
however slowly it becomes read-only; a failover after FAILOVER_WAIT_SECONDS without one, the
target first taking what every answering pod holds; then the others follow the target). Run
again, it finds the target writable and only re-points the others. One log line per step; every
failure ends the Job with a line saying what was left as it was and what to do.
"""
from __future__ import annotations

import functools
import os
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .api import CertificateFiles
from .config import ConfigProblem, TlsFiles, topology_number
from .dialect import Flavor
from .gtid import GtidState, holds
from .role_auth import read_key
from .role_client import AgentClient, AgentError
from .state import ServerState
from .switchover_decide import (
    Done,
    Fail,
    FailOver,
    JobView,
    SwitchOver,
    Wait,
    next_step,
    peers_ahead,
    repoint,
)

Log = Callable[[str], None]
# How often the Job looks again while it waits for the primary or the target.
POLL_SECONDS = 2


class SwitchoverFailed(Exception):
    """The move did not happen (or not whole); the message says what was left and what to do."""


class Agents(Protocol):
    """The pods' agents as the Job asks them (role_client.AgentClient; a fake in the tests).
    Every method but states raises AgentError when the pod's agent fails or does not answer."""

    def states(self) -> tuple[dict[int, ServerState | None], dict[int, str]]:
        """Every pod's state (None where there is none) and why a pod has none."""
        ...
    def read_only(self, ordinal: int, lock_wait_seconds: int) -> None: ...
    def position(self, ordinal: int) -> str: ...
    def gtid_state(self, ordinal: int) -> GtidState: ...
    def wait(self, ordinal: int, position: str, seconds: int) -> bool: ...
    def follow(self, ordinal: int, source: int) -> None: ...
    def stop_replication(self, ordinal: int, io_thread_only: bool) -> str: ...
    def promote(self, ordinal: int) -> None: ...


@dataclass(frozen=True)
class Move:
    target: int
    failover_wait_seconds: int
    # How long the old primary may take to become read-only, and the target to apply a position.
    catch_up_seconds: int


class _Procedure:
    def __init__(self, agents: Agents, move: Move, log: Log):
        self.agents, self.move, self.log, self.target = agents, move, log, move.target

    def switch_over_from(self, old: int) -> None:
        target, seconds = self.target, self.move.catch_up_seconds
        self.log(f"switchover from pod {old} to pod {target}: pod {old} becomes read-only (it waits for the "
                 f"transactions in flight, up to {seconds}s)")
        try:
            self.agents.read_only(old, seconds)
        except AgentError as error:
            raise SwitchoverFailed(f"pod {old} did not become read-only within {seconds}s ({error}); it stays the "
                                   "primary, nothing was changed: run the Job again (pulumi up) once its long "
                                   "transactions are done") from None
        try:
            position = self.agents.position(old)
        except AgentError as error:
            raise SwitchoverFailed(f"could not read pod {old}'s position ({error}); it is read-only now: run the Job "
                                   "again (pulumi up)") from None
        self.log(f"waiting until pod {target} has applied pod {old}'s transactions up to {position}")
        if not self._applied(target, position):
            try:
                self.agents.promote(old)
                again = f"pod {old} is writable again"
            except AgentError as error:
                again = f"pod {old} stays read-only ({error}): run the Job again (pulumi up)"
            raise SwitchoverFailed(f"pod {target} did not apply pod {old}'s transactions within {seconds}s; {again}")

    def _applied(self, ordinal: int, position: str) -> bool:
        try:
            return self.agents.wait(ordinal, position, self.move.catch_up_seconds)
        except AgentError as error:
            self.log(f"waiting on pod {ordinal} failed: {error}")
            return False

    def fail_over(self, states: Mapping[int, ServerState | None]) -> None:
        target, seconds = self.target, self.move.catch_up_seconds
        try:
            received = self.agents.stop_replication(target, io_thread_only=True)
        except AgentError as error:
            raise SwitchoverFailed(f"could not stop pod {target}'s replication I/O thread ({error}); it stays a "
                                   "replica: run the Job again (pulumi up)") from None
        if received:
            self.log(f"waiting until pod {target} has applied what it received, up to {received}")
            if not self._applied(target, received):
                raise SwitchoverFailed(f"pod {target} did not apply what it received within {seconds}s; it stays a "
                                       "replica: run the Job again (pulumi up)")
        others = {o: s.gtid for o, s in states.items() if s is not None and o != target}
        for peer in peers_ahead(self._target_state(), others):
            # An earlier catch-up may have brought the target past this one too.
            if not holds(self._target_state(), others[peer]):
                self.catch_up_from(peer)

    def _target_state(self) -> GtidState:
        try:
            return self.agents.gtid_state(self.target)
        except AgentError as error:
            raise SwitchoverFailed(f"could not read pod {self.target}'s GTID state ({error}); it was not promoted: "
                                   "run the Job again (pulumi up)") from None

    def catch_up_from(self, peer: int) -> None:
        target = self.target
        instead = f"pod {target} was not promoted: run the Job again, or set primaryOrdinal={peer}"
        try:
            position = self.agents.position(peer)
        except AgentError as error:
            raise SwitchoverFailed(f"pod {peer} holds transactions pod {target} lacks and no longer answers "
                                   f"({error}); {instead}") from None
        self.log(f"pod {peer} holds transactions pod {target} lacks: pod {target} replicates from it up to {position}")
        try:
            self.agents.follow(target, peer)
        except AgentError as error:
            raise SwitchoverFailed(f"could not point pod {target} at pod {peer} ({error}); {instead}") from None
        if not self._applied(target, position):
            raise SwitchoverFailed(f"pod {target} did not apply pod {peer}'s transactions within "
                                   f"{self.move.catch_up_seconds}s; so that they are not lost, {instead}")
        try:
            self.agents.stop_replication(target, io_thread_only=False)
        except AgentError as error:
            raise SwitchoverFailed(f"could not stop pod {target}'s replication from pod {peer} ({error}); {instead}") from None

    def promote(self, after: str) -> None:
        try:
            self.agents.promote(self.target)
        except AgentError as error:
            raise SwitchoverFailed(f"could not promote pod {self.target} ({error}); {after}") from None
        self.log(f"pod {self.target} is the primary")

    def repoint_others(self, states: Mapping[int, ServerState | None]) -> None:
        target = self.target
        others = {o: s.gtid for o, s in states.items() if s is not None and o != target}
        plan = repoint(self._target_state(), others)
        for ordinal in plan.diverged:
            self.log(f"pod {ordinal} holds transactions pod {target} lacks; it rebuilds itself from a peer")
        for ordinal in plan.follow:
            self.log(f"pod {ordinal} now replicates from pod {target}")
            try:
                self.agents.follow(ordinal, target)
            except AgentError as error:
                self.log(f"could not point pod {ordinal} at pod {target} ({error}); its agent does when it next looks")


def move_primary(agents: Agents, move: Move, log: Log, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """Makes pod move.target the primary; SwitchoverFailed saying what to do otherwise."""
    procedure = _Procedure(agents, move, log)
    deadline = clock() + move.failover_wait_seconds
    while True:
        states, problems = agents.states()
        step = next_step(JobView(move.target, states, clock() >= deadline, move.failover_wait_seconds, problems))
        if isinstance(step, Fail):
            raise SwitchoverFailed(step.why)
        if isinstance(step, Wait):
            log(f"{step.why} (failover in {max(0, int(deadline - clock()))}s)")
            sleep(POLL_SECONDS)
            continue
        log(step.why)
        if isinstance(step, SwitchOver):
            procedure.switch_over_from(step.source)
            procedure.promote(f"pod {step.source} is read-only: run the Job again (pulumi up)")
        elif isinstance(step, FailOver):
            procedure.fail_over(states)
            procedure.promote("it stays a replica: run the Job again (pulumi up)")
        else:
            assert isinstance(step, Done)
        break
    procedure.repoint_others(states)
    log(f"done: pod {move.target} is the primary")


def _number(env: Mapping[str, str], name: str, what: str) -> int:
    value = env.get(name, "")
    if not value.isdigit():
        raise ConfigProblem(f"environment variable {name} is {value[:40]!r}; it must be {what}")
    return int(value)


def _text(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigProblem(f"environment variable {name} is not set; the switchover Job must set it")
    return value


def client_from_env(env: Mapping[str, str]) -> tuple[AgentClient, Move]:
    """The Job's agents and move from its environment; ConfigProblem naming what is wrong."""
    flavor = env.get("DB_FLAVOR", "")
    if flavor not in {f.value for f in Flavor}:
        raise ConfigProblem(f"environment variable DB_FLAVOR is {flavor!r}; use mysql or mariadb")
    topology = Path(_text(env, "TOPOLOGY_DIR"))
    replicas = topology_number(topology, "replicas")
    move = Move(target=_number(env, "TARGET_ORDINAL", "the ordinal of the pod to promote"),
                failover_wait_seconds=_number(env, "FAILOVER_WAIT_SECONDS", "a number of seconds"),
                catch_up_seconds=_number(env, "CATCH_UP_SECONDS", "a number of seconds"))
    if move.target >= replicas:
        raise ConfigProblem(f"pod {move.target} is not a pod of this cluster (replicas {replicas}); set "
                            "primaryOrdinal below replicas")
    statefulset, service = _text(env, "STATEFULSET_NAME"), _text(env, "HEADLESS_SERVICE")
    namespace, domain = _text(env, "CLUSTER_NAMESPACE"), _text(env, "CLUSTER_DOMAIN")

    def host_of(ordinal: int) -> str:
        return f"{statefulset}-{ordinal}.{service}.{namespace}.svc.{domain}"

    context: ssl.SSLContext | None = None
    key: Callable[[], bytes] | None = None
    if env.get("TLS_DIR"):
        tls = Path(env["TLS_DIR"])
        context = CertificateFiles(TlsFiles(tls / "ca.crt", tls / "tls.crt", tls / "tls.key"),
                                   ssl.Purpose.SERVER_AUTH).context()
    else:
        key_file = Path(_text(env, "ROLE_KEY_FILE"))
        read_key(key_file)  # a missing or short key stops the Job before it asks anything
        key = functools.partial(read_key, key_file)
    port = _number(env, "AGENT_PORT", "the agents' TCP port")
    return AgentClient(Flavor(flavor), replicas, host_of, port, context, key), move


def main(env: Mapping[str, str] = os.environ) -> int:
    def log(message: str) -> None:
        print(f"switchover: {message}", file=sys.stderr, flush=True)

    try:
        agents, move = client_from_env(env)
    except (ConfigProblem, OSError, ValueError, ssl.SSLError) as problem:
        log(str(problem))
        return 2
    try:
        move_primary(agents, move, log)
    except SwitchoverFailed as failed:
        log(str(failed))
        return 1
    return 0
