# shellcheck shell=bash
# What restore.sh hands to restore-replay.sh on the data volume: the restored backup's name,
# GTID position and end time (one key=value a line), and the binary logs to replay. The file lives
# on a claim, so each value is checked against its grammar (untrusted.sh) when written and read.
# restore-replay.sh adds replaying=yes once it has set the GTID state: a retry then resumes.

# shellcheck source=untrusted.sh
source "$(dirname "${BASH_SOURCE[0]}")/untrusted.sh"

restore_pending_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/restore-pending"
}

restore_binlogs_dir() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/restore-binlogs"
}

# The grammar of each value of the file.
restore_pending_grammar() {
  case "$1" in
    name) printf '%s\n' "$BACKUP_NAME_RE" ;;
    gtid) if is_mariadb; then printf '%s\n' "$MARIADB_GTID_RE"; else printf '%s\n' "$MYSQL_GTID_RE"; fi ;;
    end) printf '%s\n' "${MANIFEST_GRAMMAR[endTime]}" ;;
    replaying) printf '%s\n' '^yes$' ;;
    *) die "restore_pending_grammar: unknown key $1" ;;
  esac
}

write_restore_pending() {
  local file
  file=$(restore_pending_file)
  checked "the restored backup's name" "$(restore_pending_grammar name)" "$1" >/dev/null
  checked "the restored backup's GTID" "$(restore_pending_grammar gtid)" "$2" >/dev/null
  checked "the restored backup's end time" "$(restore_pending_grammar end)" "$3" >/dev/null
  printf 'name=%s\ngtid=%s\nend=%s\n' "$1" "$2" "$3" >"$file.tmp" && mv "$file.tmp" "$file"
}

# Marks that the replay has set the GTID state: from then on a retry must not reset it.
mark_restore_replaying() {
  local file
  file=$(restore_pending_file)
  { cat "$file" && printf 'replaying=yes\n'; } >"$file.tmp" && sync "$file.tmp" && mv "$file.tmp" "$file"
}

# A value of the file, checked against its grammar; "" when absent (replaying only).
restore_pending_value() {
  local value
  value=$(sed -n "s/^$1=//p" "$(restore_pending_file)" | head -n 1)
  if [[ -z "$value" && "$1" == replaying ]]; then return 0; fi
  checked "$1 in $(restore_pending_file)" "$(restore_pending_grammar "$1")" "$value"
}
