"""The cluster's TLS certificate: where it comes from, the names it must carry, and the server
options that use it.

One certificate serves every pod: servers present it to clients and replicas, and the backup
sidecars present it to each other as client certificates, so a peer is trusted when its
certificate comes from the cluster's CA. Whatever its source, the pods read one Secret laid out
as cert-manager writes it: tls.crt, tls.key and ca.crt.
"""
from __future__ import annotations

from typing import Callable, Optional

import pulumi
import pulumi_tls as tls
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from .names import ClusterNames
from .settings import BY_KEY, ClusterSettings, ConfigError

# Where every container that uses the certificate finds it, and the Secret's keys.
TLS_DIR = "/etc/mysql-cluster/tls"
CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
SECRET_KEYS = (CA_FILE, CERT_FILE, KEY_FILE)

# Both ends of every link present this certificate: servers and donors (server), replicas'
# sidecars fetching a clone (client).
_KEY_USAGES = ["digital_signature", "key_encipherment", "server_auth", "client_auth"]
_CA_VALIDITY_HOURS = 10 * 365 * 24
# A year, renewed by `pulumi up` in its last 30 days (pulumi-tls) or by cert-manager after two
# thirds of it; the pods take the renewed files up without restarting the server.
_CERT_VALIDITY_HOURS = 365 * 24
_CERT_EARLY_RENEWAL_HOURS = 30 * 24


def tls_enabled(settings: ClusterSettings) -> bool:
    return settings.tls_source != "none"


# The key each source needs, and what it names.
_SOURCE_KEYS = {"cert-manager": ("tlsIssuer", "the Issuer or ClusterIssuer"),
                "secret": ("tlsSecret", "the Secret")}


def check_tls_settings(settings: ClusterSettings) -> None:
    """The TLS keys agree with each other; raises ConfigError naming the key to change."""
    source = settings.tls_source
    for wanted_source, (key, what) in _SOURCE_KEYS.items():
        setting = BY_KEY[key]
        value = getattr(settings, setting.arg)
        if source == wanted_source and not value:
            raise ConfigError(setting, value, f"tlsSource {source} needs it; name {what}")
        if source != wanted_source and value:
            raise ConfigError(setting, value,
                              f"it is only used with tlsSource {wanted_source} (tlsSource is "
                              f"{source}); remove it or set tlsSource {wanted_source}")
    if settings.require_client_tls and source == "none":
        raise ConfigError(BY_KEY["requireClientTls"], True,
                          "with tlsSource none the servers have no certificate; choose a "
                          "tlsSource or set requireClientTls false")


def certificate_names(names: ClusterNames) -> tuple[list[str], list[str]]:
    """DNS names and IP addresses the certificate must carry: every pod's stable name, as one
    wildcard, so that scaling needs no new certificate (replicas and clones verify it); the
    Services in every form a client in the cluster may use; and the loopback address the pod's
    own scripts connect to."""
    dns = [f"*.{names.service_host(names.headless_service)}"]
    for service in (names.headless_service, names.primary_service, names.read_service):
        dns += [service, f"{service}.{names.namespace}", f"{service}.{names.namespace}.svc",
                names.service_host(service)]
    dns.append("localhost")
    return dns, ["127.0.0.1"]


# The organization of the self-signed CA and certificate.
_ORGANIZATION = "mysql-cluster"


def certificate_subject(names: ClusterNames, settings: ClusterSettings) -> Optional[str]:
    """The subject of the certificate the stack has made (self-signed) or requested
    (cert-manager, which asks for the common name alone), in OpenSSL's one-line form, as MySQL
    compares it for an account's REQUIRE SUBJECT (sql/auth/sql_authentication.cc,
    X509_NAME_oneline); None without TLS or when the user gives the certificate (tlsSource
    secret), whose subject the stack does not know."""
    if settings.tls_source == "self-signed":
        return f"/O={_ORGANIZATION}/CN={names.cluster}"
    if settings.tls_source == "cert-manager":
        return f"/CN={names.cluster}"
    return None


