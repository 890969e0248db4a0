"""Replication and TLS when the cluster runs without TLS (tlsSource=none; test_tls.py covers the
default). The scripts then ask every replica for a plain connection to the primary
(MASTER_SSL=0 / SOURCE_SSL=0, and no certificate verification) and get it on every server. A
channel that names no TLS option gets the server's default instead: on MySQL TLS with the server's
self-made certificate, unverified; plain on MariaDB 10.11; on 11.x (from 11.4) TLS with the
primary's certificate verified, which works even on a primary without a configured certificate,
because it makes its own and the replica verifies it through the replication password
(MDEV-31857, MDEV-31855).

To tell a plain link from a TLS one, the primary requires TLS of the replication user
(`REQUIRE SSL`): a plain connection is then refused with ERROR 1045.
"""

import pytest

pytestmark = pytest.mark.e2e

REPLICA = "mysql-1"
ACCESS_DENIED = "1045"
# Whether a channel that names no TLS option uses TLS and verifies the primary's certificate.
TLS_BY_DEFAULT = {"mariadb-10.11": False, "mariadb-11.8": True}


def channel_status(cluster, channel: str = "") -> dict[str, str | None]:
    """The replica's status of a channel (MariaDB names channels; MySQL's scripts use the default
    one), its fields under MariaDB's names."""
    if cluster.flavor == "mysql":
        assert channel == ""
        return {name.replace("Source_", "Master_").replace("Replica_", "Slave_"): value
                for name, value in cluster.replica_status(REPLICA).items()}
    names, values = cluster.harness.run_sql(REPLICA, f"SHOW SLAVE '{channel}' STATUS",
                                            column_names=True)
    return dict(zip(names, values))


def wait_for_connection(cluster, channel: str, expected: str) -> dict[str, str | None]:
    """Wait until the channel's I/O thread runs ("Yes") or is refused (`expected` errno)."""
    states = []

    def settled() -> bool:
        states.append(channel_status(cluster, channel))
        return (states[-1]["Slave_IO_Running"] == "Yes" if expected == "Yes"
                else states[-1]["Last_IO_Errno"] == expected)

    cluster.harness.wait_until(settled, 30, f"channel '{channel}' of {REPLICA}: {expected}")
    return states[-1]


def require_tls_of_the_replication_user(cluster, required: bool) -> None:
    cluster.harness.run_sql(cluster.primary, f"ALTER USER replicator@'%' "
                                             f"REQUIRE {'SSL' if required else 'NONE'}")


@pytest.mark.timeout(180)
def test_replicas_replicate_over_the_plain_connection_the_scripts_ask_for(mariadb_cluster):
    cluster = mariadb_cluster(replicas=2, tlsSource="none")
    if cluster.flavor == "mysql":
        # The CLONE plugin copied the replica in plain text too. caching_sha2_password over plain
        # TCP: the scripts' clients and the channel ask for the server's RSA key
        # (get-server-public-key, GET_SOURCE_PUBLIC_KEY=1).
        clone_log = cluster.harness.log_tail(REPLICA, cluster.clone_container, lines=10_000)
        assert "with the CLONE plugin\n" in clone_log + "\n" and "over TLS" not in clone_log, clone_log
    status = channel_status(cluster)
    assert (status["Master_SSL_Allowed"], status["Master_SSL_Verify_Server_Cert"]) == ("No", "No")

    require_tls_of_the_replication_user(cluster, True)
    word = "SLAVE" if cluster.flavor == "mariadb" else "REPLICA"
    cluster.harness.run_sql(REPLICA, f"STOP {word}; START {word}")
    assert "Access denied for user 'replicator'" in wait_for_connection(
        cluster, "", ACCESS_DENIED)["Last_IO_Error"]

    require_tls_of_the_replication_user(cluster, False)
    wait_for_connection(cluster, "", "Yes")
    cluster.create_events_table()
    cluster.insert_events(1, 10)
    cluster.wait_caught_up()
    cluster.assert_events_everywhere(10)


# MariaDB only: it shows MariaDB's default, which changed between 10.11 and 11.8. MySQL's (TLS
# with the server's self-made certificate, unverified) is why the scripts name SOURCE_SSL=0, which
# the scenario above shows on 9.7.
@pytest.mark.parametrize("server", ["mariadb-11.8", "mariadb-10.11"], indirect=True)
@pytest.mark.timeout(180)
def test_a_channel_without_tls_options_gets_the_servers_default(mariadb_cluster, server):
    """A second channel on the replica, made as if the scripts named no TLS option; the
    scripts' own channel is stopped meanwhile, so that one channel applies at a time."""
    cluster = mariadb_cluster(replicas=2, tlsSource="none")
    harness = cluster.harness
    password = harness.manifests.secret_data(f"{harness.name}-credentials")[
        "replication-password"].decode()
    require_tls_of_the_replication_user(cluster, True)
    primary = harness.dns_name(cluster.primary)
    harness.run_sql(REPLICA, "STOP SLAVE;"
                    f"CHANGE MASTER 'defaults' TO MASTER_HOST='{primary}', MASTER_USER='replicator',"
                    f" MASTER_PASSWORD='{password}', MASTER_USE_GTID=slave_pos,"
                    " MASTER_CONNECT_RETRY=1; START SLAVE 'defaults'")

    status = wait_for_connection(cluster, "defaults",
                                 "Yes" if TLS_BY_DEFAULT[server] else ACCESS_DENIED)
    tls = "Yes" if TLS_BY_DEFAULT[server] else "No"
    assert (status["Master_SSL_Allowed"], status["Master_SSL_Verify_Server_Cert"]) == (tls, tls)

    harness.run_sql(REPLICA, "STOP SLAVE 'defaults'; RESET SLAVE 'defaults' ALL")
    require_tls_of_the_replication_user(cluster, False)
    harness.run_sql(REPLICA, "START SLAVE")
    cluster.create_events_table()
    cluster.insert_events(1, 10)
    cluster.wait_caught_up()
    cluster.assert_replicating(REPLICA)
    cluster.assert_events_everywhere(10)

