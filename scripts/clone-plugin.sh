# shellcheck shell=bash
# MySQL's side of clone-mysql: the server's own CLONE plugin copies a donor into the staging
# directory (https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-remote.html). The pod's server
# is not running yet, so a temporary server on a scratch directory of the data volume receives the
# copy: CLONE ... DATA DIRECTORY writes a new directory and needs no restart of the recipient. The
# donor keeps serving and applying meanwhile; the copy is consistent at one GTID set.
#
# Accounts: on the donor the backup user, whose BACKUP_ADMIN lets it give a copy (accounts.py of
# the agent); on the temporary server a local account holding CLONE_ADMIN and BACKUP_ADMIN: MySQL's
# documentation says CLONE_ADMIN implies BACKUP_ADMIN, but 9.7.4 refuses a clone into DATA
# DIRECTORY without it (ERROR 1227, tests/e2e). The donor's password reaches the temporary server
# inside the statement, on the client's stdin.

# How often a running clone reports its progress. Nothing limits how long it may take: a large
# copy that keeps moving is never cut off (the plugin's own network timeouts end a dead one).
CLONE_PROGRESS_SECONDS=10
CLONE_RECIPIENT_USER=clone_recipient

# Runs SQL on the temporary server over its socket, as <user> (no password: it listens on no
# port and its accounts exist only while it runs).
recipient_sql() {
  local user=$1
  shift
  "$(sql_client)" --no-defaults --protocol=socket --socket="$recipient_socket" --user="$user" "$@"
}

# Starts a temporary server on data directory <datadir> in the background, with its socket, pid
# file and error log in <scratch> (shown when something fails) and the given options. No port, no
# X protocol, no binary log.
launch_temporary_server() {
  local scratch=$1 datadir=$2 server
  shift 2
  server=$(dialect_command SERVER_COMMAND) || return 1
  recipient_socket="$scratch/mysqld.sock"
  recipient_log="$scratch/error.log"
  mkdir -p "$scratch" || { log "cannot create $scratch"; return 1; }
  "$server" --no-defaults "--datadir=$datadir" "--log-error=$recipient_log" --innodb-buffer-pool-size=16M \
    --innodb-redo-log-capacity=16M --skip-networking --mysqlx=OFF --skip-log-bin \
    "--socket=$recipient_socket" "--pid-file=$scratch/mysqld.pid" "$@" >&2 &
  recipient_pid=$!
}

# Waits until the temporary server answers its root account, for at most 120 s.
wait_for_temporary_server() {
  local deadline=$((SECONDS + 120))
  until recipient_sql root -e 'SELECT 1' >/dev/null 2>&1; do
    if ! kill -0 "$recipient_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      log "the temporary server did not start: $(tail -n 5 "$recipient_log" 2>/dev/null)"
      return 1
    fi
    sleep 1
  done
}

# Starts the temporary server that receives a clone, on a new data directory in <scratch>, which
# must not exist.
start_recipient() {
  local scratch=$1 server donor_list=$2 tls=()
  server=$(dialect_command SERVER_COMMAND) || return 1
  mkdir -p "$scratch" || { log "cannot create $scratch"; return 1; }
  if tls_enabled; then
    tls=("--clone-ssl-ca=$TLS_DIR/ca.crt" "--clone-ssl-cert=$TLS_DIR/tls.crt" "--clone-ssl-key=$TLS_DIR/tls.key")
  fi
  if ! "$server" --no-defaults "--datadir=$scratch/data" "--log-error=$scratch/error.log" \
    --innodb-buffer-pool-size=16M --innodb-redo-log-capacity=16M --initialize-insecure; then
    log "the temporary server could not initialise $scratch/data: $(tail -n 5 "$scratch/error.log" 2>/dev/null)"
    return 1
  fi
  # clone_valid_donor_list lets it copy from the chosen pod of this cluster and from nowhere else.
  # With TLS the clone verifies the donor's certificate against the CA (clone_ssl_ca) but not the
  # name in it (measured on 9.7.4: a donor presenting the same CA's certificate for another name
  # was copied); the pod's own certificate (clone_ssl_cert) is what the donor account requires.
  launch_temporary_server "$scratch" "$scratch/data" --secure-file-priv=NULL --plugin-load-add=mysql_clone.so \
    "--clone-valid-donor-list=$donor_list" "${tls[@]}" && wait_for_temporary_server || return 1
  printf "CREATE USER %s@'localhost';\nGRANT CLONE_ADMIN, BACKUP_ADMIN ON *.* TO %s@'localhost';\n" \
    "$CLONE_RECIPIENT_USER" "$CLONE_RECIPIENT_USER" | recipient_sql root ||
    { log "cannot create the clone account on the temporary server"; return 1; }
  # backupThrottleBytesPerSecond, in whole MiB: the CLONE plugin paces the copy on the recipient
  # (clone_max_data_bandwidth, https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-options-variables.html).
  if ((${BACKUP_THROTTLE_MIB:-0} > 0)); then
    printf 'SET GLOBAL clone_max_data_bandwidth = %d;\n' "$BACKUP_THROTTLE_MIB" | recipient_sql root ||
      { log "cannot limit the clone to ${BACKUP_THROTTLE_MIB} MiB/s on the temporary server"; return 1; }
  fi
}

