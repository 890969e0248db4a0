#!/usr/bin/env bash
# restore-replay: after restore.sh put a backup in place, and before the server first starts on
# it, checks that restoreTo lies inside what the backup and the archived binary logs cover, then
# runs the server without networking to give root this cluster's password, continue the GTID
# history at the backup's position, and replay the archived binary logs up to restoreTo. Only
# then does the mysql container start it as the primary: no client ever sees a partial replay.
# A replay cut off (the pod restarted) resumes: once the GTID state is set the hand-over file says
# so, and a retry continues from the GTID state the server holds, skipping what it committed.
set -euo pipefail
SCRIPT_NAME=restore-replay
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=replication.sh
source "$(dirname "${BASH_SOURCE[0]}")/replication.sh"
# shellcheck source=restore-pending.sh
source "$(dirname "${BASH_SOURCE[0]}")/restore-pending.sh"

pending=$(restore_pending_file)
if [[ ! -f "$pending" ]]; then
  log "no restore pending"
  exit 0
fi
name=$(restore_pending_value name)
gtid=$(restore_pending_value gtid)
backup_end=$(restore_pending_value end)
binlogs=$(restore_binlogs_dir)
gtid_target_re=$(if is_mariadb; then echo "$MARIADB_GTID_RE"; else echo "$MYSQL_ONE_GTID_RE"; fi)
target=$(checked "restoreTo" "^(|latest|${MANIFEST_GRAMMAR[endTime]:1:-1}|${gtid_target_re:1:-1})\$" "${RESTORE_TO:-}")
# mysqlbinlog and gtid_executed write uuids in lower case.
if [[ "$target" =~ $MYSQL_ONE_GTID_RE ]]; then target=${target,,}; fi
server=$(if is_mariadb; then need_command mariadbd mysqld; else need_command mysqld; fi)
binlog_tool=$(if is_mariadb; then need_command mariadb-binlog mysqlbinlog; else need_command mysqlbinlog; fi)
client=$(sql_client)

logs=()
if [[ -d "$binlogs" ]]; then mapfile -t logs < <(find "$binlogs" -maxdepth 1 -name 'mysql-bin.[0-9]*' | sort); fi
if [[ -n "$target" ]] && ((${#logs[@]} == 0)); then
  die "restoreTo $target: no binary logs were archived after backup $name; set restoreTo to \"\" or wait for the archive"
fi

# The archived events after GTID state <1>, as the SQL that replays them (to the target, or all).
replay_args() {
  if is_mariadb; then printf '%s\n' "--start-position=$1"; else printf '%s\n' "--exclude-gtids=$1"; fi
  case "$target" in
    "" | latest) ;;
    *T*Z) printf '%s\n' "--stop-datetime=${target:0:10} ${target:11:8}" ;;
    *) if is_mariadb; then
      printf '%s\n' "--stop-position=$target"
    elif [[ -n "$stop_position" ]]; then
      printf '%s\n' "--stop-position=$stop_position"
    fi ;;
  esac
}

# "#YYMMDD HH:MM:SS" event headers of the archive after the backup, as YYYYMMDDHHMMSS.
last_event_time() {
  "$binlog_tool" "$(replay_args "$gtid" | head -n 1)" "${logs[@]}" |
    sed -n 's/^#\([0-9]\{6\}\) \{1,2\}\([0-9]\{1,2\}\):\([0-9]\{2\}\):\([0-9]\{2\}\) server id.*/20\1 \2 \3 \4/p' |
    tail -n 1 | awk '{ printf "%s%02d%s%s\n", $1, $2, $3, $4 }'
}

