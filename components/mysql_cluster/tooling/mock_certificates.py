"""Real keys and certificates for pulumi-tls resources run under the mock runtime.

The pulumi-tls provider makes them during a deployment; under the mock runtime nothing would, and
the rendered TLS Secret would be empty. The `openssl` command makes them here from the same
inputs (names, validity, uses), so that rendered manifests with secrets revealed run as they are
on real servers (tests/e2e). As a deployment keeps a resource whose inputs did not change, a
resource rendered again with the same inputs gets the same outputs within one process: a program
rendered again (the e2e harness's `pulumi up`) keeps its CA and certificate.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

# pulumi-tls's names for key usages, in OpenSSL's extension syntax.
_KEY_USAGE = {"digital_signature": "digitalSignature", "key_encipherment": "keyEncipherment",
              "cert_signing": "keyCertSign", "crl_signing": "cRLSign"}
_EXTENDED_KEY_USAGE = {"server_auth": "serverAuth", "client_auth": "clientAuth"}


def _openssl(*args: str, stdin: str = "") -> str:
    try:
        return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True,
                              check=True).stdout
    except FileNotFoundError:
        raise RuntimeError("rendering TLS certificates needs the openssl command; install it "
                           "(Debian: apt-get install openssl)") from None
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"openssl {args[0]} failed: {error.stderr.strip()}") from None


def _subject(inputs: dict[str, Any]) -> str:
    subject = inputs.get("subject") or {}
    parts = [("O", subject.get("organization")), ("CN", subject.get("commonName"))]
    return "".join(f"/{field}={value}" for field, value in parts if value)


def _extensions(inputs: dict[str, Any]) -> str:
    lines = []
    names = [f"DNS:{name}" for name in inputs.get("dnsNames") or ()]
    names += [f"IP:{address}" for address in inputs.get("ipAddresses") or ()]
    if names:
        lines.append("subjectAltName=" + ",".join(names))
    uses = inputs.get("allowedUses") or ()
    if inputs.get("isCaCertificate"):
        lines.append("basicConstraints=critical,CA:TRUE")
    key_usage = [_KEY_USAGE[use] for use in uses if use in _KEY_USAGE]
    if key_usage:
        lines.append("keyUsage=critical," + ",".join(key_usage))
    extended = [_EXTENDED_KEY_USAGE[use] for use in uses if use in _EXTENDED_KEY_USAGE]
    if extended:
        lines.append("extendedKeyUsage=" + ",".join(extended))
    return "\n".join(lines) + "\n"


def _days(inputs: dict[str, Any]) -> str:
    return str(max(1, int(inputs.get("validityPeriodHours", 24)) // 24))


def _written(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# `openssl req` needs a config with a distinguished-name section; -subj and -addext say the rest.
_REQ_CONFIG = "[req]\ndistinguished_name = subject\n[subject]\n"


# (type, name, inputs) -> outputs of the resources made so far: the stand-in of stack state.
_STATE: dict[tuple[str, str, str], dict[str, Any]] = {}


def tls_outputs(resource_type: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs pulumi-tls would give the resource `name` of `resource_type`; {} for other
    types. The same as before when it was made before with the same inputs."""
    key = (resource_type, name, json.dumps(inputs, sort_keys=True, default=str))
    if key not in _STATE:
        _STATE[key] = _new_outputs(resource_type, inputs)
    return dict(_STATE[key])


def ca_private_key(ca_cert_pem: str) -> str:
    """The private key of a CA made here in this process, as the stack's state would hold it:
    for tests that have the cluster's CA sign a certificate for someone else."""
    for (resource_type, _, inputs), outputs in _STATE.items():
        if resource_type.endswith(":SelfSignedCert") and outputs.get("certPem") == ca_cert_pem:
            return str(json.loads(inputs)["privateKeyPem"])
    raise KeyError("no CA with this certificate was rendered in this process")


def _new_outputs(resource_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    kind = resource_type.rpartition(":")[2]
    if kind == "PrivateKey":
        key = _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        return {"privateKeyPem": key}
    if kind not in ("SelfSignedCert", "CertRequest", "LocallySignedCert"):
        return {}
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        if kind == "LocallySignedCert":
            return {"certPem": _openssl(
                "x509", "-req", "-in", _written(directory, "request.pem", inputs["certRequestPem"]),
                "-CA", _written(directory, "ca.pem", inputs["caCertPem"]),
                "-CAkey", _written(directory, "ca-key.pem", inputs["caPrivateKeyPem"]),
                "-set_serial", "0x" + _openssl("rand", "-hex", "16").strip(),
                "-days", _days(inputs), "-copy_extensions", "copy",
                "-extfile", _written(directory, "extensions.cnf", _extensions(inputs)))}
        request = ["req", "-new", "-key", _written(directory, "key.pem", inputs["privateKeyPem"]),
                   "-subj", _subject(inputs),
                   "-config", _written(directory, "req.cnf", _REQ_CONFIG)]
        request += [argument for line in _extensions(inputs).splitlines()
                    for argument in ("-addext", line)]
        if kind == "SelfSignedCert":
            return {"certPem": _openssl(*request, "-x509", "-days", _days(inputs))}
        return {"certRequestPem": _openssl(*request)}
