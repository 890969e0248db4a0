# shellcheck shell=bash
# What restore.sh hands to restore-replay.sh on the data volume: the restored backup's name,
# GTID position and end time (one key=value a line), and the binary logs to replay.

restore_pending_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/restore-pending"
}

restore_binlogs_dir() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/restore-binlogs"
}

write_restore_pending() {
  local file
  file=$(restore_pending_file)
  printf 'name=%s\ngtid=%s\nend=%s\n' "$1" "$2" "$3" >"$file.tmp" && mv "$file.tmp" "$file"
}

restore_pending_value() {
  sed -n "s/^$1=//p" "$(restore_pending_file)"
}
