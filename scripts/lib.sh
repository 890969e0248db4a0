# shellcheck shell=bash
# Functions shared by the cluster's scripts, which source it from the directory they run from
# (the scripts ConfigMap, mounted in every container).
# Every name (StatefulSet, Service, users, ports, paths) comes from the environment the
# component sets; nothing here knows what the cluster is called.

log() {
  printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${SCRIPT_NAME:-mysql-cluster}" "$*" >&2
}

die() {
  log "FATAL: $*"
  exit 1
}

# shellcheck source=tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "environment variable $name is not set; the StatefulSet must set it"
  done
}

# A value read from outside (a file of a backup, a tool's error) as it may appear in a log line:
# printable characters only, at most 120 of them.
shown() {
  local text=${1//[^[:print:]]/?}
  printf '%s' "${text:0:120}"
}

need_command() {
  local candidate
  for candidate in "$@"; do
    command -v "$candidate" >/dev/null 2>&1 && printf '%s\n' "$candidate" && return 0
  done
  die "this image has none of: $* (choose an image that does)"
}

# The program the environment variable <name> names (SQL_CLIENT, BACKUP_TOOL, ...): the first of
# its names, separated by spaces, that the image has. The component sets these facts from its one
# table of what differs between the servers (mysql_cluster_agent/dialect.py).
dialect_command() {
  local names
  require_env "$1"
  read -ra names <<<"${!1}"
  need_command "${names[@]}"
}

sql_client() { dialect_command SQL_CLIENT; }
backup_tool() { dialect_command BACKUP_TOOL; }
stream_tool() { dialect_command STREAM_TOOL; }

# `bash -x` (or set -x) prints every command with its arguments expanded, builtins and
# assignments included. Whatever handles a password therefore runs in a subshell that turns
# tracing off first, `( set +x; ... )`: every caller of secret_value, and client_options.
# Like the images' entrypoints (`$(< file)`), a password loses its trailing newlines, so a
# Secret made from a file with a final newline means the same password everywhere.
secret_value() {
  require_env SECRETS_DIR
  local file="$SECRETS_DIR/$1"
  [[ -r "$file" ]] || die "secret file $file is missing or unreadable (Secret key '$1')"
  printf '%s' "$(<"$file")"
}

# Client option files hold passwords. They live in CLIENT_OPTIONS_DIR (memory-backed), are named
# after the script and its process, and go when the script exits, however it exits; those of a
# process that was killed outright (a probe at its timeout) go at the next run of that script.
client_options_prefix() {
  printf '%s\n' "$CLIENT_OPTIONS_DIR/${SCRIPT_NAME:-mysql-cluster}."
}

remove_client_options() {
  rm -f "$(client_options_prefix)$$."*
}

remove_stale_client_options() {
  local prefix file pid
  prefix=$(client_options_prefix)
  for file in "$prefix"*; do
    [[ -e "$file" ]] || continue
    pid=${file#"$prefix"}
    pid=${pid%%.*}
    [[ "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null && rm -f "$file"
  done
  return 0
}

if [[ -n "${CLIENT_OPTIONS_DIR:-}" ]]; then
  trap remove_client_options EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  remove_stale_client_options
fi

# An option file value in double quotes: the clients undo these escapes, so any password,
# newlines included, reads back exactly and cannot end the line early.
option_file_value() {
  local value=${1//\\/\\\\}
  value=${value//\"/\\\"}
  value=${value//$'\n'/\\n}
  value=${value//$'\r'/\\r}
  value=${value//$'\t'/\\t}
  value=${value//$'\b'/\\b}
  printf '"%s"' "$value"
}

# The SQL client's own session parses the scripts' statements as written, whatever global
# sql_mode the server has (ANSI_QUOTES would turn their quoted strings into names). Only the SQL
# client reads the [mysql] group; the admin, backup and binlog tools read [client].
CLIENT_SESSION_OPTIONS=$'[mysql]\ninit-command=SET SESSION sql_mode=\'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION\''

# Writes a client option file for <user> with the password of Secret key <key> and prints its
# path. Passwords travel in files, never in argv, the environment of clients, or the log.
client_options() (
  set +x
  require_env CLIENT_OPTIONS_DIR
  local user=$1 key=$2 password file
  password=$(secret_value "$key")
  file="$(client_options_prefix)$$.$user.cnf"
  umask 077
  { printf '[client]\nuser=%s\npassword=%s\n' "$user" "$(option_file_value "$password")" &&
    client_tls_options && printf '%s\n' "$CLIENT_SESSION_OPTIONS"; } >"$file" || die "cannot write a client option file in $CLIENT_OPTIONS_DIR"
  printf '%s\n' "$file"
)


# A single-quoted SQL string literal.
sql_string() {
  local value=${1//\\/\\\\}
  value=${value//\'/\'\'}
  printf "'%s'" "$value"
}


# The rebuild mark, written by the pod's agent for a diverged server: while it exists the mysql
# container rebuilds this pod's data before it starts its server (server.sh, liveness.sh).
rebuild_mark() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/rebuild"
}

# Made by the pod's agent once its server has its role, on the pod's memory volume; removed when
# the agent starts again.
role_taken_mark() {
  require_env CLIENT_OPTIONS_DIR
  printf '%s\n' "$CLIENT_OPTIONS_DIR/role-taken"
}

# The coordinates a clone leaves when the backup tool's info files, moved into the data directory
# with the copy, say where it stands (the agent reads them: backup_info.py).
# shellcheck disable=SC2034
BACKUP_INFO_STATE=backup-info

# Where a clone leaves the coordinates the new replica starts replicating from.
pending_coordinates_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/replication-source"
}

