#!/usr/bin/env bash
# clone-mysql: gives a new MariaDB replica the data of a healthy peer, the donors the agent chose
# (the `donor` init container, or the agent for a rebuild: mysql_cluster_agent/donor.py). The copy
# is a streamed backup landing in a staging directory on the data volume, checked and prepared;
# only then is it moved into place, system schema last, so a partial copy never becomes a data
# directory; a failed attempt is discarded and retried. The mysql container runs it too, to
# rebuild a server that has diverged (server.sh). MySQL has no such step: the pod's agent clones
# into the running server with the CLONE plugin (mysql_cluster_agent/mysql_clone.py).
set -euo pipefail
SCRIPT_NAME=clone-mysql
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"

require_env DATA_VOLUME DATA_SUBDIR BACKUP_PORT CLONE_ATTEMPTS DONOR_DIR CLONE_METHOD
if [[ "$CLONE_METHOD" != stream ]]; then
  log "this server clones in place: the pod's agent copies a donor into the running server"
  exit 0
fi
datadir="$DATA_VOLUME/$DATA_SUBDIR"
staging="$DATA_VOLUME/clone-staging"

# A data directory only ever gets its system schema last, so one with a system schema is
# complete. An empty one may have been made by the kubelet for a subPath mount, or by a rebuild.
if [[ -d "$datadir/mysql" ]]; then
  log "$datadir already holds a database; no clone needed"
  exit 0
fi
shopt -s dotglob nullglob
if [[ -d "$datadir" ]] && entries=("$datadir"/*) && ((${#entries[@]} > 0)); then
  die "$datadir holds files but no database; move them away to let this pod clone again"
fi

if [[ -e "$DONOR_DIR/new-database" ]]; then
  log "no other pod answers: pod 0 starts a new database"
  exit 0
fi
[[ -f "$DONOR_DIR/donors" ]] || die "$DONOR_DIR/donors is missing: no donor was chosen (see the donor container's log)"
donors=$(<"$DONOR_DIR/donors")
source_host=''
require_socat
backup=$(backup_tool)
extract=$(stream_tool)
pending=$(pending_coordinates_file)

# The backup tool writes its checkpoints and info files after all data, so their presence shows
# the stream was not cut short (a donor that dies mid-stream just closes the connection).
stream_complete() {
  local prefix
  for prefix in mariadb_backup xtrabackup; do
    [[ -f "$staging/${prefix}_checkpoints" && -f "$staging/${prefix}_info" ]] && return 0
  done
  return 1
}

prepared() {
  grep -Eq '^backup_type = (full-prepared|log-applied)$' "$staging"/*_checkpoints
}

move_all_but_mysql() {
  local from=$1 to=$2 entry
  for entry in "$from"/*; do
    [[ "$entry" == "$from/mysql" ]] || mv "$entry" "$to/" || return 1
  done
}

# Streams a backup of the donor into the staging directory and prepares it; its info
# files say where it stands (the agent reads them: BACKUP_INFO_STATE).
receive_backup() {
  mkdir -p "$staging" || { log "cannot create $staging"; return 1; }
  log "streaming a backup from $source_host:$BACKUP_PORT with socat$(tls_enabled && echo ' over mutual TLS')"
  # socat moves TRANSFER_BUFFER_BYTES, when set, per read and write instead of its default 8 KiB:
  # 1 MiB made clones about a third faster (bench/clone_tuning.py).
  socat -u ${TRANSFER_BUFFER_BYTES:+"-b$TRANSFER_BUFFER_BYTES"} "$(backup_connect_address "$source_host")" STDOUT |
    "$extract" -x -C "$staging" ||
    { log "the transfer failed (exit statuses: ${PIPESTATUS[*]})"; return 1; }
  stream_complete || { log "the stream ended before the backup was complete"; return 1; }
  log "preparing the backup with $backup"
  "$backup" --prepare --target-dir="$staging" ||
    { log "$backup --prepare failed"; return 1; }
  prepared || { log "the backup is not marked as prepared after --prepare"; return 1; }
}

# Runs in a condition, where errexit is off: every step checks its own status. Attempt <n> copies
# the donors in turn, so that one that failed is tried again only after all others.
clone_once() {
  source_host=$(<"$DONOR_DIR/donor-$((($1 - 1) % donors + 1))") || { log "cannot read the donor"; return 1; }
  rm -rf "$staging" || { log "cannot remove $staging"; return 1; }
  receive_backup || return 1
  # The donor's server UUID must not be inherited; the stream's end record is no data.
  rm -f "$staging/auto.cnf" "$staging/$BACKUP_END_FILE"
  # Coordinates first (with the info files they point to): a crash before the system schema is in
  # place leaves no database, so the clone repeats. The directory is filled, not replaced:
  # containers may mount it (subPath).
  if ! { printf '%s\n' "$BACKUP_INFO_STATE" >"$pending.tmp" && mv "$pending.tmp" "$pending" &&
    rm -f "$pending.applied" && sync && mkdir -p "$datadir" && move_all_but_mysql "$staging" "$datadir" &&
    sync && mv "$staging/mysql" "$datadir/mysql" && rmdir "$staging" && sync; }; then
    log "cannot move the copy into $datadir"
    return 1
  fi
  log "clone complete from $source_host; the agent starts replication where the copy stands"
}

attempt=1
until clone_once "$attempt"; do
  ((attempt < CLONE_ATTEMPTS)) ||
    die "giving up after $attempt attempts to clone from $source_host; the pod will restart and try again"
  delay=$((2 ** attempt < 60 ? 2 ** attempt : 60))
  log "attempt $attempt failed; retrying in ${delay}s"
  sleep "$delay"
  attempt=$((attempt + 1))
done
