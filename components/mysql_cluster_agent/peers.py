"""Asking the other pods' agents for their servers' state, all at once and with short bounds:
a pod that does not answer must cost seconds, not minutes.

With TLS the agent presents the pod's certificate and checks that the peer's names the pod it
dialled; the peer checks the same of ours (api.py).
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from .api import STATE_PATH, CertificateFiles
from .config import PeerConfig

CONNECT_SECONDS = 2.0
ANSWER_SECONDS = 4.0
# A state is a few hundred bytes; anything much larger is not an agent's answer.
MAX_ANSWER_BYTES = 1 << 20


@dataclass(frozen=True)
class PeerAnswer:
    """A peer's state as it sent it (JSON values), or why there is none; `reached`: its agent
    sent an HTTP answer, even a refusal (503 while it clones or its server is down), so the pod
    is up and on this pod's side of the network (the primary's fence counts it, decide.py)."""

    ordinal: int
    state: Mapping[str, object] | None
    problem: str = ""
    reached: bool = True


class _Refused(ValueError):
    """The peer's agent answered, but not with a state."""


def peer_ordinals(me: int, replicas: int) -> list[int]:
    """Every other pod's ordinal, the nearest lower first (the order donors are preferred in);
    `me` -1 lists every pod (a caller that is none of them)."""
    return [*range(me - 1, -1, -1), *range(me + 1, replicas)]


class _Connection(http.client.HTTPSConnection):
    """HTTP, or HTTPS with `context`, to `address`; a certificate must name `host`, the pod
    dialled (the address is where its name resolves; tests give one)."""

    def __init__(self, host: str, address: str, port: int, context: ssl.SSLContext | None):
        super().__init__(host, port, timeout=CONNECT_SECONDS, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), CONNECT_SECONDS)
        self.sock = (self._tls.wrap_socket(raw, server_hostname=self.host)
                     if self._tls is not None else raw)


def _fetch(host: str, address: str, port: int, context: ssl.SSLContext | None,
           deadline: float) -> object:
    connection = _Connection(host, address, port, context)
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(max(0.1, deadline - time.monotonic()))
        connection.request("GET", STATE_PATH, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(MAX_ANSWER_BYTES + 1)
        if len(body) > MAX_ANSWER_BYTES:
            raise _Refused(f"an answer of over {MAX_ANSWER_BYTES} bytes")
        try:
            answer = json.loads(body)
        except json.JSONDecodeError:
            raise _Refused("the answer is not JSON") from None
        if response.status != 200:
            detail = answer.get("error") if isinstance(answer, dict) else None
            raise _Refused(f"HTTP {response.status}: {detail or 'no detail'}")
        return answer
    finally:
        connection.close()


def ask_peers(config: PeerConfig, ordinals: Sequence[int],
              certificates: CertificateFiles | None = None,
              answer_seconds: float = ANSWER_SECONDS,
              addresses: Mapping[int, str] | None = None) -> list[PeerAnswer]:
    """Every peer's answer, in the order of `ordinals`; those that did not answer within
    `answer_seconds` (connecting included) with a JSON object have a problem instead.
    `addresses` says where to connect to a pod other than its DNS name (tests)."""
    if config.tls is not None and certificates is None:
        certificates = CertificateFiles(config.tls, ssl.Purpose.SERVER_AUTH)
    context = certificates.context() if certificates is not None else None
    deadline = time.monotonic() + answer_seconds
    if not ordinals:
        return []
    pool = ThreadPoolExecutor(max_workers=len(ordinals), thread_name_prefix="peer")
    futures = {ordinal: pool.submit(_fetch, config.pod_host(ordinal),
                                    (addresses or {}).get(ordinal, config.pod_host(ordinal)),
                                    config.agent_port, context, deadline)
               for ordinal in ordinals}
    wait(futures.values(), timeout=answer_seconds)
    # Threads of peers that did not answer in time end with their sockets' timeouts.
    pool.shutdown(wait=False, cancel_futures=True)
    answers = []
    for ordinal, future in futures.items():
        if not future.done():
            answers.append(PeerAnswer(ordinal, None, f"no answer within {answer_seconds:g} s", reached=False))
            continue
        error = future.exception()
        result = None if error else future.result()
        if error is not None:
            answers.append(PeerAnswer(ordinal, None, _describe(error), reached=isinstance(error, _Refused)))
        elif not isinstance(result, dict):
            answers.append(PeerAnswer(ordinal, None, "the answer is not a JSON object"))
        else:
            answers.append(PeerAnswer(ordinal, result))
    return answers


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its certificate does not verify: {error.verify_message}"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(error, _Refused):
        return str(error)
    return f"{type(error).__name__}: {error}"
