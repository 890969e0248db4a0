"""The application user holds privileges on its own database only, whatever its name: in a
database-level grant `_` and `%` are wildcards, so an unescaped `m_sql` would also cover `mysql`
(the accounts) and, after a privilege reload, every database."""

import pytest

from .harness import HarnessError

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(180)
def test_an_app_database_named_with_an_underscore_gives_no_access_to_the_mysql_schema(
        mariadb_cluster):
    cluster = mariadb_cluster(replicas=1, appDatabase="m_sql")
    cluster.app_sql(cluster.primary, "CREATE TABLE notes (id INT PRIMARY KEY)")
    harness = cluster.harness
    harness.run_sql(cluster.primary, "FLUSH PRIVILEGES")

    with pytest.raises(HarnessError, match="denied"):
        harness.run_sql(cluster.primary, "SELECT COUNT(*) FROM mysql.user",
                        user=cluster.app_user, password=cluster.app_password,
                        host=harness.dns_name(cluster.primary))
    grants = [row[0] for row in harness.run_sql(
        cluster.primary, f"SHOW GRANTS FOR '{cluster.app_user}'@'%'")]
    assert [grant for grant in grants if "ON `m" in grant] == [
        f"GRANT ALL PRIVILEGES ON `m\\_sql`.* TO `{cluster.app_user}`@`%`"]
