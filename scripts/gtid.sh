# shellcheck shell=bash
# Whether one server holds every transaction of another, from their GTID states
# (gtid_state_expression). A server that holds a transaction the primary lacks has
# diverged (a failover left its last writes behind) and must never replicate or be promoted as it
# is; one that lacks what a peer holds must not be promoted while that peer may come back.

# A server's GTID state, as an SQL expression: MariaDB's binary log state (the last sequence
# number of every server in every domain) with the replica position (a fresh clone has no binary
# log yet); MySQL's gtid_executed on one line.
gtid_state_expression() {
  if is_mariadb; then
    printf 'CONCAT_WS(",", NULLIF(@@GLOBAL.gtid_binlog_state, ""), NULLIF(@@GLOBAL.gtid_slave_pos, ""))'
  else
    printf 'REPLACE(@@GLOBAL.gtid_executed, "\\n", "")'
  fi
}

# A server's position, as an SQL expression: the last transaction of each domain it has written to
# its binary log (MariaDB), or its whole GTID set (MySQL); what wait_for_gtid_sql waits for.
gtid_position_expression() {
  if is_mariadb; then printf '@@GLOBAL.gtid_binlog_pos'; else printf 'REPLACE(@@GLOBAL.gtid_executed, "\\n", "")'; fi
}

# Exit status 0 when the MariaDB GTID state <holder> (domain-server-seqno entries) holds every
# entry of <state>: for each server of each domain, up to at least that sequence number. Under
# gtid_strict_mode each server's sequence numbers only grow, so that means every transaction.
mariadb_state_holds() {
  local holder=$1 state=$2 entry domain server seqno held found
  local -a entries holders
  IFS=, read -ra entries <<<"$state"
  IFS=, read -ra holders <<<"$holder"
  for entry in "${entries[@]}"; do
    [[ "$entry" =~ ^[[:space:]]*([0-9]+)-([0-9]+)-([0-9]+)[[:space:]]*$ ]] ||
      die "not a GTID state entry: '$entry' (in '$state')"
    domain=${BASH_REMATCH[1]} server=${BASH_REMATCH[2]} seqno=${BASH_REMATCH[3]} found=0
    for held in "${holders[@]}"; do
      [[ "$held" =~ ^[[:space:]]*${domain}-${server}-([0-9]+)[[:space:]]*$ ]] &&
        ((BASH_REMATCH[1] >= seqno)) && found=1
    done
    ((found)) || return 1
  done
}

# Exit status 0 when <holder> holds every transaction of <state>. <sql_value> is a command that
# runs a query on this server and prints its value (MySQL compares GTID sets with GTID_SUBSET).
gtid_state_holds() {
  local holder=$1 state=$2 sql_value=$3
  if is_mariadb; then
    mariadb_state_holds "$holder" "$state"
  else
    [[ "$("$sql_value" "SELECT GTID_SUBSET($(sql_string "$state"), $(sql_string "$holder"))")" == 1 ]]
  fi
}