def server_tls_options(settings: ClusterSettings) -> dict[str, str]:
    """[mysqld] options: the certificate, and whether clients must use TLS."""
    if not tls_enabled(settings):
        return {}
    options = {"ssl-ca": f"{TLS_DIR}/{CA_FILE}", "ssl-cert": f"{TLS_DIR}/{CERT_FILE}",
               "ssl-key": f"{TLS_DIR}/{KEY_FILE}"}
    if settings.require_client_tls:
        options["require-secure-transport"] = "ON"
    return options


def tls_secret(name: str, names: ClusterNames, settings: ClusterSettings,
               metadata: Callable[[str], meta.ObjectMetaArgs],
               opts: pulumi.ResourceOptions) -> Optional[pulumi.Input[str]]:
    """The name of the Secret the pods read the certificate from (made here unless the user
    gives one); None without TLS."""
    source = settings.tls_source
    if source == "none":
        return None
    if source == "secret":
        return settings.tls_secret
    dns_names, ip_addresses = certificate_names(names)
    if source == "cert-manager":
        _certificate(name, names, settings, metadata, dns_names, ip_addresses, opts)
        return names.tls_secret
    return _self_signed_secret(name, names, metadata, dns_names, ip_addresses, opts)


def _certificate(name: str, names: ClusterNames, settings: ClusterSettings,
                 metadata: Callable[[str], meta.ObjectMetaArgs], dns_names: list[str],
                 ip_addresses: list[str], opts: pulumi.ResourceOptions) -> CustomResource:
    """A cert-manager Certificate; cert-manager writes the Secret and renews it."""
    return CustomResource(
        f"{name}-certificate",
        api_version="cert-manager.io/v1",
        kind="Certificate",
        metadata=metadata(names.certificate),
        spec={
            "secretName": names.tls_secret,
            "issuerRef": {"name": settings.tls_issuer, "kind": settings.tls_issuer_kind,
                          "group": "cert-manager.io"},
            "commonName": names.cluster,
            "dnsNames": dns_names,
            "ipAddresses": ip_addresses,
            "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
            "duration": f"{_CERT_VALIDITY_HOURS}h",
            "renewBefore": f"{_CERT_EARLY_RENEWAL_HOURS}h",
            # A new key with every renewal: a leaked key expires with its certificate.
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        },
        opts=opts,
    )


def _self_signed_secret(name: str, names: ClusterNames,
                        metadata: Callable[[str], meta.ObjectMetaArgs], dns_names: list[str],
                        ip_addresses: list[str], opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A CA of the cluster's own, kept in the stack's state, and a certificate it signs."""
    def key(resource_name: str) -> tls.PrivateKey:
        return tls.PrivateKey(resource_name, algorithm="ECDSA", ecdsa_curve="P256", opts=opts)

    ca_key = key(f"{name}-ca-key")
    ca = tls.SelfSignedCert(
        f"{name}-ca",
        private_key_pem=ca_key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(common_name=f"{names.cluster} CA",
                                              organization=_ORGANIZATION),
        is_ca_certificate=True,
        validity_period_hours=_CA_VALIDITY_HOURS,
        allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
        opts=opts,
    )
    server_key = key(f"{name}-tls-key")
    request = tls.CertRequest(
        f"{name}-tls-request",
        private_key_pem=server_key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=names.cluster,
                                           organization=_ORGANIZATION),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        opts=opts,
    )
    certificate = tls.LocallySignedCert(
        f"{name}-tls-cert",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca.cert_pem,
        validity_period_hours=_CERT_VALIDITY_HOURS,
        early_renewal_hours=_CERT_EARLY_RENEWAL_HOURS,
        allowed_uses=_KEY_USAGES,
        opts=opts,
    )
    files: dict[str, pulumi.Input[str]] = {
        CERT_FILE: certificate.cert_pem, KEY_FILE: pulumi.Output.secret(server_key.private_key_pem),
        CA_FILE: ca.cert_pem}
    secret = core.Secret(f"{name}-tls", metadata=metadata(names.tls_secret),
                         type="kubernetes.io/tls", string_data=files, opts=opts)
    return secret.metadata.name