# restoreTo must lie between the backup's end and the last archived event.
check_target() {
  local wanted last_gtid
  [[ -n "$target" && "$target" != latest ]] || return 0
  if [[ "$target" == *T*Z ]]; then
    wanted=$(tr -d -- '-:TZ' <<<"$target")
    [[ "$wanted" > "$(tr -d -- '-:TZ' <<<"$backup_end")" ]] ||
      die "restoreTo $target is before backup $name ended ($backup_end); choose an older backup in restoreFrom"
    [[ "$wanted" < "$(last_event_time)" || "$wanted" == "$(last_event_time)" ]] ||
      die "restoreTo $target is after the last archived change ($(last_event_time)); choose an earlier time, or wait until the archive reaches it (binlogArchiveIntervalSeconds)"
  elif ! is_mariadb; then
    mysql_gtid_in_set "$target" "$gtid" &&
      die "restoreTo $target is in backup $name (GTID set $gtid), not after it; choose an older backup in restoreFrom"
    cut_archive_at_target
    [[ -n "$cut" ]] ||
      die "restoreTo $target is in neither backup $name nor the ${#logs[@]} binary logs archived after it; name a GTID the primary committed after the backup (its gtid_executed), or wait until the archive reaches it (binlogArchiveIntervalSeconds)"
  else
    last_gtid=$("$binlog_tool" "${logs[@]}" | grep -o 'GTID [0-9]*-[0-9]*-[0-9]*' | tail -n 1 | cut -d' ' -f2)
    last_gtid=$(checked "the last GTID of the archived binary logs" "$MARIADB_GTID_RE" "$last_gtid")
    gtid_at_or_before "$target" "$gtid" &&
      die "restoreTo $target is not after backup $name's position $gtid; choose an older backup in restoreFrom"
    gtid_at_or_before "$target" "$last_gtid" ||
      die "restoreTo $target is after the last archived transaction ($last_gtid); choose an earlier position, or wait until the archive reaches it"
  fi
}

