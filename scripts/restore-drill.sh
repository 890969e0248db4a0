#!/usr/bin/env bash
# restore drill, the scratch server's checks: after restore-replay replayed the archive onto the
# newest backup and shut its server down, starts the server once more, without networking, and
# proves that it starts clean (no error in its log, no crash recovery) and that every table reads
# whole (CHECKSUM TABLE reads every row; InnoDB checks each page's checksum as it reads it). It
# writes what the verdict (restore_drill.py) judges into DRILL_RESULTS_DIR, as the client prints
# it: the server's GTID state, the tables' checksums and pt-table-checksum's table.
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
# primary's own result beside it, in its --replicate table (by default percona.checksums): the
# replay recomputed every round in the archive on the restored data at the round's place in the
# transaction order, as a replica would (percona-toolkit bin/pt-table-checksum). The verdict
# chooses the primary's columns (their names changed) and compares: here, the table's column
# names and the whole table, headed by them.
scratch_sql -e "SELECT column_name FROM information_schema.columns
  WHERE table_schema = 'percona' AND table_name = 'checksums'" >"$results/checksums-columns" ||
  fail "cannot look for percona.checksums"
: >"$results/percona-checksums"
if [[ -s "$results/checksums-columns" ]]; then
  offline_server_sql --batch -e "SELECT * FROM percona.checksums" >"$results/percona-checksums" ||
    fail "cannot read percona.checksums, pt-table-checksum's results"
fi

# One client runs CHECKSUM TABLE on every table and stops at the first that fails; a table the
# server cannot open checksums to NULL, with a warning saying why. The verdict names the table.
scratch_sql -e "SELECT CONCAT('CHECKSUM TABLE \`', REPLACE(table_schema, '\`', '\`\`'), '\`.\`', REPLACE(table_name, '\`', '\`\`'), '\` EXTENDED;')
  FROM information_schema.tables WHERE table_type = 'BASE TABLE'
  AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')" >"$results/checksum-statements" ||
  fail "cannot list the restored tables"
scratch_sql --show-warnings <"$results/checksum-statements" >"$results/checksums" 2>"$results/checksum-errors" ||
  log "CHECKSUM TABLE stopped at a table that does not read back whole (the verdict names it)"
# A server that died on a table's read is judged by the verdict, which names the table.
offline_server_stop || [[ -s "$results/checksum-errors" ]] || fail "the scratch server did not shut down cleanly"
