# shellcheck shell=bash
# The statements that make this server a replica of the primary, by GTID, in the dialect of the
# server: MySQL CHANGE REPLICATION SOURCE TO / START REPLICA (8.4 removed the old words);
# MariaDB CHANGE MASTER TO / START SLAVE. Every statement here is allowed
# under super-read-only / read-only: the server exempts replication and GTID administration.
# The SQL is fed to the client on stdin, never in argv, because it carries the password.

# MySQL refuses longer replication passwords (ER_CHANGE_SOURCE_PASSWORD_LENGTH, 3056, raised by
# mysql-server's sql/sql_yacc.yy); MariaDB takes longer ones.
MYSQL_MAX_REPLICATION_PASSWORD=32

# The server's words for: stop, start, reset, change (the statement) and option (its prefix).
replication_word() {
  local new old
  case "$1" in
    stop) new='STOP REPLICA' old='STOP SLAVE' ;;
    start) new='START REPLICA' old='START SLAVE' ;;
    reset) new='RESET REPLICA ALL' old='RESET SLAVE ALL' ;;
    change) new='CHANGE REPLICATION SOURCE TO' old='CHANGE MASTER TO' ;;
    option) new=SOURCE old=MASTER ;;
    *) die "replication_word: unknown word $1" ;;
  esac
  if speaks_source_replica; then printf '%s' "$new"; else printf '%s' "$old"; fi
}

# The connection to the primary, by GTID. Heartbeats keep an idle link talking, so a dead one is
# noticed within the net timeout the server configuration sets.
replication_source_options() {
  local host=$1 user=$2 password=$3 option
  require_env MYSQL_PORT REPLICATION_HEARTBEAT_SECONDS
  option=$(replication_word option)
  printf '%s_HOST=%s, %s_PORT=%s, %s_USER=%s, %s_PASSWORD=%s, %s_CONNECT_RETRY=5, %s_HEARTBEAT_PERIOD=%s' \
    "$option" "$(sql_string "$host")" "$option" "$MYSQL_PORT" "$option" "$(sql_string "$user")" \
    "$option" "$(sql_string "$password")" "$option" "$option" "$REPLICATION_HEARTBEAT_SECONDS"
  replication_tls_options
  if is_mariadb; then
    printf ', MASTER_USE_GTID=slave_pos'
  else
    # caching_sha2_password without TLS needs the source's public key (ignored over TLS).
    printf ', GET_SOURCE_PUBLIC_KEY=1, SOURCE_AUTO_POSITION=1'
  fi
}

check_replication_password() {
  local password=$1
  is_mariadb || ((${#password} <= MYSQL_MAX_REPLICATION_PASSWORD)) ||
    die "the replication password (Secret key replication-password) has ${#password} characters; MySQL refuses more than $MYSQL_MAX_REPLICATION_PASSWORD: set a shorter one in the Secret"
}

# Points the replica at the primary with the current password and starts it; its GTID position
# is kept. Run at every start of a replica's sidecar, so a rotated password takes effect.
resume_replication_sql() {
  local host=$1 user=$2 password=$3
  check_replication_password "$password"
  printf '%s;\n%s %s;\n%s;\n' "$(replication_word stop)" "$(replication_word change)" \
    "$(replication_source_options "$host" "$user" "$password")" "$(replication_word start)"
}

# The first start of a fresh clone: its restored replication metadata (the donor's channel, whose
# relay logs a backup does not carry) is dropped, and the GTID state is set to the clone's
# position unless the server already stands there. <gtid_statements> come from
# clone_gtid_state_sql.
first_replication_sql() {
  local gtid_statements=$1 host=$2 user=$3 password=$4
  check_replication_password "$password"
  printf '%s;\n%s;\n%s%s %s;\n%s;\n' "$(replication_word stop)" "$(replication_word reset)" \
    "$gtid_statements" "$(replication_word change)" \
    "$(replication_source_options "$host" "$user" "$password")" "$(replication_word start)"
}

# Statements that move the server's GTID state to the clone's position <gtid>, given the answer
# of gtid_state_query (whether the server already holds that position).
clone_gtid_state_sql() {
  local gtid=$1 holds=$2
  [[ "$holds" == 1 ]] && return 0
  if is_mariadb; then
    printf 'SET GLOBAL gtid_slave_pos = %s;\n' "$(sql_string "$gtid")"
  else
    # gtid_purged can only be set on an empty gtid_executed.
    printf '%s\nSET GLOBAL gtid_purged = %s;\n' "$(reset_binary_logs_sql)" "$(sql_string "$gtid")"
  fi
}

# A query whose answer is 1 when the server already holds every transaction of the clone's
# position <gtid>: a replica that applied it and replicated further must not be rewound to it.
# MariaDB has no GTID_SUBSET, so it returns the server's position for gtid_position_reached.
gtid_state_query() {
  local gtid=$1
  if is_mariadb; then
    printf 'SELECT @@GLOBAL.gtid_slave_pos'
  else
    printf 'SELECT GTID_SUBSET(%s, @@GLOBAL.gtid_executed)' "$(sql_string "$gtid")"
  fi
}

# 1 when the MariaDB position <current> has reached <target> in every replication domain of
# <target> (positions are domain-server-seqno lists), else 0.
gtid_position_reached() {
  local target=$1 current=$2 entry domain seqno have
  local -a entries
  IFS=, read -ra entries <<<"$target"
  for entry in "${entries[@]}"; do
    [[ "$entry" =~ ^[[:space:]]*([0-9]+)-[0-9]+-([0-9]+)[[:space:]]*$ ]] || die "not a GTID position: $target"
    domain=${BASH_REMATCH[1]} seqno=${BASH_REMATCH[2]}
    [[ ",$current" =~ ,[[:space:]]*$domain-[0-9]+-([0-9]+) ]] || { echo 0; return 0; }
    have=${BASH_REMATCH[1]}
    ((have >= seqno)) || { echo 0; return 0; }
  done
  echo 1
}
