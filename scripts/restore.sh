#!/usr/bin/env bash
# restore: gives an empty MariaDB pod 0 the data of the backup the restore plan chose and checked
# (mysql_cluster_agent/restore_plan.py, which leaves one file a value in PLAN_DIR; none when
# there is nothing to restore). Streams the xbstream through the backup key into a staging
# directory while checking its sha256 against the manifest (a block that fails authentication
# stops the stream), checks that the stream is whole, prepares it and only then renames it into
# place. No server has run on the data until restore-replay has checked the target and replayed
# the logs. A MySQL backup (a clone's tar) is the agent's: mysql_cluster_agent/restore_tar.py.
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
[[ "$format" == xbstream ]] || die "the restore plan names a $(shown "$format") backup; this step restores xbstream only"
datadir="$DATA_VOLUME/$DATA_SUBDIR"
staging="$DATA_VOLUME/restore-staging"
backup=$(backup_tool)
extract=$(stream_tool)
if ! { rm -rf "$staging" && mkdir -p "$staging"; }; then die "cannot create $staging"; fi
log "streaming backup $name from $object"

# Extracted as it arrives while a FIFO feeds its bytes to sha256sum.
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
    # rclone's crypt says so when a block fails authentication (rclone_target.py).
    if grep -q -e authenticate -e 'bad magic' -e 'too short' "$staging.rclone"; then
      rm -rf "$staging"
      die "backup $name failed authentication with this cluster's backup key (backupKey): it was altered in the bucket or encrypted with another key; nothing of it was used. Choose another backup. rclone said: $(shown "$(tail -n 1 "$staging.rclone")")"
    fi
    die "the download or extraction of $object failed (exit statuses: $statuses; rclone said: $(shown "$(tail -n 1 "$staging.rclone")")); the pod retries"
  fi
  wait "$sha_pid" || die "could not compute the checksum of backup $name"
  rm -f "$staging.fifo"
  cut -d' ' -f1 <"$staging.sha256"
}

actual=$(receive_xbstream)
if [[ "$actual" != "$expected" ]]; then
  rm -rf "$staging"
  die "backup $name is damaged: its sha256 is $actual, the manifest says $expected; choose another backup"
fi
[[ -f "$staging/$BACKUP_END_FILE" ]] ||
  die "backup $name lacks the end of its stream although its checksum matches; choose another backup"
log "checksum verified; preparing the backup with $backup"
"$backup" --prepare --target-dir="$staging" || die "$backup --prepare failed on backup $name"
# The donor's server UUID must not be inherited; the end record is no data.
rm -f "$staging/auto.cnf" "$staging/$BACKUP_END_FILE"
# The replay's hand-over (restore-pending.json) was written by the restore plan before this
# started; a crash before the move leaves no data directory, so the restore repeats.
if ! { sync && mv "$staging" "$datadir" && rm -f "$staging.sha256" "$staging.rclone" && sync; }; then
  die "cannot move the prepared backup into $datadir"
fi
log "backup $name restored at GTID $(<"$PLAN_DIR/gtid")${RESTORE_TO:+; binary logs to replay up to $RESTORE_TO}"
