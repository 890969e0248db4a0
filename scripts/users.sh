# shellcheck shell=bash
# The users of the cluster, each with only what its job needs. Run on the primary at every start
# of its backup sidecar, so a changed password in the Secret takes effect; the statements
# replicate, so every replica and every later clone has the same users.
#   replication user: REPLICATION SLAVE, from any pod
#   backup user:      MariaDB: what mariadb-backup needs, from inside the pod only (127.0.0.1);
#                     MySQL: BACKUP_ADMIN, the donor's side of a peer's or a backup's CLONE, from
#                     any pod (over mutual TLS when the cluster has it: clone_donor_requirement);
#                     and, from inside the pod only (127.0.0.1, which MySQL matches before '%'),
#                     RELOAD, the binary log archive's rotation
#   application user: everything on the application database only
#   metrics user:     what mysqld-exporter reads, from inside the pod only (when metrics are on)
users_sql() {
  local replication_password=$1 backup_password=$2 app_password=$3
  require_env REPLICATION_USER BACKUP_USER APP_USER APP_DATABASE
  local replicator backup app
  replicator="$(sql_string "$REPLICATION_USER")@'%'"
  if is_mariadb; then backup="$(sql_string "$BACKUP_USER")@'127.0.0.1'"; else backup="$(sql_string "$BACKUP_USER")@'%'"; fi
  app="$(sql_string "$APP_USER")@'%'"
  ensure_user_sql "$replicator" "$replication_password"
  ensure_user_sql "$backup" "$backup_password"
  ensure_user_sql "$app" "$app_password"
  printf 'GRANT REPLICATION SLAVE ON *.* TO %s;\n' "$replicator"
  # With TLS the replication and clone passwords never cross the network in a plain connection.
  printf 'ALTER USER %s REQUIRE %s;\n' "$replicator" "$(if tls_enabled; then echo SSL; else echo NONE; fi)"
  is_mariadb || printf 'ALTER USER %s REQUIRE %s;\n' "$backup" "$(clone_donor_requirement)"
  backup_grants_sql "$backup"
  if ! is_mariadb; then
    # The archiver's local login, apart from the network account: it presents no certificate,
    # and RELOAD is not reachable from another pod.
    local archiver
    archiver="$(sql_string "$BACKUP_USER")@'127.0.0.1'"
    ensure_user_sql "$archiver" "$backup_password"
    printf 'GRANT RELOAD ON *.* TO %s;\n' "$archiver"
  fi
  # In a database-level grant '_' and '%' are wildcards: `m_sql`.* would cover `mysql`.
  local grant_pattern=${APP_DATABASE//_/\\_}
  grant_pattern=${grant_pattern//%/\\%}
  # shellcheck disable=SC2016 # backticks quote an SQL identifier
  printf 'CREATE DATABASE IF NOT EXISTS `%s`;\nGRANT ALL PRIVILEGES ON `%s`.* TO %s;\n' \
    "$APP_DATABASE" "$grant_pattern" "$app"
}

# What MySQL's donor account requires of a peer's connection. With TLS, mutual TLS: a client
# certificate that the server verifies against the cluster's CA (X509) and, where the stack knows
# the pods' certificate (TLS_SUBJECT), that certificate's subject, so that a certificate the
# same CA signed for another service clones nothing either. The password alone never suffices.
clone_donor_requirement() {
  if ! tls_enabled; then
    echo NONE
  elif [[ -n "${TLS_SUBJECT:-}" ]]; then
    printf 'SUBJECT %s\n' "$(sql_string "$TLS_SUBJECT")"
  else
    echo X509
  fi
}

# Creates the user, or sets the password of an existing one. These statements go to the binary
# log, hence to every replica and every clone. MySQL logs only the password's hash; MariaDB logs
# the statement as written, so there the statements carry a hash computed in this session.
ensure_user_sql() {
  local user=$1 password
  password=$(sql_string "$2")
  if is_mariadb; then
    printf 'SET @password_hash = PASSWORD(%s);\n' "$password"
    printf 'EXECUTE IMMEDIATE CONCAT(%s, QUOTE(@password_hash));\n' \
      "$(sql_string "CREATE USER IF NOT EXISTS $user IDENTIFIED BY PASSWORD ")"
    printf 'EXECUTE IMMEDIATE CONCAT(%s, QUOTE(@password_hash));\n' \
      "$(sql_string "ALTER USER $user IDENTIFIED BY PASSWORD ")"
  else
    printf 'CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s;\nALTER USER %s IDENTIFIED BY %s;\n' \
      "$user" "$password" "$user" "$password"
  fi
}

# Least privileges of the backup user: mariadb-backup with --slave-info; a CLONE donor (MySQL,
# https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-remote.html).
backup_grants_sql() {
  local user=$1
  if is_mariadb; then
    printf 'GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO %s;\n' "$user"
  else
    printf 'GRANT BACKUP_ADMIN ON *.* TO %s;\n' "$user"
  fi
}

# The exporter's user: status, variables and replication state, no table data. MariaDB split
# REPLICATION CLIENT into BINLOG MONITOR (binary log sizes) and SLAVE MONITOR (replica status).
# Few connections, so a slow server is not swamped by scrapes.
metrics_user_sql() {
  local password=$1 metrics
  require_env METRICS_USER
  metrics="$(sql_string "$METRICS_USER")@'127.0.0.1'"
  ensure_user_sql "$metrics" "$password"
  printf 'ALTER USER %s WITH MAX_USER_CONNECTIONS 3;\n' "$metrics"
  if is_mariadb; then
    printf 'GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO %s;\n' "$metrics"
  else
    printf 'GRANT PROCESS, REPLICATION CLIENT ON *.* TO %s;\n' "$metrics"
  fi
  printf 'GRANT SELECT ON performance_schema.* TO %s;\n' "$metrics"
  # The heartbeat's view (heartbeat.sh). A schema-level grant, because it replicates: a replica
  # applies it even before its own sidecar has made the view, where a grant on the view would stop
  # replication. The schema holds only the heartbeat. '_' is escaped, as it is a wildcard here.
  # shellcheck disable=SC2016 # backticks quote an SQL identifier
  printf 'GRANT SELECT ON `%s`.* TO %s;\n' "${HEARTBEAT_SCHEMA//_/\\_}" "$metrics"
}
