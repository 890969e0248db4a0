# shellcheck shell=bash
# The cluster's shape as the topology ConfigMap declares it (the designated primary's ordinal and
# the number of pods), and what the other pods say about themselves over SQL.
#
# The ConfigMap is a mounted volume rather than env, so that moving the primary restarts no pod;
# the kubelet refreshes the files within about a minute, so every decision re-reads them and
# none trusts them alone: a server is made writable only when no peer is (role.sh).

topology_value() {
  require_env TOPOLOGY_DIR
  local file="$TOPOLOGY_DIR/$1" value
  [[ -r "$file" ]] || die "$file is missing: the topology ConfigMap is not mounted at $TOPOLOGY_DIR"
  value=$(<"$file")
  [[ "$value" =~ ^[0-9]+$ ]] || die "$file holds '$value' instead of a number; check ConfigMap keys"
  printf '%s\n' "$value"
}

designated_primary() {
  topology_value primary-ordinal
}

# Every other pod's ordinal, the nearest lower one first: the order in which donors are preferred.
# <me> -1 lists every pod (the switchover Job is none of them).
peer_ordinals() {
  local me=$1 pods ordinal
  pods=$(topology_value replicas)
  for ((ordinal = me - 1; ordinal >= 0; ordinal--)); do echo "$ordinal"; done
  for ((ordinal = me + 1; ordinal < pods; ordinal++)); do echo "$ordinal"; done
}

# Peers are asked with short bounds: an unreachable pod must cost a probe seconds, not minutes
# (the clients have a connect timeout but none for an answer that never comes).
PEER_CONNECT_TIMEOUT=2
PEER_QUERY_TIMEOUT=4

# Runs <sql> (or, without it, the statements on stdin) on pod <ordinal> over the network with the
# client option file <options>; further arguments go to the client. PEER_QUERY_TIMEOUT may be
# raised for one call that waits.
peer_sql() {
  local options=$1 ordinal=$2
  require_env MYSQL_PORT
  timeout "$PEER_QUERY_TIMEOUT" "$(sql_client)" --defaults-extra-file="$options" --protocol=tcp \
    --host="$(pod_host "$ordinal")" --port="$MYSQL_PORT" --connect-timeout="$PEER_CONNECT_TIMEOUT" \
    --batch --skip-column-names ${3+-e "$3"} "${@:4}"
}

# What every pod tells its peers about itself, one line: read_only (1 or 0), the heartbeat it has
# applied (microseconds since the epoch, by the primary's clock; NULL before the first one), which
# pod wrote that heartbeat, relative to this one (NULL before the first: see last_primary), and
# its GTID state (gtid.sh), last as it may be empty.
peer_state_sql() {
  printf 'SELECT @@GLOBAL.read_only, (%s), (%s), (%s)' "$(heartbeat_micros_sql)" \
    "$(heartbeat_writer_offset_sql)" "$(gtid_state_expression)"
}

# "<ordinal> <read_only> <heartbeat> <writer offset> <gtid state>" for every peer that answers,
# asked all at once. <options> is a client option file of the replication user, which may read the heartbeat.
peer_states() {
  local options=$1 me=$2 ordinal dir
  dir=$(mktemp -d)
  for ordinal in $(peer_ordinals "$me"); do
    (peer_sql "$options" "$ordinal" "$(peer_state_sql)" 2>/dev/null |
      while IFS= read -r line; do printf '%s\t%s\n' "$ordinal" "$line"; done >"$dir/$ordinal") &
  done
  wait
  cat "$dir"/* 2>/dev/null || true
  rm -rf "$dir"
}

# The pod that wrote the newest heartbeat of peer_states lines on stdin (this server's own among
# them, where the caller adds it): the last pod that was writable, which is the primary that is
# when none is writable now (stopped, restarting). The topology's primary-ordinal is only what was
# last requested: a move that failed never wrote a heartbeat, so it changes nothing here. Nothing
# when no line has a heartbeat (a new cluster).
last_primary() {
  local ordinal heartbeat offset newest=0 found=''
  while IFS=$'\t' read -r ordinal _ heartbeat offset _; do
    [[ "$heartbeat" =~ ^[0-9]+$ && "$offset" =~ ^-?[0-9]+$ ]] || continue
    ((heartbeat > newest)) || continue
    newest=$heartbeat found=$((ordinal + offset))
  done
  printf '%s' "$found"
}
