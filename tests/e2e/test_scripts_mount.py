"""The pods run the scripts of the rendered scripts ConfigMap, mounted read-only where the
StatefulSet says."""

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(120)
def test_every_container_sees_the_rendered_scripts_read_only_where_it_mounts_them(mariadb_cluster):
    cluster = mariadb_cluster(replicas=1)
    harness = cluster.harness
    volume = next(v for v in harness.pod_spec["volumes"] if v["name"] == "scripts")
    scripts = harness.manifests.configmap_data(volume["configMap"]["name"])
    # The server's, and MariaDB's backup listener's.
    mounting = [c for c in harness.pod_spec["containers"]
                if any(m["name"] == "scripts" for m in c["volumeMounts"])]
    assert [c["name"] for c in mounting] == ["mysql", *(["backup"] if cluster.flavor == "mariadb" else [])]
    for spec in mounting:
        container = spec["name"]
        (directory,) = [m["mountPath"] for m in spec["volumeMounts"] if m["name"] == "scripts"]
        for name, text in scripts.items():
            assert harness.exec(cluster.primary, container, ["cat", f"{directory}/{name}"],
                                ).stdout.encode() == text
        mounts = harness.exec(cluster.primary, container, ["cat", "/proc/self/mounts"]).stdout
        (options,) = [line.split()[3] for line in mounts.splitlines()
                      if line.split()[1] == directory]
        assert "ro" in options.split(",")
