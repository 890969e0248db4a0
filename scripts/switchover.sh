#!/usr/bin/env bash
# switchover Job: makes pod TARGET_ORDINAL the primary, over the network, as the switchover user.
# The component creates one Job per change of primaryOrdinal, and the primary Service follows only
# once it has succeeded. The pods never act on the requested ordinal alone: until this Job has
# promoted the target, the primary is the pod that is writable, or was last (topology.sh).
#  - Switchover (the primary answers: the writable pod, or the last one writable, left read-only
#    by an attempt that stopped half way): it is made read-only, which waits for commits in
#    flight, however long, up to CATCH_UP_SECONDS (then it stays the primary, unchanged); the
#    target applies everything that primary logged (GTID wait); the target is promoted. Writes
#    fail from the first step until the Service reaches the target; at no time are two servers
#    writable, and no committed write is lost.
#  - Failover (no pod writable, and the last primary silent, for FAILOVER_WAIT_SECONDS): the
#    target applies what it has fetched, then everything any other pod that answers holds (it
#    replicates from each one ahead of it and waits for that pod's GTID position), and is
#    promoted; if it cannot, it is not, and the Job names the pod to promote instead. Only what
#    the old primary committed but never sent is lost; when it comes back, its sidecar finds those
#    transactions and rebuilds it from a peer (sidecar.sh).
# Then every other pod that answers, the old primary included, replicates from the target by GTID.
# Already the only writable pod, the target is left as it is: the Job may run again harmlessly.
set -euo pipefail
SCRIPT_NAME=switchover
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=replication.sh
source "$(dirname "${BASH_SOURCE[0]}")/replication.sh"
# shellcheck source=heartbeat.sh
source "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"
# shellcheck source=gtid.sh
source "$(dirname "${BASH_SOURCE[0]}")/gtid.sh"
# shellcheck source=topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
# shellcheck source=role.sh
source "$(dirname "${BASH_SOURCE[0]}")/role.sh"

require_env TARGET_ORDINAL ADMIN_USER REPLICATION_USER FAILOVER_WAIT_SECONDS CATCH_UP_SECONDS
admin=$(client_options "$ADMIN_USER" admin-password)
target=$TARGET_ORDINAL
((target < $(topology_value replicas))) ||
  die "pod $target is not a pod of this cluster (replicas $(topology_value replicas)); set primaryOrdinal below replicas"

# SQL on pod <ordinal> as the switchover user.
on() {
  peer_sql "$admin" "$@"
}

target_value() {
  on "$target" "$1"
}

# "<ordinal> <read_only> <heartbeat> <writer offset> <gtid state>" of every pod that answers.
states_of_all() {
  peer_states "$admin" -1
}

# Waits until pod <ordinal> has applied every transaction of the GTID position <position>, up to
# CATCH_UP_SECONDS; prints what went wrong and fails otherwise.
wait_until_applied() {
  local ordinal=$1 position=$2 applied
  applied=$(PEER_QUERY_TIMEOUT=$((CATCH_UP_SECONDS + 5)) on "$ordinal" "$(wait_for_gtid_sql "$position" "$CATCH_UP_SECONDS")" 2>&1) ||
    applied="no answer: $applied"
  [[ "$applied" == 0 ]] || { printf '%s' "$applied"; return 1; }
}

