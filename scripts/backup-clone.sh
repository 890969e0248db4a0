# shellcheck shell=bash
# MySQL's backup stream (BACKUP_FORMAT tar): the server's CLONE plugin copies a donor into the
# Job's scratch volume (clone-plugin.sh, as for a new replica), then rclone's archiver
# (`rclone archive create`, rclone 1.72+) writes that directory to stdout as a tar, and the end
# record (backup-stream-end.sh) follows the archive, with where the copy stands as the plugin
# recorded it. A tar reader stops at the archive's end and ignores what follows. The mysql image
# has no tar, the rclone binary the Job already carries has one. A clone must land on a disk
# before it can be read: the scratch volume holds one copy of the data (backups.py sizes it).

# shellcheck source=clone-plugin.sh
source "$(dirname "${BASH_SOURCE[0]}")/clone-plugin.sh"

# Writes a backup of pod <donor> to stdout; fails, having written what it had, when any step does.
clone_backup_stream() {
  local donor=$1 clone="$SCRATCH_DIR/clone" status="$SCRATCH_DIR/clone-status"
  local version file position gtid
  require_env SCRATCH_DIR RCLONE
  rm -rf "${SCRATCH_DIR:?}"/* || { log "cannot empty the scratch volume $SCRATCH_DIR"; return 1; }
  clone_with_plugin "$donor" "$clone" "$SCRATCH_DIR/recipient" "$status" >/dev/null || return 1
  IFS=$'\t' read -r version file position gtid <"$status" && [[ -n "${gtid:-}" ]] ||
    { log "the clone of $donor does not say which GTID set it holds: $(shown "$(<"$status")")"; return 1; }
  log "the clone of $donor holds GTID set $gtid ($file at $position); archiving it"
  "$RCLONE" archive create --format tar "$clone" || { log "rclone could not archive $clone"; return 1; }
  printf "\n%s\nserver_version = %s\nbinlog_pos = filename '%s', position '%s', GTID of the last change '%s'\n" \
    "$BACKUP_END_LINE" "$version" "$file" "$position" "$gtid"
  rm -rf "$clone"
}