stop_recipient() {
  [[ -n "${recipient_pid:-}" ]] || return 0
  kill "$recipient_pid" 2>/dev/null
  wait "$recipient_pid" 2>/dev/null
  recipient_pid=''
}

# One line of progress: the running stage and how much of it is done.
log_clone_progress() {
  local stage estimate data
  IFS=$'\t' read -r stage estimate data < <(recipient_sql root --batch --skip-column-names -e \
    "SELECT STAGE, ESTIMATE, DATA FROM performance_schema.clone_progress WHERE STATE = 'In Progress' ORDER BY ID LIMIT 1" 2>/dev/null) || return 0
  [[ -n "${stage:-}" ]] || return 0
  if [[ "$estimate" =~ ^[0-9]+$ ]] && ((estimate > 0)); then
    log "clone in progress: stage $stage, $((data / 1048576)) of $((estimate / 1048576)) MiB"
  else
    log "clone in progress: stage $stage"
  fi
}

# Copies pod <donor_host> into <staging> (which must not exist) with CLONE over <scratch>, and
# prints its coordinates: the copy's own GTID state (OWN_GTID_STATE). Runs in a condition: every
# step checks its own status.
clone_with_plugin() {
  local donor_host=$1 staging=$2 scratch=$3 client_status require
  local client_log="$scratch.client.log"
  rm -rf "$scratch" "$client_log" || return 1
  start_recipient "$scratch" "$donor_host:$MYSQL_PORT" || { stop_recipient; return 1; }
  if tls_enabled; then require='REQUIRE SSL'; else require='REQUIRE NO SSL'; fi
  log "cloning $donor_host:$MYSQL_PORT with the CLONE plugin$(tls_enabled && echo ' over TLS verified by the cluster CA')"
  (
    set +x # the statement carries the backup password
    printf 'CLONE INSTANCE FROM %s@%s:%s IDENTIFIED BY %s DATA DIRECTORY = %s %s;\n' \
      "$(sql_string "$BACKUP_USER")" "$(sql_string "$donor_host")" "$MYSQL_PORT" \
      "$(sql_string "$(secret_value backup-password)")" "$(sql_string "$staging")" "$require" |
      recipient_sql "$CLONE_RECIPIENT_USER"
  ) 2>"$client_log" &
  local client=$! waited=0
  while kill -0 "$client" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    ((waited % CLONE_PROGRESS_SECONDS != 0)) || log_clone_progress
  done
  wait "$client"
  client_status=$?
  if ((client_status != 0)); then
    log "the clone failed: $(<"$client_log")"
    stop_recipient
    return 1
  fi
  stop_recipient
  rm -rf "$scratch" "$client_log"
  # A complete copy has the data dictionary and the system schema's directory.
  [[ -f "$staging/mysql.ibd" && -d "$staging/mysql" ]] ||
    { log "the clone in $staging lacks the data dictionary (mysql.ibd) or the mysql schema"; return 1; }
  printf '%s\n' "$OWN_GTID_STATE"
}
