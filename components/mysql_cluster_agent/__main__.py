"""The agent's command line: `python3 -m mysql_cluster_agent <command>`.

  serve   the container's command: serves this server's state to the peers (api.py), keeps its
          role (role_loop.py), serves the switchover Job's role requests (role_api.py) and the
          pod's readiness verdict (readiness_probe.py) and, with a backup target, archives the binary
          logs while its server is the primary (binlog_archiver.py)
  state   prints this server's state as JSON, as the port serves it
  peers   prints the other pods' states as their agents serve them, one JSON line each
  init-config  the init-mysql init container: the server's identity and role options (init_config.py)
  donor   the donor init container: chooses the pods a clone copies (donor.py)
  switchover  the switchover Job's command: moves the primary through the agents (switchover.py)
  backup-record  the backup Job's last step: checks the upload, writes the manifest, applies retention
  restore-plan   pod 0's restore: chooses and checks the backup, hands the restore step what to stream
  restore-tar    pod 0's restore of a MySQL backup (tar): streams, checks and extracts it (restore_tar.py)
  replay-plan  the restore's checks and cut before restore-replay.sh (replay_plan.py)
  drill-plan, drill-verdict  the restore drill's chain check and verdict (restore_drill.py)
  rclone <arguments>  rclone with the backup target's keys, streaming its input and output (rclone_target.py)

A wrong environment or a missing file ends it with one line naming what is wrong, and exit 2.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

from . import (
    backup_record,
    donor,
    init_config,
    rclone_target,
    replay_plan,
    restore_drill,
    restore_plan,
    restore_tar,
    switchover,
)
from .api import AgentServer, serve_in_background
from .binlog_archiver import start_archiver
from .config import AgentConfig, ConfigProblem, PeerConfig, read_config, read_peer_config
from .dialect import Flavor
from .local_server import LocalServer, SqlError
from .metrics import metrics_config, serve_metrics
from .own_state import read_own_state
from .peers import ask_peers, peer_ordinals
from .primary_port import PrimaryRoute, serve_primary_port
from .readiness_probe import readiness_settings, serve_readiness
from .role_api import role_requests
from .role_loop import role_settings, run_role_loop

USAGE = ("usage: python3 -m mysql_cluster_agent {serve|state|peers|init-config|donor|switchover|backup-record|"
         "restore-plan|restore-tar|replay-plan|drill-plan|drill-verdict|rclone <arguments>}")
EXIT_CONFIG = 2
EXIT_FAILED = 1


def _log(message: str) -> None:
    print(f"agent: {message}", file=sys.stderr, flush=True)


def _local_server(config: AgentConfig) -> LocalServer:
    return LocalServer(config.socket, config.root_password)


def _state_source(config: AgentConfig, clone_mark: Path | None = None) -> Callable[[], Mapping[str, object]]:
    """While the pod clones (`clone_mark` exists) its server is a new database about to be
    replaced: no state, so that peers count it as silent, as they do a server that is down."""
    server = _local_server(config)

    def state() -> Mapping[str, object]:
        if clone_mark is not None and clone_mark.exists():
            raise ValueError(f"this pod clones a peer into its server ({clone_mark}); it has no state to serve yet")
        return read_own_state(server, config.dialect)
    return state


def serve(config: AgentConfig) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    roles = role_settings(config)
    # Held by the role loop while it acts and by the role endpoints while they do.
    lock = threading.Lock()
    requests = role_requests(config, roles.dialect, roles.replication, lock, _log, os.environ)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    metrics = metrics_config(os.environ)
    # With a backup target, the binary log archive (binlog_archiver.py), on a connection of its own.
    recovery_point = start_archiver(_local_server(config), roles.dialect, os.environ, stop, _log)
    metrics_server = serve_metrics(metrics, _local_server(config), recovery_point.get if recovery_point else None,
                                   clones=roles.dialect.flavor is Flavor.MYSQL) if metrics else None
    readiness = serve_readiness(config, readiness_settings(roles.dialect, roles.role_taken_mark), roles.dialect,
                                lambda ordinals, seconds: ask_peers(config, ordinals, answer_seconds=seconds), _log)
    server = AgentServer(("", config.agent_port), _state_source(config, roles.rebuild.clone_mark), config.tls,
                         config.own_host, role_requests=requests)
    serve_in_background(server)
    # Where the primary Service's connections go with automatic failover (primary_port.py).
    route = PrimaryRoute()
    primary = serve_primary_port(roles.primary_port, route, roles.replication.port, _log)
    # The role of this pod's server (role_loop.py), on a connection of its own.
    threading.Thread(target=run_role_loop, name="roles", daemon=True, args=(
        config, roles, _local_server(config), lambda ordinals: ask_peers(config, ordinals), stop, _log, lock,
        route)).start()
    _log(f"serving this server's state on port {config.agent_port} "
         f"({'HTTPS, clients must present a certificate naming ' + config.own_host if config.tls else 'HTTP, role requests signed with the role key'})")
    stop.wait()
    server.shutdown()
    primary.shutdown()
    readiness.shutdown()
    if metrics_server:
        metrics_server.shutdown()
    _log("stopped")
    return 0


def print_state(config: AgentConfig) -> int:
    try:
        print(json.dumps(dict(_state_source(config)())))
    except SqlError as error:
        _log(f"cannot read the local server's state: {error}")
        return EXIT_FAILED
    return 0


def print_peers(config: PeerConfig) -> int:
    for answer in ask_peers(config, peer_ordinals(config.ordinal, config.replicas())):
        print(json.dumps({"ordinal": answer.ordinal, "state": answer.state,
                          "problem": answer.problem or None}))
    return 0


COMMANDS: dict[str, Callable[[AgentConfig], int]] = {"serve": serve, "state": print_state}
# The commands that talk to the peers' agents and to no local server: they read no socket and no
# root password, so their containers need not hold it (the donor init container).
PEER_COMMANDS: dict[str, Callable[[PeerConfig], int]] = {"peers": print_peers, "donor": donor.main}


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["init-config"]:  # before the server starts: no agent, no peers (init_config.py)
        return init_config.main(os.environ)
    if list(argv) == ["switchover"]:  # the Job is no pod: it has its own environment
        return switchover.main()
    if list(argv) == ["backup-record"]:  # the backup Job's last step (backup_record.py)
        return backup_record.main(os.environ)
    if list(argv) == ["restore-plan"]:  # pod 0's restore, before its restore step (restore_plan.py)
        return restore_plan.main(os.environ)
    if list(argv) == ["restore-tar"]:  # then pod 0's restore of a MySQL backup (restore_tar.py)
        return restore_tar.main(os.environ)
    if list(argv) == ["replay-plan"]:  # the restore's steps have environments of their own too
        return replay_plan.main()
    if list(argv) in (["drill-plan"], ["drill-verdict"]):
        return restore_drill.main(argv[0])
    if list(argv[:1]) == ["rclone"]:  # a container with the backup target (the agent's)
        return rclone_target.main(argv[1:], os.environ)
    if len(argv) != 1 or argv[0] not in {*COMMANDS, *PEER_COMMANDS}:
        print(USAGE, file=sys.stderr)
        return EXIT_CONFIG
    try:
        if argv[0] in PEER_COMMANDS:
            return PEER_COMMANDS[argv[0]](read_peer_config())
        return COMMANDS[argv[0]](read_config())
    except ConfigProblem as problem:
        _log(str(problem))
        return EXIT_CONFIG
    except (OSError, ValueError) as error:
        # A certificate file that is missing or broken, a port in use.
        _log(f"{argv[0]} failed: {error}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
