#!/usr/bin/env bash
# binlog-archive sidecar: on the primary, copies every closed binary log to the backup target,
# and closes the current one (FLUSH BINARY LOGS) once it has been written to for
# ARCHIVE_INTERVAL_SECONDS, so that what a point-in-time restore can miss stays bounded. On a
# replica it waits: the primary's ordinal is PRIMARY_ORDINAL (0 unless a switchover moved it).
# The logs of one data directory form one history, binlogs/<history>/: a restored or new primary
# starts its own, so its mysql-bin.000001 never overwrites an older one.
set -euo pipefail
SCRIPT_NAME=binlog-archive
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-target.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-target.sh"

require_env DATA_VOLUME DATA_SUBDIR BACKUP_REMOTE BACKUP_USER ARCHIVE_INTERVAL_SECONDS
ordinal=$(pod_ordinal)
primary=${PRIMARY_ORDINAL:-0}
# How often closed logs are looked for (a log also closes when it reaches max_binlog_size).
POLL_SECONDS=$((ARCHIVE_INTERVAL_SECONDS < 10 ? ARCHIVE_INTERVAL_SECONDS : 10))

if ((ordinal != primary)); then
  log "pod $ordinal is a replica; the primary (pod $primary) archives the binary logs"
  while :; do sleep 3600 & wait $!; done
fi

options=$(client_options "$BACKUP_USER" backup-password)
# The primary's backup sidecar creates the backup user once the server is up: until then the
# server refuses it, for at most as long as a server may take to start.
deadline=$((SECONDS + 900))
until error=$(local_sql "$options" -e 'SELECT 1' 2>&1 >/dev/null); do
  ((SECONDS < deadline)) || die "the local server did not accept the backup user within 900s: $error"
  sleep 2
done
datadir="$DATA_VOLUME/$DATA_SUBDIR"
history_file="$DATA_VOLUME/binlog-history"
archived="$DATA_VOLUME/binlog-archived"

if [[ ! -s "$history_file" ]]; then
  if ! { date -u +%Y%m%dT%H%M%SZ >"$history_file.tmp" && mv "$history_file.tmp" "$history_file" &&
    : >"$archived"; }; then
    die "cannot record the binary log history in $history_file"
  fi
fi
history=$(<"$history_file")
archive="$BACKUP_REMOTE/binlogs/$history"

position_sql() {
  if is_mariadb; then echo 'SELECT @@gtid_binlog_pos'; else echo 'SELECT @@GLOBAL.gtid_executed'; fi
}

position() {
  local_sql "$options" --batch --skip-column-names -e "$(position_sql)" | tr -d '\n'
}

# Every log in the index but the newest, which the server still writes.
closed_logs() {
  [[ -r "$datadir/mysql-bin.index" ]] || die "$datadir/mysql-bin.index is missing: is log-bin=mysql-bin set?"
  sed 's|^.*/||' "$datadir/mysql-bin.index" | head -n -1
}

archive_closed_logs() {
  local file
  for file in $(closed_logs); do
    grep -qx -F "$file" "$archived" && continue
    # Purged by the server before it could be copied (the target was unreachable for longer
    # than binlogRetentionDays): a gap that a restore across it will report.
    [[ -f "$datadir/$file" ]] || { log "WARNING: $file was purged before it was archived"; continue; }
    target_rclone copyto "$datadir/$file" "$archive/$file" ||
      { log "could not copy $file to $archive; retrying in ${POLL_SECONDS}s"; return 0; }
    printf '%s\n' "$file" >>"$archived"
    log "archived $file"
  done
}

if [[ -z "$(target_list "$archive/started")" ]]; then
  position | target_rclone rcat "$archive/started" ||
    die "cannot write to the backup target at $archive; check the target settings and its Secret"
fi
log "archiving closed binary logs to $archive; rotating at least every ${ARCHIVE_INTERVAL_SECONDS}s while written to"
rotated_at=$SECONDS
rotated_position=$(position)
while :; do
  if ((SECONDS - rotated_at >= ARCHIVE_INTERVAL_SECONDS)); then
    current=$(position)
    if [[ "$current" != "$rotated_position" ]]; then
      local_sql "$options" -e 'FLUSH BINARY LOGS' || die "FLUSH BINARY LOGS failed"
      rotated_position=$current
    fi
    rotated_at=$SECONDS
  fi
  archive_closed_logs
  sleep "$POLL_SECONDS" & wait $!
done
