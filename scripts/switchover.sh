#!/usr/bin/env bash
# switchover Job: makes pod TARGET_ORDINAL the primary, over the network, as the switchover user.
# The component creates one Job per change of primaryOrdinal, and the primary Service follows only
# once it has succeeded.
#  - Switchover (a writable primary answers): it is made read-only, which waits for commits in
#    flight; the target applies everything that primary logged (GTID wait); the target is promoted.
#    Writes fail from the first step until the Service reaches the target; at no time are two
#    servers writable, and no committed write is lost.
#  - Failover (no pod writable for FAILOVER_WAIT_SECONDS): the target applies what it has fetched,
#    and is promoted. What the old primary committed but never sent is lost; when it comes back,
#    its sidecar finds those transactions and rebuilds it from a peer (sidecar.sh).
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

# "<ordinal> <read_only> <heartbeat> <gtid state>" of every pod that answers.
states_of_all() {
  peer_states "$admin" -1
}

wait_until_relay_log_applied() {
  local deadline=$((SECONDS + CATCH_UP_SECONDS))
  until on "$target" "$(replica_status_sql)" | grep -q 'has read all relay log'; do
    ((SECONDS < deadline)) || die "pod $target did not apply its relay log within ${CATCH_UP_SECONDS}s; it stays a replica"
    sleep 1
  done
}

switch_over_from() {
  local old=$1 position applied
  log "switchover from pod $old to pod $target: pod $old becomes read-only"
  demote_sql | on "$old" || die "could not make pod $old read-only; nothing was changed"
  position=$(on "$old" "SELECT $(gtid_position_expression)") ||
    die "could not read pod $old's position; it is read-only now: run the Job again, or make it writable (SET GLOBAL read_only=0)"
  log "waiting until pod $target has applied pod $old's transactions up to $position"
  applied=$(PEER_QUERY_TIMEOUT=$((CATCH_UP_SECONDS + 5)) on "$target" "$(wait_for_gtid_sql "$position" "$CATCH_UP_SECONDS")") || applied=failed
  if [[ "$applied" != 0 ]]; then
    on "$old" 'SET GLOBAL read_only = 0' || true
    die "pod $target did not apply pod $old's transactions within ${CATCH_UP_SECONDS}s ($applied); pod $old is writable again"
  fi
}

fail_over() {
  log "FAILOVER: no pod has been writable for ${FAILOVER_WAIT_SECONDS}s; promoting pod $target. Transactions the old primary committed but had not sent to pod $target are lost; when it returns it rebuilds itself from a peer (its old data kept aside)."
  on "$target" "$(replication_word stop) IO_THREAD" || die "could not stop pod $target's replication I/O thread"
  wait_until_relay_log_applied
}

deadline=$((SECONDS + FAILOVER_WAIT_SECONDS))
while :; do
  states=$(states_of_all)
  writable=$(writable_peer <<<"$states")
  if grep -q "^$target	" <<<"$states"; then
    if [[ "$writable" == "$target" ]]; then
      log "pod $target is the primary already"
      break
    elif [[ -n "$writable" ]]; then
      switch_over_from "$writable"
      promote_sql | on "$target" || die "could not promote pod $target; pod $writable is read-only: run the Job again"
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
while IFS=$'\t' read -r ordinal _ _ state; do
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
