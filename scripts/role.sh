# shellcheck shell=bash
# The statements that give a server its role, run by the switchover Job over the network on every
# pod (the pods' agents run the same, from the agent's dialect table, on their own server). Every
# server starts read-only (the .cnf); only these and the agent make one writable.

# Makes the server the primary: no replication channel left, writable, so its heartbeat event
# starts writing. MySQL's event scheduler runs on the writable server only: under super_read_only
# it refuses every due event with an error in the log (each second for the heartbeat).
promote_sql() {
  printf '%s;\n%s;\nSET GLOBAL read_only = 0;\n' "$(replication_word stop)" "$(replication_word reset)"
  is_mariadb || printf 'SET GLOBAL event_scheduler = ON;\n'
}

# Stops writes from clients: on MySQL super_read_only also stops privileged ones (and implies
# read_only); MariaDB's read_only stops every user without READ_ONLY ADMIN. Both wait for
# transactions that are committing, so the binary log is final once it returns.
demote_sql() {
  if is_mariadb; then
    printf 'SET GLOBAL read_only = 1;\n'
  else
    printf 'SET GLOBAL super_read_only = 1;\nSET GLOBAL event_scheduler = OFF;\n'
  fi
}

# Points a server that has data (a former primary, or a replica of another primary) at the primary
# <host> by GTID with the current replication password, and starts replication; the channel to the
# previous primary goes first. A MariaDB server that was the primary has its own transactions in
# gtid_binlog_pos only: gtid_current_pos carries them into the replica position (it is the replica
# position on a server that never wrote). MySQL's auto-position uses gtid_executed, which has all.
follow_sql() {
  local host=$1 password=$2 gtid_statements=''
  require_env REPLICATION_USER
  if is_mariadb; then gtid_statements=$'SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos;\n'; fi
  first_replication_sql "$gtid_statements" "$host" "$REPLICATION_USER" "$password"
}

# A query answering 0 once the server has applied every transaction of the GTID state <state>,
# waiting up to <seconds>; -1 (MariaDB) or 1 (MySQL) when it did not in time.
wait_for_gtid_sql() {
  local state=$1 seconds=$2
  if is_mariadb; then
    printf 'SELECT MASTER_GTID_WAIT(%s, %s)' "$(sql_string "$state")" "$seconds"
  else
    printf 'SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)' "$(sql_string "$state")" "$seconds"
  fi
}
