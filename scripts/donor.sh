# shellcheck shell=bash
# Which pod a new or rebuilt pod copies its data from: a replica that is caught up (its heartbeat
# within MAX_REPLICATION_LAG_SECONDS of the newest any pod has), the nearest lower ordinal first,
# so that a clone neither loads the primary nor copies a pod that failed or lags; the primary only
# when no replica qualifies. Prints the ordinal; fails when no pod answers.
choose_donor() {
  local options=$1 me=$2 ordinal peer_read_only peer_heartbeat newest=0 primary=''
  local -A read_only=() heartbeat=()
  while IFS=$'\t' read -r ordinal peer_read_only peer_heartbeat _; do
    [[ -n "$ordinal" ]] || continue
    [[ "$peer_heartbeat" =~ ^[0-9]+$ ]] || peer_heartbeat=0
    read_only[$ordinal]=$peer_read_only
    heartbeat[$ordinal]=$peer_heartbeat
    ((peer_heartbeat <= newest)) || newest=$peer_heartbeat
    [[ "$peer_read_only" != 0 ]] || primary=$ordinal
  done < <(peer_states "$options" "$me")
  require_env MAX_REPLICATION_LAG_SECONDS
  for ordinal in $(peer_ordinals "$me"); do
    [[ "${read_only[$ordinal]:-}" == 1 ]] || continue
    if ((heartbeat[$ordinal] > 0 && heartbeat[$ordinal] >= newest - MAX_REPLICATION_LAG_SECONDS * 1000000)); then
      printf '%s\n' "$ordinal"
      return 0
    fi
  done
  [[ -n "$primary" ]] || return 1
  printf '%s\n' "$primary"
}
