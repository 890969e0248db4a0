"""Who may ask an agent to change its server's role (role_api.py).

With TLS the connection says it: api.py accepts only a client whose certificate, of the cluster's
CA, names this pod, which the pods' certificate does (one wildcard for every pod) and a
certificate of the same CA made for anything else does not. The switchover Job presents the
pods' certificate: whoever can mount that Secret already holds the key every server and agent of
the cluster identifies with, so a separate Job certificate would not narrow who can act (and a
user's own `tlsSecret` gives no CA key to issue one with).

Without TLS every role request carries an HMAC-SHA256, keyed with the role key of the
credentials Secret (mounted in the agent containers and the switchover Job only; it never
crosses the network), over the pod it is meant for, the method, the path, a timestamp, a nonce
and the body. A request signed for another pod, older or newer than WINDOW_SECONDS, or whose
nonce was seen already is refused: a request seen on the network cannot be sent again."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

# Header names in lower case, as api.py hands them over (HTTP names are case-insensitive).
TIMESTAMP_HEADER = "x-role-timestamp"
NONCE_HEADER = "x-role-nonce"
SIGNATURE_HEADER = "x-role-signature"
# How far a request's timestamp may be from the agent's clock (both ways: the pods' clocks differ
# a little); nonces are remembered this long, so that a replay within the window is refused too.
WINDOW_SECONDS = 30
# Far more than the Job sends within a window; past that, requests are refused rather than the
# memory of nonces grown (only a holder of the key can send that many).
MAX_NONCES = 4096
_NONCE_LENGTH = 32
# The shortest key accepted: a generated key has 32 characters (mysql_cluster/secrets.py).
MIN_KEY_LENGTH = 16


class RefusedRequest(Exception):
    """A request that does not prove who sent it; the message is the reason, for the log."""


def read_key(path: Path) -> bytes:
    """The role key from its Secret file; OSError or ValueError say what is wrong with it."""
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the role key in {path} has {len(key)} characters; it needs at least {MIN_KEY_LENGTH}")
    return key


def _signature(key: bytes, host: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{host}\n{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_headers(key: bytes, host: str, method: str, path: str, body: bytes,
                   now: Callable[[], float] = time.time) -> dict[str, str]:
    """The headers that authenticate one request to the agent of pod `host`."""
    timestamp, nonce = str(int(now())), secrets.token_hex(_NONCE_LENGTH // 2)
    return {TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce,
            SIGNATURE_HEADER: _signature(key, host, method, path, timestamp, nonce, body)}


class RequestVerifier:
    """Checks signed requests to the agent of pod `host`, remembering the nonces of the window."""

    def __init__(self, key: Callable[[], bytes], host: str, now: Callable[[], float] = time.time):
        """`key` is read at each request, so that a rotated Secret takes effect."""
        self._key = key
        self._host = host
        self._now = now
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        """Returns when the request is authentic and new; RefusedRequest saying why otherwise."""
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not (timestamp and nonce and signature):
            raise RefusedRequest("no signature (the role key's HMAC is required without TLS)")
        if not re.fullmatch(r"[0-9]{1,12}", timestamp):
            raise RefusedRequest("the timestamp is not a number of seconds")
        if not re.fullmatch(f"[0-9a-f]{{{_NONCE_LENGTH}}}", nonce):
            raise RefusedRequest("the nonce is not 32 hexadecimal digits")
        now = self._now()
        if abs(now - int(timestamp)) > WINDOW_SECONDS:
            raise RefusedRequest(f"the timestamp is {int(now) - int(timestamp)}s from this pod's clock (more than "
                                 f"{WINDOW_SECONDS}s: an old request sent again, or a clock that is off)")
        try:
            key = self._key()
        except (OSError, ValueError) as error:
            raise RefusedRequest(f"this agent cannot read its role key: {error}") from None
        expected = _signature(key, self._host, method, path, timestamp, nonce, body)
        if not hmac.compare_digest(expected, signature):
            raise RefusedRequest("the signature does not match (another key, another pod, or a changed request)")
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if now - t <= 2 * WINDOW_SECONDS}
            if nonce in self._seen:
                raise RefusedRequest("the request was sent before (its nonce was seen): a replay")
            if len(self._seen) >= MAX_NONCES:
                raise RefusedRequest(f"more than {MAX_NONCES} requests within {2 * WINDOW_SECONDS}s")
            self._seen[nonce] = now
