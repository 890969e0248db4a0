#!/usr/bin/env bash
# backup sidecar: once the local server accepts connections, makes sure the cluster's users exist
# (on the primary) or starts replication from a fresh clone's coordinates (on a replica, once),
# then serves a streamed hot backup to every peer that connects to the backup port.
set -euo pipefail
SCRIPT_NAME=backup
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=replication.sh
source "$(dirname "${BASH_SOURCE[0]}")/replication.sh"
# shellcheck source=users.sh
source "$(dirname "${BASH_SOURCE[0]}")/users.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"

require_env BACKUP_PORT BACKUP_USER REPLICATION_USER
ordinal=$(pod_ordinal)
transfer=$(stream_transfer_tool)
backup=$(backup_tool)
extract=$(stream_tool)
root_options=$(client_options root root-password)
wait_for_local_server "$root_options"

provision_users() {
  log "making sure the replication, backup and application users exist with current passwords"
  (
    set +x # the statements carry the passwords
    users_sql "$(secret_value replication-password)" "$(secret_value backup-password)" \
      "$(secret_value app-password)" | local_sql "$root_options"
  ) || die "could not create the cluster's users on the primary"
  if [[ -n "${METRICS_USER:-}" ]]; then
    require_env METRICS_SECRETS_DIR
    log "making sure the metrics user exists with its current password"
    (
      set +x # the statements carry the password
      metrics_user_sql "$(SECRETS_DIR=$METRICS_SECRETS_DIR secret_value metrics-password)" |
        local_sql "$root_options"
    ) || die "could not create the metrics user on the primary"
  fi
}

sql_value() {
  local_sql "$root_options" --batch --skip-column-names -e "$1"
}

# Replication runs from the primary by GTID. A fresh clone's position is applied once, decided by
# the clone's own marker and not by the server's replication status: a backup of a replica brings
# the donor's replication metadata along, so a fresh clone already looks configured.
# Every later start re-points the replica with the current password (a rotated one takes effect)
# and starts it; the servers do not start replication by themselves (skip-replica-start).
start_replication() {
  local pending primary gtid holds
  pending=$(pending_coordinates_file)
  primary=$(pod_host 0)
  if [[ -f "$pending" ]]; then
    gtid=$(<"$pending")
    [[ -n "$gtid" ]] || die "$pending is empty; delete this pod's PersistentVolumeClaim and pod to clone it again"
    holds=$(sql_value "$(gtid_state_query "$gtid")") || die "cannot read the server's GTID state"
    if is_mariadb; then holds=$(gtid_position_reached "$gtid" "$holds"); fi
    log "starting replication from $primary at GTID $gtid (already there: $holds)"
    (
      set +x # the statement carries the replication password
      first_replication_sql "$(clone_gtid_state_sql "$gtid" "$holds")" "$primary" \
        "$REPLICATION_USER" "$(secret_value replication-password)" | local_sql "$root_options"
    ) || die "could not start replication from $primary; see the error above"
    mv "$pending" "$pending.applied"
  elif [[ -f "$pending.applied" ]]; then
    log "resuming replication from $primary"
    (
      set +x # the statement carries the replication password
      resume_replication_sql "$primary" "$REPLICATION_USER" "$(secret_value replication-password)" |
        local_sql "$root_options"
    ) || die "could not resume replication from $primary; see the error above"
  else
    die "this replica has data but no record of a clone ($pending.applied); delete its PersistentVolumeClaim and pod to clone it again"
  fi
}

