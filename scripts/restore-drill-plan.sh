#!/usr/bin/env bash
# restore drill, after restore.sh fetched the newest backup and its history's archived binary
# logs, before restore-replay replays them: proves that the logs form one unbroken chain from the
# backup's GTID position on, and records the transactions the replay must apply (those after the
# backup) and the position it must then reach. Every binary log begins with the GTID state the
# server had when it began it: MariaDB's Gtid_list event (server code: sql/log_event.cc,
# Gtid_list_log_event), MySQL's Previous-GTIDs event. Each archived log must begin where the one
# before it ended, and the first must not begin after the backup (restore-drill-lib.sh). MySQL's
# GTID sets are compared by the server itself, which runs on the restored data for that, without
# networking or grant tables (restore-replay starts it again). Also gives the scratch server a
# root password of its own: the drill holds none of the cluster's.
set -euo pipefail
SCRIPT_NAME=restore-drill-plan
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=restore-pending.sh
source "$(dirname "${BASH_SOURCE[0]}")/restore-pending.sh"
# shellcheck source=restore-drill-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/restore-drill-lib.sh"

require_env SECRETS_DIR
name=$(restore_pending_value name)
gtid=$(restore_pending_value gtid)
binlogs=$(restore_binlogs_dir)
logs=()
if [[ -d "$binlogs" ]]; then mapfile -t logs < <(find "$binlogs" -maxdepth 1 -name 'mysql-bin.[0-9]*' | sort); fi
((${#logs[@]})) ||
  die "no binary logs were archived with backup $name, so no recovery point after it can be proven; check the primary's binlog-archive container"
(
  set +x
  umask 077
  mkdir -p "$SECRETS_DIR" && head -c 24 /dev/urandom | base64 >"$SECRETS_DIR/root-password"
) || die "cannot write the scratch server's password into $SECRETS_DIR"

chain=$(binlog_gtids "${logs[@]}") || die "cannot read the archived binary logs of backup $name"
if is_mariadb; then
  expected=$(mariadb_chain_end "$gtid" "$chain" "$(drill_replayed_file)") || exit 1
else
  start_scratch_server "the restored backup $name" --skip-grant-tables --skip-replica-start --read-only=ON
  status=0
  expected=$(mysql_chain_end "$gtid" "$chain" "$(drill_replayed_file)") || status=$?
  stop_scratch_server || die "the server for the GTID arithmetic did not shut down cleanly"
  ((status == 0)) || exit "$status"
fi
printf '%s\n' "$expected" >"$(drill_expected_file)" || die "cannot record the expected position"
log "backup $name at GTID $gtid and ${#logs[@]} archived binary logs form one chain; the replay must apply $(wc -l <"$(drill_replayed_file)") transactions and reach GTID $expected"
