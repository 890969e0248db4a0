#!/usr/bin/env bash
# Readiness of the mysql container. The writable server (the primary) is ready when it answers. A
# replica is ready, and so in the read Service, while its replication applies and the heartbeat it
# has applied is at most MAX_REPLICATION_LAG_SECONDS old (heartbeat.sh). Past that, it asks its
# peers: if one has a newer heartbeat, or the primary answers, this replica is cut off or behind
# and leaves; if the primary answers nobody and no peer is ahead, the primary is down, and the
# replica keeps serving reads until the last heartbeat is PRIMARY_DOWN_READ_SECONDS old. With no
# peer answering at all (a single replica, or one cut off from everything) it cannot tell, and
# leaves: stale reads are the worse failure.
set -euo pipefail
SCRIPT_NAME=readiness
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=heartbeat.sh
source "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"
# shellcheck source=gtid.sh
source "$(dirname "${BASH_SOURCE[0]}")/gtid.sh"
# shellcheck source=topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/topology.sh"

require_env MAX_REPLICATION_LAG_SECONDS PRIMARY_DOWN_READ_SECONDS REPLICATION_USER
options=$(client_options root root-password)

state=$(local_sql "$options" --batch --skip-column-names -e \
  "SELECT @@GLOBAL.read_only, IFNULL(($(heartbeat_micros_sql)), 0), TIMESTAMPDIFF(MICROSECOND, '1970-01-01', UTC_TIMESTAMP(6))") ||
  die "the server does not answer queries"
read -r read_only heartbeat now <<<"$state"
[[ "$read_only" == 1 ]] || exit 0

status=$(local_sql "$options" --vertical -e "$(replica_status_sql)") ||
  die "cannot read the replication status"
[[ -n "$status" ]] || die "replication is not configured yet"
io='' sql='' io_error=''
while IFS=: read -r field value; do
  field=${field//[[:space:]]/}
  value=${value#"${value%%[![:space:]]*}"}
  case "$field" in
    Slave_IO_Running | Replica_IO_Running) io=$value ;;
    Slave_SQL_Running | Replica_SQL_Running) sql=$value ;;
    Last_IO_Error) io_error=$value ;;
  esac
done <<<"$status"
# A primary whose certificate does not verify is no outage: say so at once.
tls_hint=$(replication_tls_hint "$io_error" "$(pod_host "$(designated_primary)")")
[[ "$io" == Yes || -z "$tls_hint" ]] ||
  die "the replication I/O thread cannot connect ($io): $io_error$tls_hint"
# "Connecting" is what a replica of a primary that is down shows: judged by the heartbeat below.
[[ "$io" != No ]] || die "the replication I/O thread is not running ($io)${io_error:+: $io_error}"
[[ "$sql" == Yes ]] || die "the replication SQL thread is not running ($sql)"
((heartbeat > 0)) || die "no heartbeat from the primary has reached this replica yet"
lag=$(((now - heartbeat) / 1000000))
((lag <= MAX_REPLICATION_LAG_SECONDS)) && exit 0

# The probe's timeoutSeconds (5 s) bounds this whole script, and a probe that times out fails: a
# peer that has not answered within 2 s counts as silent, so that a dead primary (whose name may
# take seconds to resolve, or whose address no longer answers) leaves time for the rest on a busy
# node. The peers are asked all at once.
PEER_CONNECT_TIMEOUT=1
PEER_QUERY_TIMEOUT=2
# One heartbeat period of slack: replicas of a primary that stopped may differ by its last beat.
ahead=$((heartbeat + 1000000))
answered=0
while IFS=$'\t' read -r ordinal peer_read_only peer_heartbeat _; do
  answered=$((answered + 1))
  [[ "$peer_read_only" == 1 ]] ||
    die "the replica is ${lag}s behind the primary (limit ${MAX_REPLICATION_LAG_SECONDS}s), which answers (pod $ordinal)"
  [[ "$peer_heartbeat" =~ ^[0-9]+$ ]] && ((peer_heartbeat > ahead)) &&
    die "the replica is ${lag}s behind the primary (limit ${MAX_REPLICATION_LAG_SECONDS}s): pod $ordinal has a heartbeat $(((peer_heartbeat - heartbeat) / 1000000))s newer, so this one is cut off or behind"
done < <(peer_states "$(client_options "$REPLICATION_USER" replication-password)" "$(pod_ordinal)")
((answered > 0)) ||
  die "the replica is ${lag}s behind the primary (limit ${MAX_REPLICATION_LAG_SECONDS}s) and no peer answers, so it cannot tell a primary outage from being cut off"
((lag <= PRIMARY_DOWN_READ_SECONDS)) ||
  die "the primary has been down for ${lag}s, longer than reads are served without it (${PRIMARY_DOWN_READ_SECONDS}s)"
log "the primary is down (no peer has a newer heartbeat); serving reads ${lag}s after its last heartbeat, up to ${PRIMARY_DOWN_READ_SECONDS}s"
