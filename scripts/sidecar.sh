#!/usr/bin/env bash
# backup sidecar: glue over the backup tools. The pod's agent gives the server its role (the
# agent's role_loop.py); once it has (its mark), on MariaDB this serves a streamed hot backup to
# every peer that connects to the backup port (MySQL peers clone through the server's own CLONE
# plugin), and with TLS it makes the server and the listener take up a renewed certificate.
set -euo pipefail
SCRIPT_NAME=backup
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"

require_env BACKUP_PORT BACKUP_USER ROLE_WATCH_SECONDS
if is_mariadb; then
  transfer=$(stream_transfer_tool)
  backup=$(backup_tool)
  extract=$(stream_tool)
fi

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

# The next pod clones only from a donor whose server has its role (the backup container's
# readiness): the agent marks it.
log "waiting for the agent to give the server its role"
until [[ -e "$(role_taken_mark)" ]]; do sleep 1; done

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
  log "peers clone this server with the CLONE plugin; watching for a renewed certificate"
fi
# A renewed certificate is taken up; where backups are served, the container ends when the
# listener does.
while [[ -z "$listener" ]] || kill -0 "$listener" 2>/dev/null; do
  sleep "$ROLE_WATCH_SECONDS"
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
done
wait "$listener"
