# shellcheck shell=bash
# The replication statements' words in the dialect of the server: MySQL CHANGE REPLICATION SOURCE
# TO / START REPLICA (8.4 removed the old words); MariaDB CHANGE MASTER TO / START SLAVE.

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
