#!/usr/bin/env bash
# restore: gives an empty pod 0 the data of the backup the restore plan chose and checked
# (mysql_cluster_agent/restore_plan.py, which leaves one file a value in PLAN_DIR; none when
# there is nothing to restore). Streams the backup through the backup key into a staging
# directory while checking its sha256 against the manifest (a block that fails authentication
# stops the stream), checks that the stream is whole, prepares it (MariaDB; a MySQL clone needs no
# preparing) and only then renames it into place. No server has run on the data until
# restore-replay has checked the target and replayed the logs.
set -euo pipefail
SCRIPT_NAME=restore
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-target.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-target.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"

require_env DATA_VOLUME DATA_SUBDIR PLAN_DIR
if [[ ! -f "$PLAN_DIR/object" ]]; then
  log "the restore plan found nothing to restore"
  exit 0
fi
name=$(<"$PLAN_DIR/name") object=$(<"$PLAN_DIR/object") expected=$(<"$PLAN_DIR/sha256") format=$(<"$PLAN_DIR/format")
datadir="$DATA_VOLUME/$DATA_SUBDIR"
staging="$DATA_VOLUME/restore-staging"
if [[ "$format" == xbstream ]]; then
  backup=$(backup_tool)
  extract=$(stream_tool)
fi
if ! { rm -rf "$staging" && mkdir -p "$staging"; }; then die "cannot create $staging"; fi
log "streaming backup $name from $object"

# Stops the restore when rclone's error (in file <1>) says a block failed authentication.
refuse_unauthenticated() {
  if grep -q -e authenticate -e 'bad magic' -e 'too short' "$1"; then
    rm -rf "$staging"
    die "backup $name failed authentication with this cluster's backup key (backupKey): it was altered in the bucket or encrypted with another key; nothing of it was used. Choose another backup. rclone said: $(shown "$(tail -n 1 "$1")")"
  fi
}

# MariaDB: an xbstream, extracted as it arrives while a FIFO feeds its bytes to sha256sum.
receive_xbstream() {
  rm -f "$staging.fifo"
  mkfifo "$staging.fifo" || die "cannot create $staging.fifo"
  sha256sum <"$staging.fifo" >"$staging.sha256" &
  local sha_pid=$!
  # A block that fails authentication stops rclone: the pipeline fails and the staging
  # directory, which holds what came before it, is never used.
  if ! target_rclone cat "$object" 2>"$staging.rclone" | tee "$staging.fifo" |
    "$extract" -x -C "$staging"; then
    statuses="${PIPESTATUS[*]}"
    refuse_unauthenticated "$staging.rclone"
    die "the download or extraction of $object failed (exit statuses: $statuses; rclone said: $(shown "$(tail -n 1 "$staging.rclone")")); the pod retries"
  fi
  wait "$sha_pid" || die "could not compute the checksum of backup $name"
  rm -f "$staging.fifo"
  cut -d' ' -f1 <"$staging.sha256"
}

# MySQL: a tar, which rclone's archiver extracts from the target itself (it cannot read a pipe,
# and the mysql image has no tar): the object is read twice, for its checksum first, so that no
# disk holds it twice. Every read is authenticated block by block.
receive_tar() {
  local sha256
  sha256=$(target_rclone hashsum sha256 --download "$object" 2>"$staging.rclone") || {
    refuse_unauthenticated "$staging.rclone"
    die "the download of $object failed (rclone said: $(shown "$(tail -n 1 "$staging.rclone")")); the pod retries"
  }
  [[ "${sha256%% *}" == "$expected" ]] || { printf '%s\n' "${sha256%% *}"; return 0; }
  target_rclone archive extract "$object" "$staging" 2>"$staging.rclone" || {
    refuse_unauthenticated "$staging.rclone"
    die "the extraction of $object failed (rclone said: $(shown "$(tail -n 1 "$staging.rclone")")); the pod retries"
  }
  printf '%s\n' "${sha256%% *}"
}

actual=$(if [[ "$format" == tar ]]; then receive_tar; else receive_xbstream; fi)
if [[ "$actual" != "$expected" ]]; then
  rm -rf "$staging"
  die "backup $name is damaged: its sha256 is $actual, the manifest says $expected; choose another backup"
fi
if [[ "$format" == tar ]]; then
  # A clone is consistent as copied; its GTID set is the one the plugin recorded, which the
  # manifest carries from the stream's end record.
  [[ -f "$staging/mysql.ibd" && -d "$staging/mysql" ]] ||
    die "backup $name lacks the data dictionary (mysql.ibd) or the mysql schema although its checksum matches; choose another backup"
else
  [[ -f "$staging/$BACKUP_END_FILE" ]] ||
    die "backup $name lacks the end of its stream although its checksum matches; choose another backup"
  log "checksum verified; preparing the backup with $backup"
  "$backup" --prepare --target-dir="$staging" || die "$backup --prepare failed on backup $name"
fi
# The donor's server UUID must not be inherited; the end record is no data.
rm -f "$staging/auto.cnf" "$staging/$BACKUP_END_FILE"
# The replay's hand-over (restore-pending.json) was written by the restore plan before this
# started; a crash before the move leaves no data directory, so the restore repeats.
if ! { sync && mv "$staging" "$datadir" && rm -f "$staging.sha256" "$staging.rclone" && sync; }; then
  die "cannot move the prepared backup into $datadir"
fi
log "backup $name restored at GTID $(<"$PLAN_DIR/gtid")${RESTORE_TO:+; binary logs to replay up to $RESTORE_TO}"
