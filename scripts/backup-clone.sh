# shellcheck shell=bash
# MySQL's backup stream (BACKUP_FORMAT tar): the server's CLONE plugin copies a donor into the
# Job's scratch volume (clone-plugin.sh, as for a new replica); a temporary server then opens the
# copy, which completes it (the plugin's recovery runs at a clone's first start) and shows the
# GTID set it holds; then rclone's archiver (`rclone archive create`, rclone 1.72+) writes the
# directory to stdout as a tar, and the end record (backup-stream-end.sh) follows the archive. A
# tar reader stops at the archive's end and ignores what follows. The mysql image has no tar; the
# rclone binary the Job already carries has one. A clone must land on a disk before it can be
# read: the scratch volume holds one copy of the data (backups.py sizes it).

# shellcheck source=clone-plugin.sh
source "$(dirname "${BASH_SOURCE[0]}")/clone-plugin.sh"

# Writes a backup of pod <donor> to stdout; fails, having written what it had, when any step does.
clone_backup_stream() {
  local donor=$1 clone="$SCRATCH_DIR/clone" version gtid
  require_env SCRATCH_DIR RCLONE
  rm -rf "${SCRATCH_DIR:?}"/* || { log "cannot empty the scratch volume $SCRATCH_DIR"; return 1; }
  clone_with_plugin "$donor" "$clone" "$SCRATCH_DIR/recipient" >/dev/null || return 1
  # Without the grant tables: the copy's accounts and passwords are the cluster's, and this
  # server listens on its socket in the scratch volume alone.
  start_temporary_server "$SCRATCH_DIR/opened" "$clone" --skip-grant-tables || { stop_recipient; return 1; }
  IFS=$'\t' read -r version gtid < <(recipient_sql root --batch --skip-column-names -e \
    "SELECT @@version, REPLACE(@@GLOBAL.gtid_executed, '\\n', '')") || true
  stop_recipient || { log "the temporary server on the clone did not shut down cleanly"; return 1; }
  [[ -n "${gtid:-}" ]] || { log "the clone of $donor does not say which GTID set it holds"; return 1; }
  # Its own server UUID is made anew by each server that starts on a copy.
  rm -rf "$clone/auto.cnf" "$SCRATCH_DIR/opened"
  log "the clone of $donor holds GTID set $gtid; archiving it"
  "$RCLONE" archive create --format tar "$clone" || { log "rclone could not archive $clone"; return 1; }
  printf "\n%s\nserver_version = %s\nbinlog_pos = GTID of the last change '%s'\n" \
    "$BACKUP_END_LINE" "$version" "$gtid"
  rm -rf "$clone"
}
