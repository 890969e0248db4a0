#!/usr/bin/env bash
# restore drill, last step: after restore-replay replayed the archive onto the newest backup and
# shut its server down, starts the scratch server once more, without networking, and proves what
# a restore promises: the server starts clean (no error in its log, no crash recovery), its GTID
# position is the one restore-drill-plan computed from the backup and the archive, its own binary
# log holds exactly the archive's transactions after the backup, and every table reads whole
# (CHECKSUM TABLE reads every row; InnoDB checks each page's checksum as it reads it). Prints the
# verdict as its last line; the Job's outcome is the drill's signal.
set -euo pipefail
SCRIPT_NAME=restore-drill
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=restore-pending.sh
source "$(dirname "${BASH_SOURCE[0]}")/restore-pending.sh"
# shellcheck source=restore-drill-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/restore-drill-lib.sh"

require_env DATA_VOLUME
pending="$(restore_pending_file).applied"
[[ -f "$pending" ]] || fail "restore-replay left no record of a finished replay ($pending); see its log"
name=$(sed -n 's/^name=//p' "$pending")
name=$(checked "the drilled backup's name" "$BACKUP_NAME_RE" "$name")
expected=$(checked "the expected position" "$(restore_pending_grammar gtid)" "$(<"$(drill_expected_file)")")
started=$SECONDS

start_scratch_server "the restored backup $name" --read-only=ON
# A clean shutdown after the replay leaves nothing to recover; an error line is a broken restore.
if grep -q -e '\[ERROR\]' -e 'crash recovery' -e 'Starting crash recovery' "$scratch_log"; then
  problem=$(grep -m1 -e '\[ERROR\]' -e 'crash recovery' "$scratch_log")
  stop_scratch_server || true
  fail "the server on the restored backup $name did not start clean: $(shown "$problem")"
fi

# The replay lost or added transactions.
wrong_position() {
  stop_scratch_server || true
  fail "the restored server is at GTID $(shown "$position"), but backup $name and the archived binary logs reach $(shown "$expected"): the replay lost or added transactions. Restores from this backup would not match the source; take a new backup and see restore-replay's log"
}
# MariaDB's position is the last GTID of each domain; MySQL's the set of every transaction, which
# the server itself compares with the expected one (restore-drill-lib.sh).
if is_mariadb; then
  position=$(scratch_sql -e 'SELECT @@GLOBAL.gtid_binlog_pos') || fail "cannot read the scratch server's GTID position"
  position=$(sorted_entries "${position//[[:space:]]/}")
  [[ "$position" == "$expected" ]] || wrong_position
else
  position=$(scratch_sql -e "SELECT REPLACE(@@GLOBAL.gtid_executed, '\\n', '')") || fail "cannot read the scratch server's gtid_executed"
  { mysql_set_holds "$position" "$expected" && mysql_set_holds "$expected" "$position"; } || wrong_position
fi

# pt-table-checksum (percona-toolkit), run on the primary, writes each chunk's checksum with a
# statement that every server replaying it computes on its own data (this_crc, this_cnt), and the
# primary's own result beside it (source_crc and source_cnt as percona-toolkit 3.7 names them,
# master_… in tables an older one made), in its --replicate table (by default percona.checksums):
# the replay recomputed every round in the archive on the restored data at the round's place in
# the transaction order, as a replica would (percona-toolkit bin/pt-table-checksum). A chunk that
# differs is data that differs from the source's there; the transactions after it are proven above.
source_columns=$(scratch_sql -e "SELECT GROUP_CONCAT(column_name ORDER BY column_name)
  FROM information_schema.columns WHERE table_schema = 'percona' AND table_name = 'checksums'
  AND column_name IN ('source_crc', 'source_cnt', 'master_crc', 'master_cnt')") ||
  fail "cannot look for percona.checksums"
compared=none
case "$source_columns" in
  source_cnt,source_crc) crc=source_crc cnt=source_cnt ;;
  master_cnt,master_crc) crc=master_crc cnt=master_cnt ;;
  *) crc= ;;
esac
if [[ -n "$crc" ]]; then
  differing=$(scratch_sql -e "SELECT CONCAT(db, '.', tbl, ' chunk ', chunk, ' checksummed at ', ts)
    FROM percona.checksums WHERE $cnt <> this_cnt OR $crc <> this_crc
    OR ISNULL($crc) <> ISNULL(this_crc) ORDER BY ts, db, tbl, chunk" 2>&1) ||
    fail "cannot read percona.checksums, pt-table-checksum's results: $(shown "$differing")"
  if [[ -n "$differing" ]]; then
    stop_scratch_server || true
    fail "the restored data differs from the source's: pt-table-checksum's checksums replayed from the archive differ from the primary's for $(wc -l <<<"$differing") chunks (first: $(shown "${differing%%$'\n'*}")). A change reached the primary's data without its binary log, or the backup's donor had drifted; a restore would not match the source. Run pt-table-checksum against the replicas, rebuild any that differ, and take a new backup"
  fi
  compared=$(scratch_sql -e "SELECT COUNT(*) FROM percona.checksums") || fail "cannot count percona.checksums"
fi

tables=$(scratch_sql -e "SELECT CONCAT('\`', REPLACE(table_schema, '\`', '\`\`'), '\`.\`', REPLACE(table_name, '\`', '\`\`'), '\`')
  FROM information_schema.tables WHERE table_type = 'BASE TABLE'
  AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')") ||
  fail "cannot list the restored tables"
count=0
while IFS= read -r table; do
  [[ -n "$table" ]] || continue
  result=$(scratch_sql -e "CHECKSUM TABLE $table EXTENDED" 2>&1) ||
    fail "table $table of backup $name does not read back whole: $(shown "$result")"
  log "checksum $(shown "${result//$'\t'/ }")"
  count=$((count + 1))
done <<<"$tables"
stop_scratch_server || fail "the scratch server did not shut down cleanly"

# The replay wrote every transaction it applied to the scratch server's own binary log, with its
# GTID (restore-replay reset that log first): it must hold exactly the archive's transactions
# after the backup, in order. A transaction skipped while the position still ended right is what
# a restore that reports success but lost data looks like.
# (Named like binary logs exactly: MariaDB 11.4+ keeps a GTID index, mysql-bin.000001.idx, beside.)
mapfile -t own_logs < <(find "$DATA_VOLUME/$DATA_SUBDIR" -maxdepth 1 -regextype posix-extended \
  -regex '.*/mysql-bin\.[0-9]{6,10}' | sort)
applied=$(binlog_gtids "${own_logs[@]}" | cut -d' ' -f3- | tr ' ' '\n' | sed '/^$/d') ||
  fail "cannot read the scratch server's binary logs"
if ! difference=$(diff <(printf '%s\n' "$applied" | sed '/^$/d') "$(drill_replayed_file)"); then
  fail "the replay did not apply exactly the archived transactions after backup $name (applied < > archived: $(shown "$(head -n 3 <<<"$difference" | tr '\n' ' ')")): a restore would silently lose or add them. See restore-replay's log, and take a new backup"
fi
transactions=$(wc -l <"$(drill_replayed_file)")
log "VERDICT: restore drill passed: backup $name and the $transactions archived transactions after it restored to GTID $position, each applied once in order; the server started clean; $count tables read whole; $compared chunks checksummed by pt-table-checksum equal the source's (${SECONDS}s, $((SECONDS - started))s for this check)"
