#!/usr/bin/env bash
# restore drill, the scratch server's checks: after restore-replay replayed the archive onto the
# newest backup and shut its server down, starts the server once more, without networking, and
# proves that it starts clean (no error in its log, no crash recovery) and that every table reads
# whole (CHECKSUM TABLE reads every row; InnoDB checks each page's checksum as it reads it). It
# writes what the verdict (restore_drill.py) compares into DRILL_RESULTS_DIR: the server's GTID
# state, the tables' checksums and pt-table-checksum's chunks that differ from the source's.
set -euo pipefail
SCRIPT_NAME=restore-drill-server
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=offline-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/offline-server.sh"
require_env DRILL_RESULTS_DIR
results=$DRILL_RESULTS_DIR

# The drill's verdict on a failure, its last log line.
fail() {
  log "VERDICT: restore drill FAILED: $*"
  exit 1
}

offline_server_start "${TMPDIR:-/tmp}/$SCRIPT_NAME" --event-scheduler=OFF --read-only=ON ||
  fail "cannot start the server on the restored backup"
options=$(client_options root root-password)
offline_server_login=("--defaults-extra-file=$options")
scratch_sql() { offline_server_sql --batch --skip-column-names "$@"; }
offline_server_wait 600 ||
  fail "the server did not start on the restored backup: $(offline_server_error). Take a new backup and run the drill again; if it fails alike, the backups cannot be restored"
# A clean shutdown after the replay leaves nothing to recover; an error line is a broken restore.
if problem=$(grep -m1 -e '\[ERROR\]' -e 'crash recovery' "$offline_server_dir/error.log"); then
  offline_server_stop || true
  fail "the server on the restored backup did not start clean: $(shown "$problem")"
fi
scratch_sql <"$results/position-query" >"$results/position" || fail "cannot read the scratch server's GTID state"

# pt-table-checksum (percona-toolkit), run on the primary, writes each chunk's checksum with a
# statement that every server replaying it computes on its own data (this_crc, this_cnt), and the
# primary's own result beside it (source_crc and source_cnt as percona-toolkit 3.7 names them,
# master_… in tables an older one made), in its --replicate table (by default percona.checksums):
# the replay recomputed every round in the archive on the restored data at the round's place in
# the transaction order, as a replica would (percona-toolkit bin/pt-table-checksum).
source_columns=$(scratch_sql -e "SELECT GROUP_CONCAT(column_name ORDER BY column_name)
  FROM information_schema.columns WHERE table_schema = 'percona' AND table_name = 'checksums'
  AND column_name IN ('source_crc', 'source_cnt', 'master_crc', 'master_cnt')") ||
  fail "cannot look for percona.checksums"
echo none >"$results/compared-chunks"
: >"$results/differing-chunks"
case "$source_columns" in
  source_cnt,source_crc) crc=source_crc cnt=source_cnt ;;
  master_cnt,master_crc) crc=master_crc cnt=master_cnt ;;
  *) crc= ;;
esac
if [[ -n "$crc" ]]; then
  scratch_sql -e "SELECT CONCAT(db, '.', tbl, ' chunk ', chunk, ' checksummed at ', ts)
    FROM percona.checksums WHERE $cnt <> this_cnt OR $crc <> this_crc
    OR ISNULL($crc) <> ISNULL(this_crc) ORDER BY ts, db, tbl, chunk" >"$results/differing-chunks" ||
    fail "cannot read percona.checksums, pt-table-checksum's results"
  scratch_sql -e "SELECT COUNT(*) FROM percona.checksums" >"$results/compared-chunks" ||
    fail "cannot count percona.checksums"
fi

tables=$(scratch_sql -e "SELECT CONCAT('\`', REPLACE(table_schema, '\`', '\`\`'), '\`.\`', REPLACE(table_name, '\`', '\`\`'), '\`')
  FROM information_schema.tables WHERE table_type = 'BASE TABLE'
  AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')") ||
  fail "cannot list the restored tables"
: >"$results/checksums"
while IFS= read -r table; do
  [[ -n "$table" ]] || continue
  result=$(scratch_sql -e "CHECKSUM TABLE $table EXTENDED" 2>&1) ||
    fail "table $table of the restored backup does not read back whole: $(shown "$result")"
  printf '%s\n' "$result" >>"$results/checksums"
done <<<"$tables"
offline_server_stop || fail "the scratch server did not shut down cleanly"
