#!/usr/bin/env bash
# MariaDB's backup listener: once the pod's agent has given the server its role (its mark), it
# serves a streamed hot backup to every peer that connects to the backup port, and with TLS takes
# up a renewed certificate. MySQL pods have no such container: peers clone through the server's
# own CLONE plugin, and the agent reloads the server's certificate (tls_reload.py).
set -euo pipefail
SCRIPT_NAME=backup
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"

require_env BACKUP_PORT BACKUP_USER ROLE_WATCH_SECONDS
[[ "${CLONE_METHOD:-}" == stream ]] || die "the backup listener serves MariaDB's backup tool; a MySQL pod needs no backup container"
require_socat
backup=$(backup_tool)
extract=$(stream_tool)

# Streams one hot backup of the local server to stdout; run by socat per connection.
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

# Whether the listener <pid> is streaming a backup: its per-connection children.
listener_busy() {
  local children=''
  read -r children <"/proc/$1/task/$1/children" 2>/dev/null || true
  [[ -n "$children" ]]
}

# Starts the backup listener in the background; its pid goes to $listener.
start_listener() {
  # TRANSFER_BUFFER_BYTES: see receive_backup in clone.sh.
  socat -U ${TRANSFER_BUFFER_BYTES:+"-b$TRANSFER_BUFFER_BYTES"} "$(backup_listen_address)" \
    "EXEC:bash -c stream_backup" &
  listener=$!
}

# The next pod clones only from a donor whose server has its role (this container's readiness):
# the agent marks it.
log "waiting for the agent to give the server its role"
until [[ -e "$(role_taken_mark)" ]]; do sleep 1; done

BACKUP_OPTIONS=$(client_options "$BACKUP_USER" backup-password)
export BACKUP_OPTIONS backup extract SCRIPT_NAME BACKUP_END_FILE BACKUP_END_LINE
# socat runs `bash -c stream_backup` per connection: the functions travel in the
# environment. One backup at a time; further peers wait in the listen queue.
# shellcheck disable=SC2046
export -f $(compgen -A function)
# socat reads its certificate once, when it starts listening. A renewal (new files in TLS_DIR,
# which the kubelet updates in place) is taken up by a new listener started between two backups.
# The files are read before each listener starts, so a renewal however soon after is seen.
if tls_enabled; then
  log "serving backups on port $BACKUP_PORT with socat, over mutual TLS with peers of $TLS_DIR/ca.crt"
  tls_state=$(tls_files_state)
else
  log "serving backups on port $BACKUP_PORT with socat"
fi
start_listener
while tls_enabled && kill -0 "$listener" 2>/dev/null; do
  sleep "$ROLE_WATCH_SECONDS"
  state=$(tls_files_state)
  [[ "$state" != "$tls_state" ]] || continue
  tls_state=$state
  log "the certificate was renewed; restarting the backup listener once no backup is being sent"
  while listener_busy "$listener"; do sleep 1; done
  kill "$listener"
  wait "$listener" || true
  start_listener
  log "serving backups with the renewed certificate"
done
wait "$listener"