# MariaDB: whether GTID <1> (domain-server-seq) is at or before position <2> in its domain.
gtid_at_or_before() {
  local domain=${1%%-*} seq=${1##*-} other
  for other in ${2//,/ }; do
    [[ "${other%%-*}" == "$domain" ]] && ((seq <= ${other##*-})) && return 0
  done
  return 1
}

# MySQL: whether GTID <1> (uuid:number, lower case) is in GTID set <2> (checked by its grammar,
# so its numbers are safe in arithmetic). Intervals after a tag are that tag's, not <1>'s.
mysql_gtid_in_set() {
  local uuid=${1%:*} number=${1##*:} member part tagged
  local -a parts
  for member in ${2//,/ }; do
    member=${member,,}
    [[ "${member%%:*}" == "$uuid" ]] || continue
    tagged=
    IFS=: read -ra parts <<<"${member#*:}"
    for part in "${parts[@]}"; do
      if [[ "$part" != [0-9]* ]]; then
        tagged=yes
      elif [[ -z "$tagged" ]] && ((${part%-*} <= number && number <= ${part#*-})); then
        return 0
      fi
    done
  done
  return 1
}

# "to a GTID" is a point in binary-log order, whatever other sources' transactions interleave
# (failovers): for each archived log in order, the "# at" offset of the first GTID event after
# restoreTo's one (where the transaction after it begins), or "end" when its transaction ends
# the log; nothing when restoreTo is not in the log.
# shellcheck disable=SC2016 # awk's own variables
next_gtid_event_awk='
  /^# at [0-9]+$/ { at = $3 }
  /^SET @@SESSION\.GTID_NEXT= / {
    split($0, quoted, "\047")
    if (found && !printed && quoted[2] != "AUTOMATIC") { print at; printed = 1 }
    if (tolower(quoted[2]) == gtid) found = 1
  }
  END { if (found && !printed) print "end" }'

# MySQL: cuts the archive after restoreTo's transaction: the logs before its log whole, its log
# up to stop_position (or whole), none after it; sets cut when restoreTo is in the archive.
cut=""
stop_position=""
cut_archive_at_target() {
  local index found
  for index in "${!logs[@]}"; do
    found=$("$binlog_tool" "${logs[index]}" | awk -v gtid="$target" "$next_gtid_event_awk") ||
      die "cannot read the archived binary log ${logs[index]}; the pod retries"
    [[ -n "$found" ]] || continue
    if [[ "$found" != end ]]; then
      stop_position=$(checked "the position after restoreTo $target in ${logs[index]}" "$BINLOG_POSITION_RE" "$found")
    fi
    logs=("${logs[@]:0:index+1}")
    cut=yes
    return 0
  done
}

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

# Then, also outside the binary log: the backup's replication settings go, and new
# transactions continue the GTID history at the backup's position.
prologue_sql() {
  printf 'SET sql_log_bin=0;\n%s;\n%s;\n' "$(replication_word stop)" "$(replication_word reset)"
  if is_mariadb; then
    printf "RESET MASTER;\nSET GLOBAL gtid_binlog_state=%s;\n" "$(sql_string "$gtid")"
  else
    reset_binary_logs_sql
    printf 'SET GLOBAL gtid_purged=%s;\n' "$(sql_string "$gtid")"
  fi
  printf 'SET sql_log_bin=1;\n'
}

# The server's GTID state: where a replay (resumed or not) continues from.
position_sql() {
  if is_mariadb; then echo 'SELECT @@GLOBAL.gtid_binlog_pos;'; else echo 'SELECT @@GLOBAL.gtid_executed;'; fi
}

replay_sql() {
  "$client" --defaults-extra-file="$options" --socket="$socket" --binary-mode --batch --skip-column-names "$@"
}

check_target
socket="${TMPDIR:-/tmp}/restore.sock"
# Named like the client option files, so that it goes with them however the script exits.
init_file="$(client_options_prefix)$$.init.sql"
(umask 077 && root_password_sql >"$init_file") || die "cannot write $init_file"
# No events: the restored heartbeat event (heartbeat.sh) would log a transaction of its own
# between RESET MASTER and setting the GTID state, which the server then refuses. Writable
# whatever init-mysql chose: after a restart of the pod it gives every server replica.cnf, and
# MySQL's super-read-only would refuse the replay even to root.
writable=(--read-only=OFF)
if ! is_mariadb; then writable+=(--super-read-only=OFF); fi
"$server" --skip-networking --socket="$socket" --init-file="$init_file" --event-scheduler=OFF \
  "${writable[@]}" --pid-file="${TMPDIR:-/tmp}/restore.pid" &
server_pid=$!
options=$(client_options root root-password)
deadline=$((SECONDS + 600))
until "$client" --defaults-extra-file="$options" --socket="$socket" -e 'SELECT 1' >/dev/null 2>&1; do
  kill -0 "$server_pid" 2>/dev/null || die "the server did not start on the restored data; see its log above"
  ((SECONDS < deadline)) || die "the server did not start on the restored data within 600s"
  sleep 1
done
rm -f "$init_file"
if [[ -z "$(restore_pending_value replaying)" ]]; then
  prologue_sql | replay_sql || die "could not set the GTID state of the restored data; the pod retries"
  mark_restore_replaying || die "cannot record in $pending that the replay began"
else
  log "resuming the replay of backup $name after an interrupted attempt"
fi
from=$(replay_sql -e "$(position_sql)") || die "cannot read the GTID state of the restored data"
from=$(checked "the restored server's GTID state" "$(restore_pending_grammar gtid)" "${from//[[:space:]]/}")
log "replaying ${#logs[@]} archived binary logs after GTID $from${target:+ up to $target}"
mapfile -t args < <(replay_args "$from")
position=$({
  if ((${#logs[@]})); then "$binlog_tool" "${args[@]}" "${logs[@]}"; fi
  position_sql
} | replay_sql) ||
  die "the replay failed; the restored data stays unstarted, and the pod retries from GTID state it reached"
kill -TERM "$server_pid"
wait "$server_pid" || die "the server did not shut down cleanly after the replay"
if [[ -n "$cut" ]]; then
  position=$(checked "the replayed server's GTID state" "$(restore_pending_grammar gtid)" "${position//[[:space:]]/}")
  mysql_gtid_in_set "$target" "$position" ||
    die "the replay ended before restoreTo $target's transaction was complete (the archive holds only its start); the pod retries once the archive has the rest (binlogArchiveIntervalSeconds)"
fi
rm -rf "$binlogs"
mv "$pending" "$pending.applied"
log "restore of backup $name complete at GTID $position"
