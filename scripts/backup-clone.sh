#!/usr/bin/env bash
# backup job on MySQL (Server.backup_job_script): backup-job.sh, with its stream made by the
# server's CLONE plugin (BACKUP_FORMAT tar). The plugin copies a donor into the Job's scratch
# volume (clone-plugin.sh, as for a new replica); a temporary server then opens the copy, which
# completes it (the plugin's recovery runs at a clone's first start) and writes down the GTID set
# it holds; then rclone's archiver (`rclone archive create`, rclone 1.72+) writes the directory to
# stdout as a tar, and the end record (backup-stream-end.sh) follows the archive: a tar reader
# stops at the archive's end and ignores what follows. The mysql image has no tar; the rclone
# binary the Job already carries has one. A clone must land on a disk before it can be read: the
# scratch volume holds one copy of the data (backups.py sizes it). MariaDB's Job runs
# backup-job.sh alone and never holds the backup user's password, which the clone logs in with.
set -euo pipefail

# shellcheck source=clone-plugin.sh
source "$(dirname "${BASH_SOURCE[0]}")/clone-plugin.sh"

# Writes a backup of pod <donor> to stdout; fails, having written what it had, when any step does.
clone_backup_stream() {
  local donor=$1 clone="$SCRATCH_DIR/clone" opened="$SCRATCH_DIR/opened" version gtid
  require_env SCRATCH_DIR RCLONE
  rm -rf "${SCRATCH_DIR:?}"/* || { log "cannot empty the scratch volume $SCRATCH_DIR"; return 1; }
  clone_with_plugin "$donor" "$clone" "$SCRATCH_DIR/recipient" >/dev/null || return 1
  # The copy's accounts are the cluster's, whose root password this Job does not hold: the server
  # writes what it holds from its init file, which needs no login, into the scratch volume.
  if ! { mkdir -p "$opened/out" && printf '%s\n' \
    "SELECT @@version, REPLACE(@@GLOBAL.gtid_executed, '\\n', '') INTO OUTFILE '$opened/out/position';" \
    >"$opened/init.sql"; }; then
    log "cannot write $opened/init.sql"
    return 1
  fi
  launch_temporary_server "$opened" "$clone" "--secure-file-priv=$opened/out" "--init-file=$opened/init.sql" ||
    return 1
  local deadline=$((SECONDS + 300))
  until [[ -s "$opened/out/position" ]]; do
    if ! kill -0 "$recipient_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      log "the server did not open the clone of $donor: $(tail -n 5 "$recipient_log" 2>/dev/null)"
      stop_recipient
      return 1
    fi
    sleep 1
  done
  stop_recipient || { log "the temporary server on the clone did not shut down cleanly"; return 1; }
  IFS=$'\t' read -r version gtid <"$opened/out/position" || true
  [[ -n "${gtid:-}" ]] || { log "the clone of $donor does not say which GTID set it holds"; return 1; }
  # Its own server UUID is made anew by each server that starts on a copy.
  rm -rf "$clone/auto.cnf" "$opened"
  log "the clone of $donor holds GTID set $gtid; archiving it"
  "$RCLONE" archive create --format tar "$clone" || { log "rclone could not archive $clone"; return 1; }
  printf "\n%s\nserver_version = %s\nbinlog_pos = GTID of the last change '%s'\n" \
    "$BACKUP_END_LINE" "$version" "$gtid"
  rm -rf "$clone"
}

# shellcheck source=backup-job.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-job.sh"
