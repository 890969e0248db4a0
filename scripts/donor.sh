# shellcheck shell=bash
# Which pod a new or rebuilt pod copies its data from: a replica that is caught up (its heartbeat
# within MAX_REPLICATION_LAG_SECONDS of the newest any pod has), the nearest lower ordinal first,
# so that a clone neither loads the primary nor copies a pod that failed or lags; the primary only
# when no replica qualifies. When no pod answers the question (none has the heartbeat yet: a
# cluster upgraded from a release without it), the pod before this one, which the StatefulSet
# started first. Prints the ordinal; fails when there is none.
choose_donor() {
  local options=$1 me=$2 ordinal peer_read_only peer_heartbeat newest=0 primary='' answered=0
  local -A read_only=() heartbeat=()
  while IFS=$'\t' read -r ordinal peer_read_only peer_heartbeat _; do
    [[ -n "$ordinal" ]] || continue
    answered=1
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
  if [[ -n "$primary" ]]; then
    printf '%s\n' "$primary"
  elif ((!answered && me > 0)); then
    printf '%s\n' "$((me - 1))"
  else
    return 1
  fi
}
