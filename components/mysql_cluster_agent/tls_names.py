"""Whom a certificate names, checked the way a TLS client checks a server's name.

The agent's HTTPS port accepts a client only when its certificate (signed by the cluster's CA)
names this pod: the cluster's certificate names every pod by one wildcard, so a certificate of
the same CA made for anything else is refused. It is the rule socat's commonname= applies on the
backup port (scripts/tls.sh backup_listen_address): the DNS names of subjectAltName when there
are any, else the common name (RFC 6125 section 6.4.4), a wildcard standing for exactly one whole
left-most label (RFC 6125 section 6.4.3).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _matches(pattern: str, host: str) -> bool:
    pattern_labels = pattern.lower().rstrip(".").split(".")
    host_labels = host.lower().rstrip(".").split(".")
    if len(pattern_labels) != len(host_labels) or len(pattern_labels) < 3 and "*" in pattern:
        return False
    first, *rest = pattern_labels
    if any("*" in label for label in rest) or rest != host_labels[1:]:
        return False
    return first == "*" or first == host_labels[0]


def certificate_names(certificate: Mapping[str, Any]) -> list[str]:
    """The names a peer certificate (ssl.SSLSocket.getpeercert()) is for: its subjectAltName DNS
    entries, or without any its common names."""
    alt_names: Sequence[tuple[str, str]] = certificate.get("subjectAltName", ())
    dns = [value for kind, value in alt_names if kind == "DNS"]
    if dns:
        return dns
    return [value for rdn in certificate.get("subject", ()) for key, value in rdn
            if key == "commonName"]


def names_host(certificate: Mapping[str, Any], host: str) -> bool:
    """Whether the certificate is for `host`."""
    return any(_matches(name, host) for name in certificate_names(certificate))
