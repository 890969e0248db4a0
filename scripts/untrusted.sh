# shellcheck shell=bash
# What the scripts read from a bucket or a claim (a backup's info files, the restore's hand-over
# file, object names, binary log indexes) is untrusted input: a bucket writer must not be
# able to run a command in a pod. Every such value passes one of the strict grammars below before
# it is stored or used, so nothing from outside reaches arithmetic, SQL text, a path or an
# unquoted expansion unchecked. Numbers have no leading zero (bash reads 010 as octal) and at most
# 18 digits (bash arithmetic is signed 64-bit).
# shellcheck disable=SC2034 # used by the scripts that source this file

_NUMBER='(0|[1-9][0-9]{0,17})'
_UUID='[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
# MariaDB: domain-server-sequence, one per domain or server, comma-separated.
_MARIADB_GTID="$_NUMBER-$_NUMBER-$_NUMBER"
MARIADB_GTID_RE="^$_MARIADB_GTID(,$_MARIADB_GTID)*$"
# MySQL: uuid followed by intervals (and, from 8.3, tags), sets comma-separated.
_MYSQL_GTID="$_UUID(:([A-Za-z_][A-Za-z0-9_]{0,31}|$_NUMBER(-$_NUMBER)?))+"
MYSQL_GTID_RE="^$_MYSQL_GTID(,$_MYSQL_GTID)*$"
# Backup names and binary log histories are their start time in UTC (20260101T023000Z).
BACKUP_NAME_RE='^[0-9]{8}T[0-9]{6}Z$'
BINLOG_FILE_RE='^mysql-bin\.[0-9]{6,10}$'
_UTC_TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
# The manifests' grammar is mysql_cluster_agent/backup_manifest.py's; restore-replay.sh still
# reads a backup's end time, which the restore plan checked, from restore-pending.
declare -gA MANIFEST_GRAMMAR=([endTime]=$_UTC_TIME_RE)

# A value as it may appear in a log line: printable characters only, at most 120 of them.
shown() {
  local text=${1//[^[:print:]]/?}
  printf '%s' "${text:0:120}"
}

# Exit status 0 when <value> is a GTID position (MariaDB) or set (MySQL) of this cluster's flavor.
valid_gtid() {
  if is_mariadb; then [[ "$1" =~ $MARIADB_GTID_RE ]]; else [[ "$1" =~ $MYSQL_GTID_RE ]]; fi
}

# Prints <value> when it matches <grammar>; otherwise stops, naming <what> and where it came from.
checked() {
  local what=$1 grammar=$2 value=$3
  [[ "$value" =~ $grammar ]] || die "$what is not well-formed ('$(shown "$value")'); refusing to use it"
  printf '%s\n' "$value"
}
