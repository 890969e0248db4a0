#!/usr/bin/env bash
# binlog-archive sidecar: while its server is the primary (writable; role.sh makes one so), copies
# every closed binary log to the backup target, and closes the current one (FLUSH BINARY LOGS)
# once it has been written to for ARCHIVE_INTERVAL_SECONDS, so that what a point-in-time restore
# can miss stays bounded. It looks at the role every poll: when the primary moves, archiving moves
# with it. The logs archived by one primary form one history, binlogs/<history>/, named by when it
# began; the newest history is the one being written, which backups record (backup-job.sh).
# After each round that leaves every closed log archived, it records the recovery point (every
# transaction committed before that Unix time is in the archive) in RECOVERY_POINT_FILE, which
# the agent serves as a metric (mysql_cluster_agent/metrics.py); a pod not archiving has none.
set -euo pipefail
SCRIPT_NAME=binlog-archive
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-target.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-target.sh"

require_env DATA_VOLUME DATA_SUBDIR BACKUP_REMOTE BACKUP_USER ARCHIVE_INTERVAL_SECONDS RECOVERY_POINT_FILE
# How often closed logs are looked for (a log also closes when it reaches max_binlog_size).
POLL_SECONDS=$((ARCHIVE_INTERVAL_SECONDS < 10 ? ARCHIVE_INTERVAL_SECONDS : 10))

options=$(client_options "$BACKUP_USER" backup-password)
# The primary's backup sidecar creates the backup user once the server is up (a replica gets it by
# replication): until then the server refuses it, for at most as long as a server may take to start.
deadline=$((SECONDS + 900))
next_report=$((SECONDS + 60))
until error=$(local_sql "$options" -e 'SELECT 1' 2>&1 >/dev/null); do
  ((SECONDS < deadline)) || die "the local server did not accept the backup user within 900s: $error"
  if ((SECONDS >= next_report)); then
    log "still waiting for the local server to accept the backup user: $error"
    next_report=$((SECONDS + 60))
  fi
  sleep 2
done
datadir="$DATA_VOLUME/$DATA_SUBDIR"
history_file="$DATA_VOLUME/binlog-history"
archived="$DATA_VOLUME/binlog-archived"

position_sql() {
  if is_mariadb; then echo 'SELECT @@gtid_binlog_pos'; else echo 'SELECT @@GLOBAL.gtid_executed'; fi
}

position() {
  local_sql "$options" --batch --skip-column-names -e "$(position_sql)" | tr -d '\n'
}

# Every log in the index but the newest, which the server still writes; the index is on the
# claim, so a name not of the binary log grammar stops the archive.
closed_logs() {
  [[ -r "$datadir/mysql-bin.index" ]] || die "$datadir/mysql-bin.index is missing: is log-bin=mysql-bin set?"
  sed 's|^.*/||' "$datadir/mysql-bin.index" | head -n -1
}

archive_closed_logs() {
  local file logs
  pending=''
  mapfile -t logs < <(closed_logs)
  for file in "${logs[@]}"; do
    [[ "$file" =~ $BINLOG_FILE_RE ]] ||
      die "$datadir/mysql-bin.index names '$(shown "$file")', not a binary log of this server; refusing to archive it"
    grep -qx -F "$file" "$archived" && continue
    # Purged by the server before it could be copied (the target was unreachable for longer
    # than binlogRetentionDays): a gap that a restore across it will report.
    [[ -f "$datadir/$file" ]] || { log "WARNING: $file was purged before it was archived"; continue; }
    target_rclone copyto "$datadir/$file" "$archive/$file" ||
      { log "could not copy $file to $archive; retrying in ${POLL_SECONDS}s"; pending=1; return 0; }
    printf '%s\n' "$file" >>"$archived"
    log "archived $file"
  done
}

# Becoming the archiver: a restarted primary continues its history while it is the newest on the
# target; a new, restored or returning primary starts one, so that the newest is always written.
# Its first log may hold transactions of the previous history: a replay skips those by GTID.
begin_history() {
  local history=''
  if [[ -s "$history_file" ]]; then
    history=$(checked "the binary log history in $history_file" "$BACKUP_NAME_RE" "$(<"$history_file")")
  fi
  if [[ -z "$history" || "$history" != "$(newest_history)" ]]; then
    history=$(date -u +%Y%m%dT%H%M%SZ)
    if ! { printf '%s\n' "$history" >"$history_file.tmp" && mv "$history_file.tmp" "$history_file" &&
      : >"$archived"; }; then
      die "cannot record the binary log history in $history_file"
    fi
  fi
  archive="$BACKUP_REMOTE/binlogs/$history"
  if [[ -z "$(target_list "$archive/started")" ]]; then
    position | target_rclone rcat "$archive/started" ||
      die "cannot write to the backup target at $archive; check the target settings and its Secret"
  fi
  log "this server is the primary: archiving closed binary logs to $archive; rotating at least every ${ARCHIVE_INTERVAL_SECONDS}s while written to"
  rotated_at=$SECONDS
  rotated_position=$(position)
  # The open log may hold transactions no one archived yet (a restarted primary's): until the
  # first rotation, there is no recovery point to claim.
  closed_before=''
}

# Written whole (by rename), once per new value: the agent reads it at every scrape.
recorded=''
record_recovery_point() {
  [[ "$1" != "$recorded" ]] || return 0
  if printf '%s\n' "$1" >"$RECOVERY_POINT_FILE.tmp" && mv "$RECOVERY_POINT_FILE.tmp" "$RECOVERY_POINT_FILE"; then
    recorded=$1
  else
    log "WARNING: cannot record the recovery point in $RECOVERY_POINT_FILE; its metric stays behind"
  fi
}

archiving=''
log "archiving the binary logs whenever this server is the primary"
while :; do
  if ! read_only=$(local_sql "$options" --batch --skip-column-names -e 'SELECT @@GLOBAL.read_only'); then
    log "cannot ask the local server whether it is the primary; asking again in ${POLL_SECONDS}s"
  elif [[ "$read_only" != 0 ]]; then
    [[ -z "$archiving" ]] || log "this server is no longer the primary; the primary archives from now on"
    archiving=''
    rm -f "$RECOVERY_POINT_FILE"
    recorded=''
  else
    [[ -n "$archiving" ]] || { begin_history; archiving=1; }
    if ((SECONDS - rotated_at >= ARCHIVE_INTERVAL_SECONDS)); then
      # What was committed before this time is in the position read next, and so in a closed
      # log once that position has been rotated away (now, or at the rotation it equals).
      checked_at=$(date +%s)
      current=$(position)
      if [[ "$current" != "$rotated_position" || -z "$closed_before" ]]; then
        local_sql "$options" -e 'FLUSH BINARY LOGS' || die "FLUSH BINARY LOGS failed"
        rotated_position=$current
      fi
      rotated_at=$SECONDS
      closed_before=$checked_at
    fi
    archive_closed_logs
    [[ -n "$pending" || -z "$closed_before" ]] || record_recovery_point "$closed_before"
  fi
  sleep "$POLL_SECONDS" & wait $!
done