# Streams one hot backup of the local server to stdout; run by the transfer tool per connection.
# BACKUP_PARALLEL, when set, copies that many data files at once: 2 made clones about 15% faster
# once socat's buffer was large (bench/clone_tuning.py). BACKUP_THROTTLE_MIB > 0 caps the data
# files read per second (in the tool's 1 MiB units), so that the donor's clients keep their
# latency. The stream ends with the end record (backup-stream-end.sh), sent only on success.
stream_backup() {
  local info throttle=()
  if ((${BACKUP_THROTTLE_MIB:-0} > 0)); then throttle=("--throttle=$BACKUP_THROTTLE_MIB"); fi
  info=$(mktemp -d) || die "cannot create a directory in ${TMPDIR:-/tmp}"
  log "streaming a backup to a peer"
  "$backup" --defaults-extra-file="$BACKUP_OPTIONS" --backup --slave-info --stream=xbstream \
    ${BACKUP_PARALLEL:+"--parallel=$BACKUP_PARALLEL"} "${throttle[@]}" --extra-lsndir="$info" \
    --host=127.0.0.1 --port="$MYSQL_PORT" --target-dir="${TMPDIR:-/tmp}" ||
    die "$backup --backup failed; the peer will discard the partial stream"
  if ! { { printf '\n%s\n' "$BACKUP_END_LINE" && cat "$info"/*_info; } >"$info/$BACKUP_END_FILE" &&
    "$extract" -c -C "$info" "$BACKUP_END_FILE"; }; then
    die "could not send the end of the backup stream; the peer will discard it"
  fi
  rm -rf "$info"
  log "backup sent"
}

# With TLS, socat reads its certificate once, when it starts listening. A renewal (new files in
# TLS_DIR, which the kubelet updates in place) is taken up by the server without a restart, and by
# a new listener started between two backups; the one running finishes first.
TLS_CHECK_SECONDS=20

reload_server_certificate() {
  if [[ "$DB_VERSION" == 5.7 ]]; then
    log "the certificate was renewed; MySQL 5.7 cannot reload it: restart this pod to use it"
    return 0
  fi
  log "the certificate was renewed; reloading it in the server"
  root_options=$(client_options root root-password)
  local_sql "$root_options" -e "$(tls_reload_sql)" ||
    log "the server did not reload the certificate; it keeps the old one until it restarts"
  rm -f "$root_options"
}

# Whether the listener <pid> is streaming a backup: its per-connection children.
listener_busy() {
  local children=''
  read -r children <"/proc/$1/task/$1/children" 2>/dev/null || true
  [[ -n "$children" ]]
}

# Like `exec socat` without TLS, the container ends when the listener does.
serve_backups_with_tls() {
  local state listener status
  while true; do
    state=$(tls_files_state)
    socat -U ${TRANSFER_BUFFER_BYTES:+"-b$TRANSFER_BUFFER_BYTES"} "$(backup_listen_address)" \
      "EXEC:bash -c stream_backup" &
    listener=$!
    while [[ "$(tls_files_state)" == "$state" ]]; do
      sleep "$TLS_CHECK_SECONDS" &
      status=0
      wait -n "$listener" "$!" || status=$?
      if ! kill -0 "$listener" 2>/dev/null; then
        log "the backup listener stopped (exit status $status)"
        exit "$status"
      fi
    done
    reload_server_certificate
    while listener_busy "$listener"; do sleep 1; done
    kill "$listener"
    wait "$listener" || true
    log "serving backups with the renewed certificate"
  done
}

if ((ordinal == 0)); then provision_users; else start_replication; fi
rm -f "$root_options"

BACKUP_OPTIONS=$(client_options "$BACKUP_USER" backup-password)
export BACKUP_OPTIONS backup extract SCRIPT_NAME BACKUP_END_FILE BACKUP_END_LINE
# The transfer tool runs `bash -c stream_backup` per connection: the functions travel in the
# environment. One backup at a time; further peers wait in the listen queue.
# shellcheck disable=SC2046
export -f $(compgen -A function)
if tls_enabled; then
  log "serving backups on port $BACKUP_PORT with $transfer, over mutual TLS with peers of $TLS_DIR/ca.crt"
  serve_backups_with_tls
fi
log "serving backups on port $BACKUP_PORT with $transfer"
if [[ "$transfer" == socat ]]; then
  # TRANSFER_BUFFER_BYTES: see receive_stream in clone.sh.
  exec socat -U ${TRANSFER_BUFFER_BYTES:+"-b$TRANSFER_BUFFER_BYTES"} \
    "$(backup_listen_address)" "EXEC:bash -c stream_backup"
else
  exec ncat --listen --keep-open --send-only --max-conns=1 "$BACKUP_PORT" \
    --exec "$(command -v bash) -c stream_backup"
fi
