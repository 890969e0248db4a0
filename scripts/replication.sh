# shellcheck shell=bash
# The statements that make this server a replica of the primary, in the dialect of the server:
# MySQL 8.0.23+/8.4 CHANGE REPLICATION SOURCE TO / START REPLICA (8.4 removed the old words);
# MySQL 5.7 and MariaDB CHANGE MASTER TO / START SLAVE.
# Arguments: the normalized coordinates line (see coordinates.sh), the primary's host, the
# replication user and password. Prints SQL to be fed to the client on stdin (never argv).
replication_sql() {
  local coordinates=$1 host=$2 user=$3 password=$4
  local kind file pos gtid
  IFS=$'\t' read -r kind file pos <<<"$coordinates"
  require_env MYSQL_PORT
  local connection
  if speaks_source_replica; then
    # caching_sha2_password without TLS needs the source's public key.
    connection="SOURCE_HOST=$(sql_string "$host"), SOURCE_PORT=$MYSQL_PORT, SOURCE_USER=$(sql_string "$user"), SOURCE_PASSWORD=$(sql_string "$password"), SOURCE_CONNECT_RETRY=10, GET_SOURCE_PUBLIC_KEY=1"
  else
    connection="MASTER_HOST=$(sql_string "$host"), MASTER_PORT=$MYSQL_PORT, MASTER_USER=$(sql_string "$user"), MASTER_PASSWORD=$(sql_string "$password"), MASTER_CONNECT_RETRY=10"
  fi
  case "$kind" in
    position)
      [[ -n "$file" && "$pos" =~ ^[0-9]+$ ]] || die "bad position coordinates: $coordinates"
      if speaks_source_replica; then
        printf 'STOP REPLICA;\nCHANGE REPLICATION SOURCE TO %s, SOURCE_LOG_FILE=%s, SOURCE_LOG_POS=%s;\nSTART REPLICA;\n' \
          "$connection" "$(sql_string "$file")" "$pos"
      else
        printf 'STOP SLAVE;\nCHANGE MASTER TO %s, MASTER_LOG_FILE=%s, MASTER_LOG_POS=%s;\nSTART SLAVE;\n' \
          "$connection" "$(sql_string "$file")" "$pos"
      fi
      ;;
    gtid)
      gtid=$file
      [[ -n "$gtid" ]] || die "bad GTID coordinates: $coordinates"
      if is_mariadb; then
        printf 'STOP SLAVE;\nSET GLOBAL gtid_slave_pos = %s;\nCHANGE MASTER TO %s, MASTER_USE_GTID=slave_pos;\nSTART SLAVE;\n' \
          "$(sql_string "$gtid")" "$connection"
      elif speaks_source_replica; then
        local reset='RESET MASTER'
        [[ "$DB_VERSION" == 8.4 ]] && reset='RESET BINARY LOGS AND GTIDS'
        printf 'STOP REPLICA;\n%s;\nSET GLOBAL gtid_purged = %s;\nCHANGE REPLICATION SOURCE TO %s, SOURCE_AUTO_POSITION=1;\nSTART REPLICA;\n' \
          "$reset" "$(sql_string "$gtid")" "$connection"
      else
        printf 'STOP SLAVE;\nRESET MASTER;\nSET GLOBAL gtid_purged = %s;\nCHANGE MASTER TO %s, MASTER_AUTO_POSITION=1;\nSTART SLAVE;\n' \
          "$(sql_string "$gtid")" "$connection"
      fi
      ;;
    *) die "unknown coordinates: $coordinates" ;;
  esac
}
