"""Which pods a new or rebuilt pod copies its data from, and how the choice reaches the clone.

The choice (choose_donors) is a pure function over the peers' states as their agents serve them:
first the replicas that are caught up (their heartbeat within the lag limit of the newest any
peer has), the nearest lower ordinal first, so that a clone neither loads the primary nor copies
a pod that failed or lags; then the primary. When no peer answers: pod 0 starts a new database;
any other pod copies the pod before it, which the StatefulSet started first (a cluster whose
agents do not answer yet). A lagging replica is never a donor.

The choice reaches scripts/clone.sh as one file per value in a memory emptyDir (DONOR_DIR):
``new-database`` (present: start a new database), else ``donors`` (how many) and ``donor-1`` ...
``donor-<n>``, each a pod's host name, in order of preference. The `donor` init container writes
it before the clone (main); for the rebuild of a diverged server the agent writes it from the
view it decided on (role_loop.py) before it stops the server. The clone's attempt n copies
donor-((n-1) mod count + 1): a donor that failed is tried again only after every other one.

Where the agent clones into the running server (MySQL's CLONE plugin, mysql_clone.py), the
step also leaves the clone mark on the data volume when the data directory holds no database and
there is a donor: the pod's agent then clones, choosing anew at each attempt, whatever restarts
the pod meanwhile."""
from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigProblem, PeerConfig
from .dialect import Flavor
from .gather import peer_states
from .peers import PeerAnswer, ask_peers, peer_ordinals
from .role import RebuildPaths
from .state import ServerState

NEW_DATABASE_FILE = "new-database"
COUNT_FILE = "donors"
_HOST = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*")


@dataclass(frozen=True)
class NewDatabase:
    """Nobody to copy: pod 0 of a new cluster."""
    why: str


@dataclass(frozen=True)
class Donors:
    """The pods to copy, by ordinal, the preferred first."""
    ordinals: tuple[int, ...]
    why: str


@dataclass(frozen=True)
class NoDonor:
    """Peers answer, but none may serve a copy now."""
    why: str


DonorChoice = NewDatabase | Donors | NoDonor


def choose_donors(me: int, order: Sequence[int], peers: Mapping[int, ServerState | None],
                  max_lag_seconds: int) -> DonorChoice:
    """`order`: every other pod, the nearest lower first (peers.peer_ordinals); `peers`: the
    state of each that answered (None or absent: no answer)."""
    answered = [state for ordinal in order if (state := peers.get(ordinal)) is not None]
    if not answered:
        if me == 0:
            return NewDatabase("no other pod answers: pod 0 starts a new database")
        return Donors((me - 1,), f"no other pod answers: copying pod {me - 1}, which the StatefulSet started first")
    newest = max(state.heartbeat_micros or 0 for state in answered)
    caught_up = [state.ordinal for state in answered if state.read_only and state.heartbeat_micros
                 and state.heartbeat_micros >= newest - max_lag_seconds * 1_000_000]
    primaries = [state.ordinal for state in answered if not state.read_only]
    donors = (*caught_up, *primaries)
    if not donors:
        lagging = ", ".join(str(state.ordinal) for state in answered)
        return NoDonor(f"pods {lagging} answer, but none is writable or a replica within "
                       f"{max_lag_seconds}s of the newest heartbeat")
    described = ", ".join(f"{n} ({'primary' if n in primaries else 'caught-up replica'})" for n in donors)
    return Donors(donors, f"donors in order of preference: pods {described}")


def write_choice(directory: Path, choice: NewDatabase | Donors, host: Callable[[int], str]) -> None:
    """Replaces what `directory` holds by the choice, one file per value (read by
    scripts/clone.sh with $(<file)); each host is checked before it is written."""
    for old in directory.iterdir():
        if old.name == NEW_DATABASE_FILE or old.name == COUNT_FILE or old.name.startswith("donor-"):
            old.unlink()
    if isinstance(choice, NewDatabase):
        _write(directory / NEW_DATABASE_FILE, "1")
        return
    for index, ordinal in enumerate(choice.ordinals, start=1):
        name = host(ordinal)
        if not _HOST.fullmatch(name) or len(name) > 253:
            raise ValueError(f"pod {ordinal}'s host name {name[:80]!r} is not a DNS name")
        _write(directory / f"donor-{index}", name)
    _write(directory / COUNT_FILE, str(len(choice.ordinals)))


def _write(path: Path, value: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(value + "\n", encoding="utf-8")
    temporary.rename(path)


def _log(message: str) -> None:
    print(f"donor: {message}", file=sys.stderr, flush=True)


def _number(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, "")
    if not value.isdigit() or int(value) == 0:
        raise ConfigProblem(f"environment variable {name} is {value[:40]!r}; it must be a whole number above 0")
    return int(value)


def _directory(env: Mapping[str, str], name: str) -> Path:
    value = env.get(name, "")
    if not value.startswith("/"):
        raise ConfigProblem(f"environment variable {name} is {value[:80]!r}; set it to an absolute path")
    return Path(value)


def main(config: PeerConfig, env: Mapping[str, str] = os.environ,
         ask: Callable[[Sequence[int]], list[PeerAnswer]] | None = None,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """The `donor` init container: asks the peers' agents, chooses and writes the choice to
    DONOR_DIR. A pod whose data directory holds a database needs no donor (unless it is being
    rebuilt). When peers answer but none may serve a copy, it asks again, CLONE_ATTEMPTS times
    in all, then fails (the pod restarts and asks anew)."""
    donor_dir = _directory(env, "DONOR_DIR")
    data_volume = _directory(env, "DATA_VOLUME")
    subdir = env.get("DATA_SUBDIR", "")
    if not subdir or "/" in subdir:
        raise ConfigProblem(f"environment variable DATA_SUBDIR is {subdir[:80]!r}; set it to the data directory's name")
    max_lag = _number(env, "MAX_REPLICATION_LAG_SECONDS")
    attempts = _number(env, "CLONE_ATTEMPTS")
    paths = RebuildPaths(data_volume, subdir)
    has_database = (paths.datadir / "mysql").is_dir()
    if has_database and not paths.mark.exists() and not paths.clone_mark.exists():
        _log(f"{paths.datadir} holds a database and is not being rebuilt or cloned; no donor needed")
        return 0
    asker = ask or (lambda ordinals: ask_peers(config, ordinals))
    order = peer_ordinals(config.ordinal, config.replicas())
    for attempt in range(1, attempts + 1):
        states, problems = peer_states(Flavor(config.flavor), asker(order))
        for ordinal, problem in sorted(problems.items()):
            _log(f"pod {ordinal} does not count as answering: {problem}")
        choice = choose_donors(config.ordinal, order, states, max_lag)
        _log(choice.why)
        if not isinstance(choice, NoDonor):
            write_choice(donor_dir, choice, config.pod_host)
            if isinstance(choice, Donors) and not has_database and config.dialect.clones_with_plugin:
                try:
                    paths.clone_mark.touch()
                except OSError as error:
                    _log(f"cannot write the clone mark {paths.clone_mark}: {error.strerror}; the data volume must "
                         "be writable to this container")
                    return 1
                _log(f"the pod's agent clones a donor into its server ({paths.clone_mark})")
            return 0
        if attempt < attempts:
            delay = min(2 ** attempt, 60)
            _log(f"asking again in {delay}s")
            sleep(delay)
    _log(f"no pod could serve a copy after {attempts} looks; the pod restarts and asks again")
    return 1