# One field of pod <ordinal>'s replication status, by its name (the batch output's header).
replica_status_field() {
  local ordinal=$1 field=$2 status i
  local -a names values
  status=$(on "$ordinal" "$(replica_status_sql)" --column-names) || return 1
  # Fields split at a separator that is not white space, which read would merge when empty.
  status=${status//$'\t'/$'\x1f'}
  { IFS=$'\x1f' read -ra names && IFS=$'\x1f' read -ra values; } <<<"$status" || return 0
  for i in "${!names[@]}"; do
    # A MySQL GTID set spans lines: the batch output escapes them.
    [[ "${names[i]}" != "$field" ]] || printf '%s' "${values[i]//\\n/}"
  done
}

switch_over_from() {
  local old=$1 position error
  log "switchover from pod $old to pod $target: pod $old becomes read-only (it waits for the transactions in flight, up to ${CATCH_UP_SECONDS}s)"
  # The server gives up by itself (lock_wait_timeout) before the client does, so that a write
  # longer than that leaves it as it was: still the primary, writable.
  error=$({ printf 'SET SESSION lock_wait_timeout = %d;\n' "$CATCH_UP_SECONDS"; demote_sql; } |
    PEER_QUERY_TIMEOUT=$((CATCH_UP_SECONDS + 10)) on "$old" 2>&1) ||
    die "pod $old did not become read-only within ${CATCH_UP_SECONDS}s ($error); it stays the primary, nothing was changed: run the Job again once its long transactions are done"
  position=$(on "$old" "SELECT $(gtid_position_expression)") ||
    die "could not read pod $old's position; it is read-only now: run the Job again, or make it writable (SET GLOBAL read_only=0)"
  log "waiting until pod $target has applied pod $old's transactions up to $position"
  if ! error=$(wait_until_applied "$target" "$position"); then
    on "$old" 'SET GLOBAL read_only = 0' || true
    die "pod $target did not apply pod $old's transactions within ${CATCH_UP_SECONDS}s ($error); pod $old is writable again"
  fi
}

# Brings the target up to pod <peer>, which holds transactions it lacks: the target replicates
# from it until it has applied the peer's position, then stops.
catch_up_from() {
  local peer=$1 position error
  position=$(on "$peer" "SELECT $(gtid_position_expression)") ||
    die "pod $peer holds transactions pod $target lacks and no longer answers; pod $target was not promoted: run the Job again, or set primaryOrdinal=$peer"
  log "pod $peer holds transactions pod $target lacks: pod $target replicates from it up to $position"
  (
    set +x # the statements carry the replication password
    follow_sql "$(pod_host "$peer")" "$(secret_value replication-password)" | on "$target"
  ) || die "could not point pod $target at pod $peer; pod $target was not promoted: run the Job again, or set primaryOrdinal=$peer"
  error=$(wait_until_applied "$target" "$position") ||
    die "pod $target did not apply pod $peer's transactions within ${CATCH_UP_SECONDS}s ($error); pod $target was not promoted, so that they are not lost: run the Job again, or set primaryOrdinal=$peer"
  on "$target" "$(replication_word stop)" || die "could not stop pod $target's replication from pod $peer"
}

fail_over() {
  local received error ordinal state
  log "FAILOVER: no pod has been writable for ${FAILOVER_WAIT_SECONDS}s and the last primary does not answer; promoting pod $target once it holds everything a pod that answers holds. Transactions the old primary committed but sent to no pod that answers are lost; when it returns it rebuilds itself from a peer (its old data kept aside)."
  on "$target" "$(replication_word stop) IO_THREAD" || die "could not stop pod $target's replication I/O thread"
  received=$(replica_status_field "$target" "$(if is_mariadb; then echo Gtid_IO_Pos; else echo Retrieved_Gtid_Set; fi)") ||
    die "could not read what pod $target has received; it stays a replica"
  if [[ -n "$received" ]]; then
    log "waiting until pod $target has applied what it received, up to $received"
    error=$(wait_until_applied "$target" "$received") ||
      die "pod $target did not apply what it received within ${CATCH_UP_SECONDS}s ($error); it stays a replica"
  fi
  while IFS=$'\t' read -r ordinal _ _ _ state; do
    [[ -n "$ordinal" && "$ordinal" != "$target" ]] || continue
    gtid_state_holds "$(target_value "SELECT $(gtid_state_expression)")" "$state" target_value ||
      catch_up_from "$ordinal"
  done < <(states_of_all)
}

deadline=$((SECONDS + FAILOVER_WAIT_SECONDS))
while :; do
  states=$(states_of_all)
  writable=$(writable_peer <<<"$states")
  last=$(last_primary <<<"$states")
  if grep -q "^$target	" <<<"$states"; then
    if [[ "$writable" == "$target" ]]; then
      log "pod $target is the primary already"
      break
    elif [[ -n "$writable" ]]; then
      switch_over_from "$writable"
      promote_sql | on "$target" || die "could not promote pod $target; pod $writable is read-only: run the Job again"
      log "pod $target is the primary"
      break
    elif [[ -n "$last" ]] && grep -q "^$last	" <<<"$states"; then
      # The primary answers, read-only: an attempt stopped between demotion and promotion, or the
      # server is still taking the read lock it was asked for. Still a switchover: no failover
      # while the old primary answers.
      log "pod $last, the last primary, answers read-only: the switchover goes on from it"
      switch_over_from "$last"
      promote_sql | on "$target" || die "could not promote pod $target; pod $last is read-only: run the Job again"
      log "pod $target is the primary"
      break
    elif ((SECONDS >= deadline)); then
      fail_over
      promote_sql | on "$target" || die "could not promote pod $target"
      log "pod $target is the primary"
      break
    fi
  fi
  if ((SECONDS >= deadline)); then
    error=$(on "$target" 'SELECT 1' 2>&1 >/dev/null) || true
    die "pod $target does not answer${error:+ ($error)}; the primary was not moved"
  fi
  log "waiting for pod $target and a writable primary to answer (failover in $((deadline - SECONDS))s)"
  sleep 2
done

target_state=$(target_value "SELECT $(gtid_state_expression)")
while IFS=$'\t' read -r ordinal _ _ _ state; do
  [[ -n "$ordinal" && "$ordinal" != "$target" ]] || continue
  if ! gtid_state_holds "$target_state" "$state" target_value; then
    log "pod $ordinal holds transactions pod $target lacks; it rebuilds itself from a peer"
    continue
  fi
  log "pod $ordinal now replicates from pod $target"
  (
    set +x # the statements carry the replication password
    { demote_sql; follow_sql "$(pod_host "$target")" "$(secret_value replication-password)"; } | on "$ordinal"
  ) || log "could not point pod $ordinal at pod $target; its sidecar does when it next looks"
done <<<"$states"
log "done: pod $target is the primary"
