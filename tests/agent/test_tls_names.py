"""Which names a certificate is for: the rule the agent's port applies to a client."""
from __future__ import annotations

import pytest

from mysql_cluster_agent.tls_names import names_host

POD = "mysql-1.mysql.db.svc.cluster.local"


def _certificate(dns: tuple[str, ...] = (), common_name: str = "mysql") -> dict[str, object]:
    return {"subject": ((("organizationName", "mysql-cluster"),), (("commonName", common_name),)),
            "subjectAltName": tuple(("DNS", name) for name in dns)}


@pytest.mark.parametrize(("dns", "common_name", "named"), [
    (("*.mysql.db.svc.cluster.local",), "mysql", True),
    ((POD,), "mysql", True),
    (("MYSQL-1.mysql.db.svc.cluster.local.",), "mysql", True),
    (("*.other.db.svc.cluster.local",), "mysql", False),
    (("*.mysql.other.svc.cluster.local",), "mysql", False),
    # A wildcard stands for one whole left-most label only.
    (("*.db.svc.cluster.local",), "mysql", False),
    (("mysql-*.mysql.db.svc.cluster.local",), "mysql", False),
    (("mysql-1.*.db.svc.cluster.local",), "mysql", False),
    (("*.local",), "mysql", False),
    # With DNS names, the common name is not looked at.
    (("localhost",), POD, False),
    ((), POD, True),
    ((), "mysql", False),
])
def test_a_certificate_names_a_pod_by_its_dns_names_else_its_common_name(dns, common_name, named):
    assert names_host(_certificate(dns, common_name), POD) is named
