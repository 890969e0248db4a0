#!/usr/bin/env bash
# backup job on MySQL (Server.backup_job_script): backup-job.sh, with its stream made by the
# server's CLONE plugin (BACKUP_FORMAT tar, https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-remote.html).
# A temporary server on the Job's scratch volume receives the copy of a donor (CLONE ... DATA
# DIRECTORY writes a new directory; the donor keeps serving and applying, the copy is consistent
# at one GTID set); a second one opens the copy, which completes it (the plugin's recovery runs at
# a clone's first start) and writes down the GTID set it holds; then rclone's archiver (`rclone
# archive create`, rclone 1.72+; the mysql image has no tar) writes the directory to stdout as a
# tar, and the end record (backup-stream-end.sh) follows the archive: a tar reader stops at the
# archive's end and ignores what follows. The scratch volume holds one copy of the data
# (backups.py sizes it). MariaDB's Job runs backup-job.sh alone and never holds the backup user's
# password, which the clone logs in with.
set -euo pipefail
# shellcheck source=offline-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/offline-server.sh"

# How often a running clone reports its progress. Nothing limits how long it may take: a large
# copy that keeps moving is never cut off (the plugin's own network timeouts end a dead one).
CLONE_PROGRESS_SECONDS=10
# On the temporary server a local account holding CLONE_ADMIN and BACKUP_ADMIN: MySQL's
# documentation says CLONE_ADMIN implies BACKUP_ADMIN, but 9.7.4 refuses a clone into DATA
# DIRECTORY without it (ERROR 1227, tests/e2e). On the donor the backup user, whose BACKUP_ADMIN
# lets it give a copy (accounts.py of the agent).
CLONE_RECIPIENT_USER=clone_recipient
# The temporary servers' own accounts need no password: they listen on no port, and live only
# while they run. Small buffers: they hold no load.
offline_server_login=(--no-defaults --user=root)
SMALL_SERVER=(--no-defaults --innodb-buffer-pool-size=16M --innodb-redo-log-capacity=16M)

# Starts the temporary server that receives a clone of <donor> (host:port), on a new data
# directory in <scratch>, which must not exist.
start_recipient() {
  local scratch=$1 donor=$2 server tls=()
  server=$(dialect_command SERVER_COMMAND) || return 1
  offline_server_dir=$scratch
  mkdir -p "$scratch" || { log "cannot create $scratch"; return 1; }
  "$server" "${SMALL_SERVER[@]}" "--datadir=$scratch/data" "--log-error=$scratch/error.log" --initialize-insecure ||
    { log "the temporary server could not initialise $scratch/data: $(offline_server_error)"; return 1; }
  # clone_valid_donor_list lets it copy from the chosen pod of this cluster and from nowhere else.
  # With TLS the clone verifies the donor's certificate against the CA (clone_ssl_ca) but not the
  # name in it (measured on 9.7.4: a donor presenting the same CA's certificate for another name
  # was copied); the pod's own certificate (clone_ssl_cert) is what the donor account requires.
  if tls_enabled; then
    tls=("--clone-ssl-ca=$TLS_DIR/ca.crt" "--clone-ssl-cert=$TLS_DIR/tls.crt" "--clone-ssl-key=$TLS_DIR/tls.key")
  fi
  offline_server_start "$scratch" "${SMALL_SERVER[@]}" "--datadir=$scratch/data" --mysqlx=OFF --skip-log-bin \
    --secure-file-priv=NULL --plugin-load-add=mysql_clone.so "--clone-valid-donor-list=$donor" "${tls[@]}" &&
    offline_server_wait 120 || return 1
  # backupThrottleBytesPerSecond, in whole MiB: the CLONE plugin paces the copy on the recipient
  # (clone_max_data_bandwidth, https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-options-variables.html).
  {
    printf "CREATE USER %s@'localhost';\nGRANT CLONE_ADMIN, BACKUP_ADMIN ON *.* TO %s@'localhost';\n" \
      "$CLONE_RECIPIENT_USER" "$CLONE_RECIPIENT_USER"
    if ((${BACKUP_THROTTLE_MIB:-0} > 0)); then printf 'SET GLOBAL clone_max_data_bandwidth = %d;\n' "$BACKUP_THROTTLE_MIB"; fi
  } | offline_server_sql ||
    { log "cannot create the clone account or limit the clone to ${BACKUP_THROTTLE_MIB:-0} MiB/s on the temporary server"; return 1; }
}

