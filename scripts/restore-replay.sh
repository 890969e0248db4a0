#!/usr/bin/env bash
# restore-replay: after the restore put a backup in place and replay-plan (replay_plan.py) checked
# restoreTo and cut the archive, and before the server first starts on it: runs the server without
# networking to give root this cluster's password, feed the plan's prologue (the GTID history
# continues at the backup's state) and replay the archived binary logs the plan lists. Only then
# does the mysql container start it as the primary: no client ever sees a partial replay. A replay
# cut off (the pod restarted) resumes: the mark left after the prologue makes the next plan skip
# it, and the retry continues from the GTID state the server holds, skipping what it committed.
set -euo pipefail
SCRIPT_NAME=restore-replay
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=offline-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/offline-server.sh"
require_env REPLAY_PLAN_DIR DATA_VOLUME

plan=$REPLAY_PLAN_DIR
if [[ ! -f "$plan/backup" ]]; then
  log "no restore pending"
  exit 0
fi
name=$(<"$plan/backup")
mapfile -t logs <"$plan/binlogs"
mapfile -t options <"$plan/binlog-options"
binlog_tool=$(dialect_command BINLOG_TOOL)
require_env READ_ONLY_OPTION

# Run by the server at its start (--init-file), outside the binary log: root gets this
# cluster's password, the restored accounts' passwords being the backed-up cluster's.
root_password_sql() (
  set +x # the statements carry the password
  local password host
  password=$(sql_string "$(secret_value root-password)")
  printf 'SET sql_log_bin=0;\n'
  for host in localhost 127.0.0.1; do
    printf "ALTER USER IF EXISTS 'root'@'%s' IDENTIFIED BY %s;\n" "$host" "$password"
  done
)

replay_sql() { offline_server_sql --binary-mode --batch --skip-column-names; }

# Named like the client option files, so that it goes with them however the script exits.
init_file="$(client_options_prefix)$$.init.sql"
(umask 077 && root_password_sql >"$init_file") || die "cannot write $init_file"
# No events: the restored heartbeat event would log a transaction of its own between RESET
# MASTER and setting the GTID state, which the server then refuses. Writable whatever init-mysql
# chose: after a restart of the pod it gives every server replica.cnf, and MySQL's
# super-read-only would refuse the replay even to root.
offline_server_start "${TMPDIR:-/tmp}/$SCRIPT_NAME" "--init-file=$init_file" --event-scheduler=OFF \
  --read-only=OFF "--$READ_ONLY_OPTION=OFF" || die "cannot start the server on the restored data; the pod retries"
root_options=$(client_options root root-password)
offline_server_login=("--defaults-extra-file=$root_options")
offline_server_wait 600 || die "the server did not start on the restored data; the pod retries"
rm -f "$init_file"
if [[ -f "$plan/prologue.sql" ]]; then
  replay_sql <"$plan/prologue.sql" || die "could not set the GTID state of the restored data; the pod retries"
  # replay_plan.py's REPLAYING_MARK: from now on a retry must not reset the GTID state.
  { touch "$DATA_VOLUME/restore-replaying" && sync; } || die "cannot record in $DATA_VOLUME that the replay began"
else
  log "resuming the replay of backup $name after an interrupted attempt"
fi
from=$(replay_sql <"$plan/position-query") || die "cannot read the GTID state of the restored data"
from=${from//[[:space:]]/}
log "replaying ${#logs[@]} archived binary logs after GTID $from$(<"$plan/up-to")"
{
  if ((${#logs[@]})); then "$binlog_tool" "$(<"$plan/start-option")$from" "${options[@]}" "${logs[@]}"; fi
} | replay_sql ||
  die "the replay failed; the restored data stays unstarted, and the pod retries from GTID state it reached"
offline_server_stop || die "the server did not shut down cleanly after the replay; the pod retries"
# The restore is done: the hand-over (restore_handover.py's restore-pending.json) and the logs go.
rm -rf "$DATA_VOLUME/restore-binlogs" "$DATA_VOLUME/restore-pending.json" "$DATA_VOLUME/restore-replaying"
log "restore of backup $name complete"
