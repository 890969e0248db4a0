# shellcheck shell=bash
# Reads where a physical backup stands in the primary's history, from the files the backup tool
# writes next to the data, and prints it as the GTID set (MySQL) or GTID position (MariaDB) the
# new replica starts from. Every server of the cluster runs with GTIDs, so a backup without one
# was taken from a server that is not part of it: that is an error, not a fallback to positions.
#
# The files (named xtrabackup_*, or mariadb_backup_* since MariaDB 11.1):
#   *_slave_info   backup of a replica: in GTID form (SET GLOBAL gtid_purged / gtid_slave_pos =
#                  '...'), with or without ';'; position form (CHANGE ... LOG_FILE='f',
#                  ..._LOG_POS=n) only from a replica that does not use GTIDs.
#   *_binlog_info  file<TAB>pos, plus the GTID column when GTIDs are on.
# A MariaDB replica's gtid_slave_pos is the canonical position, so replica info takes precedence;
# on MySQL both files carry the donor's gtid_executed. The files come from a backup stream, so
# the GTID read must match the flavor's grammar (untrusted.sh) before anything uses it.

# shellcheck source=untrusted.sh
source "$(dirname "${BASH_SOURCE[0]}")/untrusted.sh"

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
  shopt -s nocasematch
  [[ "$text" =~ $gtid_re && -n "${BASH_REMATCH[2]}" ]] ||
    die "$1 has no GTID position: the donor replicates without GTIDs, so it is not a pod of this cluster: $(shown "$text")"
  shopt -u nocasematch
  checked_coordinates "$1" "${BASH_REMATCH[2]}"
}

# Prints the GTID read from info file <1> when it is one of this flavor's; stops otherwise.
checked_coordinates() {
  local gtid=${2//[[:space:]]/}
  valid_gtid "$gtid" ||
    die "$1 holds no valid $DB_FLAVOR GTID ('$(shown "$2")'): the backup was altered or is not of this cluster; refusing it"
  printf '%s\n' "$gtid"
}

coordinates_from_binlog_info() {
  local file gtid
  IFS=$'\t ' read -r file _ gtid <"$1" || [[ -n "${file:-}" ]] || die "$1 is unreadable"
  [[ -n "${gtid:-}" ]] ||
    die "$1 has no GTID column: the donor runs without GTIDs, so it is not a pod of this cluster: $(shown "$(<"$1")")"
  checked_coordinates "$1" "$gtid"
}

backup_coordinates() {
  local dir=$1 info
  if info=$(backup_info_file "$dir" slave_info); then
    coordinates_from_replica_info "$info"
  elif info=$(backup_info_file "$dir" binlog_info); then
    coordinates_from_binlog_info "$info"
  fi
}
