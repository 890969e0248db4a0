# shellcheck shell=bash
# Reads where a physical backup stands in the primary's history, from the files the backup tool
# writes next to the data, and prints it in one normalized line:
#   gtid<TAB><gtid set>                  start from a GTID position
#   position<TAB><binlog file><TAB><pos>  start from a binary log position
# Prints nothing when the backup carries neither (e.g. it was taken from a server without binlog).
#
# The files (named xtrabackup_*, or mariadb_backup_* since MariaDB 11.1):
#   *_slave_info   backup of a replica: the statement that points at the primary, in position
#                  form (CHANGE ... LOG_FILE='f', ..._LOG_POS=n) or GTID form (SET GLOBAL
#                  gtid_purged / gtid_slave_pos = '...'), with or without ';', possibly empty.
#   *_binlog_info  backup of the primary: file<TAB>pos, plus a GTID column when GTIDs are on.
# A replica's own binlog_info describes its own binary log, so replica info takes precedence.

backup_info_file() {
  local dir=$1 kind=$2 prefix
  for prefix in mariadb_backup xtrabackup; do
    # An info file with nothing but blanks and ';' says nothing (tutorial bug #13054).
    if [[ -f "$dir/${prefix}_$kind" ]] && grep -q '[^[:space:];]' "$dir/${prefix}_$kind"; then
      printf '%s\n' "$dir/${prefix}_$kind"
      return 0
    fi
  done
  return 1
}

coordinates_from_replica_info() {
  local text
  text=$(<"$1")
  local gtid_re="(gtid_purged|gtid_slave_pos)[[:space:]]*=[[:space:]]*'([^']*)'"
  local file_re="_LOG_FILE[[:space:]]*=[[:space:]]*'([^']+)'"
  local pos_re="_LOG_POS[[:space:]]*=[[:space:]]*([0-9]+)"
  local file
  shopt -s nocasematch
  if [[ "$text" =~ $gtid_re ]]; then
    printf 'gtid\t%s\n' "${BASH_REMATCH[2]}"
  elif [[ "$text" =~ $file_re ]]; then
    file=${BASH_REMATCH[1]}
    [[ "$text" =~ $pos_re ]] || die "$1 names a binlog file but no position: $text"
    printf 'position\t%s\t%s\n' "$file" "${BASH_REMATCH[1]}"
  else
    die "$1 has neither a GTID nor a binlog position: $text"
  fi
  shopt -u nocasematch
}

coordinates_from_binlog_info() {
  local file pos gtid
  IFS=$'\t ' read -r file pos gtid <"$1" || [[ -n "${file:-}" ]] || die "$1 is unreadable"
  [[ -n "$file" && "$pos" =~ ^[0-9]+$ ]] || die "$1 is not '<binlog file> <position>': $(<"$1")"
  # MariaDB replicas follow the primary by GTID (MASTER_USE_GTID=slave_pos); MySQL replicas
  # follow the binary log position, which is valid whether or not GTIDs are on.
  if is_mariadb && [[ -n "${gtid:-}" ]]; then
    printf 'gtid\t%s\n' "$gtid"
  else
    printf 'position\t%s\t%s\n' "$file" "$pos"
  fi
}

backup_coordinates() {
  local dir=$1 info
  if info=$(backup_info_file "$dir" slave_info); then
    coordinates_from_replica_info "$info"
  elif info=$(backup_info_file "$dir" binlog_info); then
    coordinates_from_binlog_info "$info"
  fi
}
