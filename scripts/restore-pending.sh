# shellcheck shell=bash
# What restore.sh hands to the replay on the data volume: restore_handover.py's
# restore-pending.json (read by Python only), and the binary logs to replay beside it.

# shellcheck source=untrusted.sh
source "$(dirname "${BASH_SOURCE[0]}")/untrusted.sh"

restore_binlogs_dir() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/restore-binlogs"
}

# The restored backup's name <1>, GTID state <2>, end time <3> and binary log history <4> (the
# first three checked against their grammar, so that none needs escaping; restoreTo and the
# format are the stack's own, settings.py checked them).
write_restore_pending() {
  local file="$DATA_VOLUME/restore-pending.json"
  checked "the restored backup's name" "$BACKUP_NAME_RE" "$1" >/dev/null
  checked "the restored backup's GTID" "$(if is_mariadb; then echo "$MARIADB_GTID_RE"; else echo "$MYSQL_GTID_RE"; fi)" "$2" >/dev/null
  checked "the restored backup's end time" "${MANIFEST_GRAMMAR[endTime]}" "$3" >/dev/null
  checked "the binary log history" "^(${BACKUP_NAME_RE:1:-1})?\$" "$4" >/dev/null
  printf '{"backup": "%s", "gtid": "%s", "end_time": "%s", "binlog_history": "%s", "format": "%s", "restore_to": "%s", "replaying": false}\n' \
    "$1" "${2//$'\n'/}" "$3" "$4" "$BACKUP_FORMAT" "${RESTORE_TO:-}" >"$file.tmp" && mv "$file.tmp" "$file"
}