# One line of progress: the running stage and how much of it is done.
log_clone_progress() {
  local progress
  progress=$(offline_server_sql --batch --skip-column-names -e "SELECT CONCAT('stage ', STAGE, ', ',
    DATA DIV 1048576, ' of ', ESTIMATE DIV 1048576, ' MiB') FROM performance_schema.clone_progress
    WHERE STATE = 'In Progress' ORDER BY ID LIMIT 1" 2>/dev/null) || return 0
  [[ -z "$progress" ]] || log "clone in progress: $progress"
}

# Copies pod <donor_host> into <staging> (which must not exist) with CLONE into a temporary server
# on <scratch>, and checks that the copy is complete. Runs in a condition: every step checks its
# own status.
clone_into() {
  local host=$1 staging=$2 scratch=$3 require='REQUIRE NO SSL' client waited=0
  rm -rf "$scratch" "$scratch.client.log" || return 1
  start_recipient "$scratch" "$host:$MYSQL_PORT" || { offline_server_stop; return 1; }
  if tls_enabled; then require='REQUIRE SSL'; fi
  log "cloning $host:$MYSQL_PORT with the CLONE plugin$(tls_enabled && echo ' over TLS verified by the cluster CA')"
  (
    set +x # the statement carries the backup password, on the client's stdin
    printf 'CLONE INSTANCE FROM %s@%s:%s IDENTIFIED BY %s DATA DIRECTORY = %s %s;\n' \
      "$(sql_string "$BACKUP_USER")" "$(sql_string "$host")" "$MYSQL_PORT" \
      "$(sql_string "$(secret_value backup-password)")" "$(sql_string "$staging")" "$require" |
      offline_server_sql "--user=$CLONE_RECIPIENT_USER"
  ) 2>"$scratch.client.log" &
  client=$!
  while kill -0 "$client" 2>/dev/null; do
    sleep 1
    ((++waited % CLONE_PROGRESS_SECONDS)) || log_clone_progress
  done
  if ! wait "$client"; then
    log "the clone failed: $(<"$scratch.client.log")"
    offline_server_stop
    return 1
  fi
  offline_server_stop || return 1
  rm -rf "$scratch" "$scratch.client.log"
  # A complete copy has the data dictionary and the system schema's directory.
  [[ -f "$staging/mysql.ibd" && -d "$staging/mysql" ]] ||
    { log "the clone in $staging lacks the data dictionary (mysql.ibd) or the mysql schema"; return 1; }
}

# Writes a backup of pod <donor> to stdout; fails, having written what it had, when any step does.
clone_backup_stream() {
  local donor=$1 copy="$SCRATCH_DIR/clone" opened="$SCRATCH_DIR/opened" version gtid
  require_env SCRATCH_DIR RCLONE
  rm -rf "${SCRATCH_DIR:?}"/* || { log "cannot empty the scratch volume $SCRATCH_DIR"; return 1; }
  clone_into "$donor" "$copy" "$SCRATCH_DIR/recipient" || return 1
  # The copy's accounts are the cluster's, whose root password this Job does not hold: the server
  # writes what it holds from its init file, which needs no login, into the scratch volume.
  if ! { mkdir -p "$opened/out" && printf '%s\n' \
    "SELECT @@version, REPLACE(@@GLOBAL.gtid_executed, '\\n', '') INTO OUTFILE '$opened/out/position';" \
    >"$opened/init.sql"; }; then
    log "cannot write $opened/init.sql"
    return 1
  fi
  if ! { offline_server_start "$opened" "${SMALL_SERVER[@]}" "--datadir=$copy" --mysqlx=OFF --skip-log-bin \
    "--secure-file-priv=$opened/out" "--init-file=$opened/init.sql" &&
    offline_server_wait 300 test -s "$opened/out/position"; }; then
    log "the server did not open the clone of $donor"
    offline_server_stop
    return 1
  fi
  offline_server_stop || return 1
  IFS=$'\t' read -r version gtid <"$opened/out/position" || true
  [[ -n "${gtid:-}" ]] || { log "the clone of $donor does not say which GTID set it holds"; return 1; }
  # Its own server UUID is made anew by each server that starts on a copy.
  rm -rf "$copy/auto.cnf" "$opened"
  log "the clone of $donor holds GTID set $gtid; archiving it"
  "$RCLONE" archive create --format tar "$copy" || { log "rclone could not archive $copy"; return 1; }
  printf "\n%s\nserver_version = %s\nbinlog_pos = GTID of the last change '%s'\n" \
    "$BACKUP_END_LINE" "$version" "$gtid"
  rm -rf "$copy"
}

# shellcheck source=backup-job.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-job.sh"
