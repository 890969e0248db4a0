# shellcheck shell=bash
# The heartbeat: every second, the writable server writes the time (UTC, microseconds) into the
# one row of mysql_cluster.heartbeat; the row replicates like any write. A replica's lag is then
# its own clock minus the heartbeat it has applied, which keeps growing when its link is silently
# dead, unlike the replication threads' own view (Seconds_Behind_Master stays 0 while the I/O
# thread waits for a timeout). It assumes the pods' clocks agree to well under a second (NTP on
# the nodes): a skew adds to or hides that much lag.
#
# The schema and the event are made on every server by its own sidecar, outside the binary log, so
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

# The statements that give this server the heartbeat table and event, outside the binary log.
# MySQL's super_read_only refuses them even to root: it is lifted for them (read_only stays).
heartbeat_setup_sql() {
  is_mariadb || printf 'SET @super_read_only = @@GLOBAL.super_read_only;\nSET GLOBAL super_read_only = 0;\n'
  cat <<SQL
SET SESSION sql_log_bin = 0;
CREATE DATABASE IF NOT EXISTS $HEARTBEAT_SCHEMA;
CREATE TABLE IF NOT EXISTS $HEARTBEAT_SCHEMA.heartbeat (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  written_at DATETIME(6) NOT NULL,
  server_id INT UNSIGNED NOT NULL
) ENGINE=InnoDB;
CREATE EVENT IF NOT EXISTS $HEARTBEAT_SCHEMA.heartbeat ON SCHEDULE EVERY 1 SECOND
  DO REPLACE INTO $HEARTBEAT_SCHEMA.heartbeat
     SELECT 1, UTC_TIMESTAMP(6), @@server_id FROM DUAL WHERE @@GLOBAL.read_only = 0;
ALTER EVENT $HEARTBEAT_SCHEMA.heartbeat ENABLE;
CREATE OR REPLACE VIEW $HEARTBEAT_SCHEMA.exporter_heartbeat AS
  SELECT written_at AS ts, server_id FROM $HEARTBEAT_SCHEMA.heartbeat WHERE id = 1;
SET SESSION sql_log_bin = 1;
SQL
  is_mariadb || printf 'SET GLOBAL super_read_only = @super_read_only;\n'
}

# Peers read the heartbeat (and nothing else of the schema) as the replication user, which can
# already read every change from the binary log, so no further account and secret is needed; the
# switchover user reads it too.
heartbeat_grant_sql() {
  require_env REPLICATION_USER ADMIN_USER
  local user
  for user in "$REPLICATION_USER" "$ADMIN_USER"; do
    printf 'GRANT SELECT ON %s.heartbeat TO %s@%s;\n' "$HEARTBEAT_SCHEMA" "$(sql_string "$user")" "'%'"
  done
}
