# shellcheck shell=bash
# The replication statements in the dialect of the server, as the component sets them
# (mysql_cluster_agent/dialect.py).
replication_word() {
  case "$1" in
    stop) require_env STOP_REPLICA_SQL && printf '%s' "$STOP_REPLICA_SQL" ;;
    reset) require_env RESET_REPLICA_ALL_SQL && printf '%s' "$RESET_REPLICA_ALL_SQL" ;;
    *) die "replication_word: unknown word $1" ;;
  esac
}
