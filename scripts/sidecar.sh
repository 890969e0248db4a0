#!/usr/bin/env bash
# backup sidecar: once the local server accepts connections, gives it its role (role.sh): the
# primary makes sure the cluster's users exist; a replica starts replication from a fresh clone's
# coordinates (once) or resumes it, from whichever pod is writable. Then, on MariaDB, it serves a
# streamed hot backup to every peer that connects to the backup port (MySQL peers clone through
# the server's own CLONE plugin), and watches the roles (watch_role_once).
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
# shellcheck source=heartbeat.sh
source "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"
# shellcheck source=gtid.sh
source "$(dirname "${BASH_SOURCE[0]}")/gtid.sh"
# shellcheck source=topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
# shellcheck source=role.sh
source "$(dirname "${BASH_SOURCE[0]}")/role.sh"

require_env BACKUP_PORT BACKUP_USER REPLICATION_USER
ordinal=$(pod_ordinal)
if is_mariadb; then
  transfer=$(stream_transfer_tool)
  backup=$(backup_tool)
  extract=$(stream_tool)
fi
root_options=$(client_options root root-password)

provision_users() {
  log "making sure the replication, backup and application users exist with current passwords"
  (
    set +x # the statements carry the passwords
    {
      users_sql "$(secret_value replication-password)" "$(secret_value backup-password)" \
        "$(secret_value app-password)"
      ensure_user_sql "$(sql_string "$ADMIN_USER")@'%'" "$(secret_value admin-password)"
      admin_user_sql
      heartbeat_grant_sql
    } | local_sql "$root_options"
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
  primary=$(pod_host "$1")
  if [[ -f "$pending" ]]; then
    gtid=$(<"$pending")
    [[ -n "$gtid" ]] || die "$pending is empty; delete this pod's PersistentVolumeClaim and pod to clone it again"
    if [[ "$gtid" == "$OWN_GTID_STATE" ]]; then
      holds=1
    else
      holds=$(sql_value "$(gtid_state_query "$gtid")") || die "cannot read the server's GTID state"
      if is_mariadb; then holds=$(gtid_position_reached "$gtid" "$holds"); fi
    fi
    log "starting replication from $primary at GTID $gtid (already there: $holds)"
    (
      set +x # the statement carries the replication password
      first_replication_sql "$(clone_gtid_state_sql "$gtid" "$holds")" "$primary" \
        "$REPLICATION_USER" "$(secret_value replication-password)" | local_sql "$root_options"
    ) || die "could not start replication from $primary; see the error above"
    mv "$pending" "$pending.applied"
  else
    log "replicating from $primary"
    (
      set +x # the statement carries the replication password
      { demote_sql; follow_sql "$primary" "$(secret_value replication-password)"; } |
        local_sql "$root_options"
    ) || die "could not replicate from $primary; see the error above"
  fi
}

# A server holding transactions the primary lacks (a failed-over primary that came back) is
# rebuilt from a healthy peer, in place: its data is kept aside, never deleted. The mark names
# where it goes; the mysql container, whose image has the clone's tools, finishes the rebuild
# before it starts the server again (server.sh), so that a rebuild cut short goes on into the
# same place.
rebuild() {
  local mark deadline
  mark=$(rebuild_mark)
  printf '%s\n' "$DATA_VOLUME/diverged-$(date -u +%Y%m%dT%H%M%SZ)" >"$mark" ||
    die "cannot write the rebuild mark $mark"
  log "stopping the server to rebuild it"
  sql_value 'SHUTDOWN' >/dev/null 2>&1 || true
  deadline=$((SECONDS + 300))
  while sql_value 'SELECT 1' >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the server did not stop within 300s; the rebuild goes on when it restarts"
    sleep 1
  done
  log "the server stopped; the mysql container rebuilds its data and starts it"
  wait_for_local_server "$root_options" "$REBUILD_WAIT_SECONDS"
}

# Follows the writable pod <source>, rebuilding this server first if it holds transactions
# <source> lacks. This server's state is read first, then the source's: a state of the source
# read earlier (peer_states) lacks the heartbeats it has written since, which this server may
# already hold if the switchover Job pointed it at the source meanwhile, and a rebuild of a
# healthy replica would follow.
follow_or_rebuild() {
  local source=$1 own source_state
  own=$(sql_value "SELECT $(gtid_state_expression)") || die "cannot read this server's GTID state"
  source_state=$(peer_sql "$peer_options" "$source" "SELECT $(gtid_state_expression)") ||
    die "pod $source, the primary, did not answer for its GTID state; this server does not follow it yet"
  if ! gtid_state_holds "$source_state" "$own" sql_value; then
    log "this server holds transactions that the primary (pod $source) lacks: a failover left them behind; rebuilding from a peer"
    rebuild
  fi
  start_replication "$source"
}

# The role at start. A writable peer is the primary. Without one, the primary is the pod that was
# writable last (last_primary: the writer of the newest heartbeat this server or a peer holds),
# not the one the topology names: that is only the last requested move, which may have failed,
# and following a pod that never became the primary would leave the cluster without one. That pod
# takes the role again when it is this one, unless a peer holds transactions it lacks; so does pod
# 0 of a new cluster (no peer, never a replica). Where nobody has a heartbeat yet, the topology's
# designated primary is all there is to go by.
take_role() {
  local states writable own last
  states=$(peer_states "$peer_options" "$ordinal")
  writable=$(writable_peer <<<"$states")
  if [[ -n "$writable" ]]; then
    follow_or_rebuild "$writable"
    return
  fi
  own=$(sql_value "$(peer_state_sql)") || die "cannot read this server's heartbeat and GTID state"
  last=$(printf '%s\n%s\t%s\n' "$states" "$ordinal" "$own" | last_primary)
  if [[ -z "$last" ]]; then
    last=$(designated_primary)
  else
    log "pod $last wrote the newest heartbeat: it is the primary (designated: pod $(designated_primary))"
  fi
  if ((last == ordinal)) || { ((ordinal == 0)) && [[ -z "$states" ]] &&
    [[ -z "$(sql_value "$(replica_status_sql)")" ]]; }; then
    become_primary "$states"
  else
    start_replication "$last"
  fi
}

become_primary() {
  local states=$1 ordinal_of state
  while IFS=$'\t' read -r ordinal_of _ _ _ state; do
    [[ -n "$state" ]] || continue
    gtid_state_holds "$(sql_value "SELECT $(gtid_state_expression)")" "$state" sql_value ||
      die "pod $ordinal_of holds transactions this server lacks; not becoming the primary. Move the primary there (primaryOrdinal=$ordinal_of) or see docs/operations.md"
  done <<<"$states"
  log "becoming the primary"
  promote_sql | local_sql "$root_options" || die "could not make this server writable"
  provision_users
}

# One look at the roles, every ROLE_WATCH_SECONDS in the background while backups are served: a
# writable server that finds another writable pod designated as the primary steps down and follows
# it (the old primary of a failover, still running); a replica that does not follow the writable
# pod does from then on (a pod the switchover Job could not reach), after rebuilding itself if it
# has diverged.
watch_role_once() {
  local states writable source
  root_options=$(client_options root root-password)
  peer_options=$(client_options "$REPLICATION_USER" replication-password)
  # shellcheck disable=SC2064 # the files of this look, named now
  trap "rm -f '$root_options' '$peer_options'" EXIT
  states=$(peer_states "$peer_options" "$ordinal")
  writable=$(writable_peer <<<"$states")
  [[ -n "$writable" ]] || return 0
  local read_only
  read_only=$(sql_value 'SELECT @@GLOBAL.read_only') || die "cannot reach the local server"
  if [[ "$read_only" == 0 ]]; then
    ((writable == $(designated_primary))) || return 0
    log "pod $writable is writable and designated as the primary: this server steps down"
    demote_sql | local_sql "$root_options" || die "could not make this server read-only"
  else
    # The status row's second field; the first (the I/O state) is empty while it is stopped,
    # which `read` would skip, tab being whitespace to it.
    source=$(sql_value "$(replica_status_sql)")
    source=${source#*$'\t'}
    source=${source%%$'\t'*}
    [[ "$source" != "$(pod_host "$writable")" ]] || return 0
    log "the primary is pod $writable; this replica follows it"
  fi
  follow_or_rebuild "$writable"
}

# When the local server started, in seconds since the epoch (to a second).
server_started_at() {
  local uptime
  uptime=$(sql_value "SHOW GLOBAL STATUS LIKE 'Uptime'") || return 1
  uptime=${uptime##*$'\t'}
  [[ "$uptime" =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$(($(date +%s) - uptime))"
}

# A server that restarted on its own while this sidecar ran (a crash, an OOM kill, the liveness
# probe) comes back read-only and, on a replica, without replication (skip-replica-start): it
# gets its role again, as at this sidecar's start. <started> is when the server that was given
# its role started; prints when the running one started, once it has its role.
retake_role_if_restarted() {
  local started=$1 now
  root_options=$(client_options root root-password)
  peer_options=$(client_options "$REPLICATION_USER" replication-password)
  # shellcheck disable=SC2064 # the files of this look, named now
  trap "rm -f '$root_options' '$peer_options'" EXIT
  now=$(server_started_at) || return 1
  # Two seconds of slack: the start is computed from whole seconds of uptime.
  if ((now > started + 2)); then
    log "the server restarted $(($(date +%s) - now))s ago; giving it its role again"
    take_role >&2
  fi
  printf '%s\n' "$now"
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
reload_server_certificate() {
  local options unverified
  log "the certificate was renewed; reloading it in the server"
  options=$(TLS_DIR='' client_options root root-password) # without the CA: see tls.sh
  mapfile -t unverified < <(unverified_local_tls_options)
  if local_sql "$options" "${unverified[@]}" -e "$(tls_reload_sql)"; then
    log "the server reloaded the certificate"
  else
    log "the server did not reload the certificate; it keeps the old one until it restarts"
  fi
  rm -f "$options"
}

# Whether the listener <pid> is streaming a backup: its per-connection children.
listener_busy() {
  local children=''
  read -r children <"/proc/$1/task/$1/children" 2>/dev/null || true
  [[ -n "$children" ]]
}

# Starts the backup listener in the background; its pid goes to $listener.
start_listener() {
  if [[ "$transfer" == socat ]]; then
    # TRANSFER_BUFFER_BYTES: see receive_stream in clone.sh.
    socat -U ${TRANSFER_BUFFER_BYTES:+"-b$TRANSFER_BUFFER_BYTES"} "$(backup_listen_address)" \
      "EXEC:bash -c stream_backup" &
  else
    ncat --listen --keep-open --send-only --max-conns=1 "$BACKUP_PORT" \
      --exec "$(command -v bash) -c stream_backup" &
  fi
  listener=$!
}

require_env ADMIN_USER ROLE_WATCH_SECONDS
rm -f "$(role_taken_mark)"
# A rebuild's clone takes as long as copying the data (server.sh): the server answers after it.
REBUILD_WAIT_SECONDS=86400
if [[ -e "$(rebuild_mark)" ]]; then
  log "the mysql container is rebuilding this pod's data; waiting for its server"
  wait_for_local_server "$root_options" "$REBUILD_WAIT_SECONDS"
else
  wait_for_local_server "$root_options"
fi
peer_options=$(client_options "$REPLICATION_USER" replication-password)
log "making sure this server has the heartbeat table and event"
heartbeat_setup_sql | local_sql "$root_options" || die "could not create the heartbeat table and event"
take_role
server_started=$(server_started_at) || die "cannot read the local server's uptime"
rm -f "$root_options" "$peer_options"

tls_state=''
if tls_enabled; then tls_state=$(tls_files_state); fi
listener=''
if is_mariadb; then
  BACKUP_OPTIONS=$(client_options "$BACKUP_USER" backup-password)
  export BACKUP_OPTIONS backup extract SCRIPT_NAME BACKUP_END_FILE BACKUP_END_LINE
  # The transfer tool runs `bash -c stream_backup` per connection: the functions travel in the
  # environment. One backup at a time; further peers wait in the listen queue.
  # shellcheck disable=SC2046
  export -f $(compgen -A function)
  if tls_enabled; then
    log "serving backups on port $BACKUP_PORT with $transfer, over mutual TLS with peers of $TLS_DIR/ca.crt"
  else
    log "serving backups on port $BACKUP_PORT with $transfer"
  fi
  start_listener
else
  : >"$(role_taken_mark)" || die "cannot write $(role_taken_mark)"
  log "watching the roles; peers clone this server with the CLONE plugin"
fi
# The roles are watched and a renewed certificate is taken up; where backups are served, the
# container ends when the listener does.
while [[ -z "$listener" ]] || kill -0 "$listener" 2>/dev/null; do
  sleep "$ROLE_WATCH_SECONDS"
  # A renewed certificate first: until the server has it, clients that trust only the new CA
  # (this sidecar's among them) cannot reach it.
  if tls_enabled && [[ "$(tls_files_state)" != "$tls_state" ]]; then
    tls_state=$(tls_files_state)
    reload_server_certificate
    if [[ -n "$listener" ]]; then
      while listener_busy "$listener"; do sleep 1; done
      kill "$listener"
      wait "$listener" || true
      start_listener
      log "serving backups with the renewed certificate"
    fi
  fi
  if started=$(retake_role_if_restarted "$server_started"); then
    server_started=$started
  else
    log "the server does not answer, or did not get its role again; will look again"
  fi
  (watch_role_once) || log "will look at the roles again"
done
wait "$listener"
