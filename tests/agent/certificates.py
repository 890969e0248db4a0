"""Certificates for the agent's TLS tests, made with the openssl command line: a cluster's CA,
the pods' certificate (one wildcard for every pod, as the stack makes it: mysql_cluster/tls.py),
and certificates that must be refused."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from mysql_cluster_agent.config import TlsFiles

NAMESPACE = "db"
HEADLESS = "mysql"
POD_WILDCARD = f"*.{HEADLESS}.{NAMESPACE}.svc.cluster.local"


def pod_host(ordinal: int) -> str:
    return f"mysql-{ordinal}.{HEADLESS}.{NAMESPACE}.svc.cluster.local"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Authority:
    directory: Path
    name: str

    @property
    def cert(self) -> Path:
        return self.directory / f"{self.name}-ca.crt"

    @property
    def key(self) -> Path:
        return self.directory / f"{self.name}-ca.key"

    def issue(self, name: str, dns_names: list[str], common_name: str = "mysql") -> TlsFiles:
        """A certificate for `dns_names` (none: the common name alone) with its key, and this
        CA, laid out as the TLS Secret is mounted."""
        directory = self.directory / name
        directory.mkdir()
        files = TlsFiles(ca=directory / "ca.crt", cert=directory / "tls.crt", key=directory / "tls.key")
        files.ca.write_bytes(self.cert.read_bytes())
        extensions = directory / "extensions.cnf"
        lines = ["basicConstraints=CA:FALSE", "extendedKeyUsage=serverAuth,clientAuth"]
        if dns_names:
            lines.append("subjectAltName=" + ",".join(f"DNS:{dns}" for dns in dns_names))
        extensions.write_text("\n".join(lines) + "\n")
        request = directory / "request.csr"
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(files.key), "-subj", f"/O=mysql-cluster/CN={common_name}",
                 "-out", str(request))
        _openssl("x509", "-req", "-in", str(request), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(files.cert))
        return files


def authority(directory: Path, name: str) -> Authority:
    ca = Authority(directory, name)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(ca.key), "-subj", f"/O=mysql-cluster/CN={name} CA", "-days", "2",
             "-out", str(ca.cert))
    return ca
