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

# Points the server at the primary <host> with a fresh channel: the previous one goes first (a
# clone of a replica has its donor's, without the relay logs it names), then <gtid_statements>.
first_replication_sql() {
  local gtid_statements=$1 host=$2 user=$3 password=$4
  check_replication_password "$password"
  printf '%s;\n%s;\n%s%s %s;\n%s;\n' "$(replication_word stop)" "$(replication_word reset)" \
    "$gtid_statements" "$(replication_word change)" \
    "$(replication_source_options "$host" "$user" "$password")" "$(replication_word start)"
}
