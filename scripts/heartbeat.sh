# shellcheck shell=bash
# The heartbeat: every second, the writable server writes the time (UTC, microseconds) into the
# one row of mysql_cluster.heartbeat; the row replicates like any write. A replica's lag is then
# its own clock minus the heartbeat it has applied, which keeps growing when its link is silently
# dead, unlike the replication threads' own view (Seconds_Behind_Master stays 0 while the I/O
# thread waits for a timeout). It assumes the pods' clocks agree to well under a second (NTP on
# the nodes): a skew adds to or hides that much lag.
#
# The schema and the event are made on every server by its own agent (heartbeat.py of the agent), outside the binary log, so
# none is replicated: a replicated event would arrive disabled (SLAVESIDE_DISABLED) and need
# enabling at each promotion. The event writes only while its server is writable, so a demoted or
# read-only server never adds heartbeats, whichever server's event it is.
#
# The metrics exporter reads the same row through the view exporter_heartbeat, in pt-heartbeat's
# layout (columns ts and server_id) that its heartbeat collector expects (prometheus/mysqld_exporter
# collector/heartbeat.go; exporter.py names the view): each pod then exports the heartbeat it has
# applied and its own clock.

HEARTBEAT_SCHEMA=mysql_cluster

# The applied heartbeat as microseconds since the epoch (NULL before the first).
heartbeat_micros_sql() {
  printf "SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', written_at) FROM %s.heartbeat WHERE id = 1" \
    "$HEARTBEAT_SCHEMA"
}

# Which pod wrote the applied heartbeat, relative to the pod that answers: server ids are the
# ordinals plus one offset (init-config.sh), so their difference is the ordinals' difference.
heartbeat_writer_offset_sql() {
  printf 'SELECT CAST(server_id AS SIGNED) - CAST(@@GLOBAL.server_id AS SIGNED) FROM %s.heartbeat WHERE id = 1' \
    "$HEARTBEAT_SCHEMA"
}
