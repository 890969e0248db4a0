# shellcheck shell=bash
# What the scripts read from a bucket or a claim (a backup's manifest and info files, the restore's
# hand-over file, object names, binary log indexes) is untrusted input: a bucket writer must not be
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
_DNS_LABEL_RE='^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
_UTC_TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

# The grammar of each field of a manifest (backup-job.sh writes them; restore.sh and retention
# read them). namespace is absent from manifests written before backups recorded it.
declare -gA MANIFEST_GRAMMAR=(
  [name]=$BACKUP_NAME_RE
  [cluster]=$_DNS_LABEL_RE
  [namespace]=$_DNS_LABEL_RE
  [flavor]='^(mysql|mariadb)$'
  [serverVersion]='^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}[-+.~_ A-Za-z0-9]{0,64}$'
  [startTime]=$_UTC_TIME_RE
  [endTime]=$_UTC_TIME_RE
  [gtid]="^\$|$MARIADB_GTID_RE|$MYSQL_GTID_RE"
  [sizeBytes]="^$_NUMBER\$"
  [sha256]='^[0-9a-f]{64}$'
  [donor]='^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$'
  [binlogHistory]='^([0-9]{8}T[0-9]{6}Z)?$'
  [format]='^[a-z][a-z0-9-]{0,31}$'
)
MANIFEST_REQUIRED=(name cluster flavor serverVersion startTime endTime sizeBytes sha256 binlogHistory format)

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

# Reads a manifest (one "key": value a line, as backup-job.sh writes it) into the associative
# array MANIFEST, checking every line and field; stops naming <source> on anything else. The one
# reader of manifests: no other code picks fields out of their text.
declare -gA MANIFEST=()
manifest_load() {
  local text=$1 source=$2 line key value
  local line_re='^  "([A-Za-z0-9]{1,32})": ("([^"\\]*)"|([0-9]{1,19})),?$'
  MANIFEST=()
  while IFS= read -r line; do
    [[ "$line" == "{" || "$line" == "}" || -z "$line" ]] && continue
    [[ "$line" =~ $line_re ]] || die "$source is not a manifest of this product: line '$(shown "$line")'; refusing it"
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[3]}${BASH_REMATCH[4]}
    [[ -n "${MANIFEST_GRAMMAR[$key]:-}" ]] || die "$source has an unknown field '$key'; refusing it"
    [[ "$value" =~ ${MANIFEST_GRAMMAR[$key]} ]] ||
      die "$source: field $key is not well-formed ('$(shown "$value")'); refusing this backup"
    MANIFEST[$key]=$value
  done <<<"$text"
  for key in "${MANIFEST_REQUIRED[@]}"; do
    [[ -n "${MANIFEST[$key]+set}" ]] || die "$source lacks the field $key; refusing this backup"
  done
}
