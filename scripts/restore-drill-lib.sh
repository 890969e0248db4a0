# shellcheck shell=bash
# What the restore drill's steps share: where the plan leaves what the replay must do (the
# position it must reach, the transactions it must apply), the scratch server they start on the
# restored data, the check of the archived binary logs' chain, and the GTIDs of binary logs.

drill_expected_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/drill-expected-gtid"
}

drill_replayed_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/drill-expected-transactions"
}

# The drill's verdict on a failure, its last log line.
fail() {
  log "VERDICT: restore drill FAILED: $*"
  exit 1
}

# Starts the server on the restored data without networking (options <@> added) and waits until
# root answers (SECRETS_DIR's root-password, or any login under --skip-grant-tables). Sets
# scratch_pid and scratch_log (its error log); scratch_sql runs the SQL client against it. Stops naming the
# server's first error when it does not start; <1> names the data in that message.
start_scratch_server() {
  local what=$1 server deadline
  shift
  server=$(if is_mariadb; then need_command mariadbd mysqld; else need_command mysqld; fi)
  scratch_socket="${TMPDIR:-/tmp}/$SCRIPT_NAME.sock"
  scratch_log="${TMPDIR:-/tmp}/$SCRIPT_NAME-server.log"
  scratch_client=$(sql_client)
  "$server" --skip-networking --socket="$scratch_socket" --event-scheduler=OFF \
    --log-error="$scratch_log" --pid-file="${TMPDIR:-/tmp}/$SCRIPT_NAME.pid" "$@" &
  scratch_pid=$!
  scratch_options=$(client_options root root-password)
  deadline=$((SECONDS + 600))
  until scratch_sql -e 'SELECT 1' >/dev/null 2>&1; do
    kill -0 "$scratch_pid" 2>/dev/null ||
      fail "the server did not start on $what: $(shown "$(grep -m1 ERROR "$scratch_log")"). Take a new backup and run the drill again; if it fails alike, the backups cannot be restored"
    ((SECONDS < deadline)) || fail "the server did not start on $what within 600s"
    sleep 1
  done
}

scratch_sql() {
  "$scratch_client" --defaults-extra-file="$scratch_options" --socket="$scratch_socket" --batch \
    --skip-column-names "$@"
}

stop_scratch_server() { kill -TERM "$scratch_pid" && wait "$scratch_pid"; }

# "<file> [<GTID state at its start>] <GTID> <GTID> ..." for each binary log given. MariaDB's
# binlog tool prints a log's starting state as its Gtid_list event ("Gtid list [0-1-5,\n#
# 0-2-7]") and each transaction's "GTID 0-1-6"; MySQL's prints it as the Previous-GTIDs event
# (the header line, then the set on "# "-lines, or "# [empty]") and each transaction's GTID as
# "SET @@SESSION.GTID_NEXT= '<uuid>[:<tag>]:<number>'" (not AUTOMATIC or ANONYMOUS, which are none).
binlog_gtids() {
  local tool log
  tool=$(if is_mariadb; then need_command mariadb-binlog mysqlbinlog; else need_command mysqlbinlog; fi)
  for log in "$@"; do
    "$tool" "$log" | awk -v file="${log##*/}" '
      function take(text) { gsub(/[^0-9A-Za-z_:,-]/, "", text); sub(/^empty$/, "", text); list = list text }
      /Gtid list \[/ { sub(/.*Gtid list \[/, ""); take($0); listing = ($0 !~ /\]/); next }
      /[[:space:]]Previous-GTIDs[[:space:]]*$/ { listing = 1; next }
      listing && /^# / && !/^# at / { take($0); listing = ($0 !~ /\]/); next }
      { listing = 0 }
      match($0, /[[:space:]]GTID [0-9]+-[0-9]+-[0-9]+/) { gtids = gtids " " substr($0, RSTART + 6, RLENGTH - 6) }
      /^SET @@SESSION\.GTID_NEXT= \047/ { split($0, quoted, "\047"); if (quoted[2] ~ /^[0-9A-Fa-f]+-[0-9A-Fa-f-]+:/) gtids = gtids " " tolower(quoted[2]) }
      END { printf "%s [%s]%s\n", file, list, gtids }' || return 1
  done
}

# From the backup's GTID position <1> and the archive's chain <2> (binlog_gtids, oldest log
# first), prints the position (the last GTID of every domain) a replay of the archive onto the
# backup reaches, and writes the GTIDs it applies (those after the backup), one a line, to file
# <3>; stops naming the first gap.
mariadb_chain_end() {
  local backup=$1 chain=$2 replayed=$3 file list rest entry held state='' previous='' first=1
  local -A at=() last=() backed_up=()
  for entry in ${backup//,/ }; do last[${entry%%-*}]=$entry backed_up[${entry%%-*}]=${entry##*-}; done
  : >"$replayed" || die "cannot write $replayed"
  while read -r file list rest; do
    list=${list#[}
    list=${list%]}
    checked "the Gtid_list of archived binary log $file" "^(${MARIADB_GTID_RE:1:-1})?\$" "$list" >/dev/null
    if ((first)); then
      # The first log must begin at or before the backup in every domain.
      for entry in ${list//,/ }; do
        held=${last[${entry%%-*}]:-}
        if [[ -z "$held" ]] || ((${entry##*-} > ${held##*-})); then
          die "GAP: the archive begins after the backup's position ($file begins at [$list], the backup is at $backup): the transactions between are in no archived log. Take a new backup now; the archive covers what follows it"
        fi
      done
    elif [[ "$(sorted_entries "$list")" != "$(sorted_entries "$state")" ]]; then
      die "GAP: archived binary log $file begins at GTID state [$list] but $previous ended at [$state]: a log between them is missing from the archive, and a point-in-time restore across it would lose transactions. Take a new backup now, and look in the primary's binlog-archive log for 'purged before it was archived' or 'could not copy'"
    fi
    at=()
    for entry in ${list//,/ }; do at[${entry%-*}]=$entry; done
    checked "the GTIDs of archived binary log $file" "^($_MARIADB_GTID( $_MARIADB_GTID)*)?\$" "$rest" >/dev/null
    for entry in $rest; do
      at[${entry%-*}]=$entry
      held=${last[${entry%%-*}]:-}
      if [[ -z "$held" ]] || ((${entry##*-} > ${held##*-})); then last[${entry%%-*}]=$entry; fi
      if ((${entry##*-} > ${backed_up[${entry%%-*}]:-0})); then printf '%s\n' "$entry"; fi
    done >>"$replayed"
    state=$(IFS=,; echo "${at[*]}")
    previous=$file first=0
  done <<<"$chain"
  sorted_entries "$(IFS=,; echo "${last[*]}")"
}

# A GTID list's entries in one order, comma-separated.
sorted_entries() {
  tr ',' '\n' <<<"$1" | sed '/^$/d' | sort -t- -k1,1n -k2,2n | paste -sd, -
}

# MySQL's GTID sets are compared by the server itself (GTID_SUBSET, GTID_SUBTRACT on the scratch
# server): a set's text has many spellings (intervals split or merged, members in any order, tags
# after their uuid), and only the server's reading of them is exact. Sets go on stdin: a binary
# log's transactions make a statement longer than one argument may be.

# The transactions of MySQL GTID set <1> that set <2> (by default none) lacks, as the server
# writes a set: its intervals merged, on one line.
mysql_gtid_set() {
  scratch_sql <<<"SELECT REPLACE(GTID_SUBTRACT($(sql_string "$1"), $(sql_string "${2:-}")), '\n', '')"
}

# Exit status 0 when MySQL GTID set <1> holds every transaction of set <2>.
mysql_set_holds() {
  local held
  held=$(scratch_sql <<<"SELECT GTID_SUBSET($(sql_string "$2"), $(sql_string "$1"))") ||
    die "the scratch server could not compare the GTID sets $(shown "$1") and $(shown "$2")"
  [[ "$held" == 1 ]]
}

# MySQL GTID sets <@> as one set's text (empty ones left out).
joined_sets() {
  local IFS=,
  printf '%s\n' "$*" | sed -e 's/,,*/,/g' -e 's/^,//' -e 's/,$//'
}

# The MySQL counterpart of mariadb_chain_end, on the scratch server: every binary log begins with
# a Previous-GTIDs event, the server's gtid_executed when it began (mysql-server
# libs/mysql/binlog/event/control_events.h, Previous_gtids_event). The first archived log must
# begin at or inside the backup's set (a transaction it says came before it and the backup lacks
# is in no archived log); each later one must begin at exactly what the one before it began at
# plus what it holds. The position the replay reaches is the backup's set plus the archive's.
mysql_chain_end() {
  local backup=$1 chain=$2 replayed=$3 file list rest state='' previous='' first=1 gtids missing
  local -a each
  : >"$replayed" || die "cannot write $replayed"
  while read -r file list rest; do
    list=${list#[}
    list=${list%]}
    checked "the Previous-GTIDs of archived binary log $file" "^(${MYSQL_GTID_RE:1:-1})?\$" "$list" >/dev/null
    checked "the GTIDs of archived binary log $file" "^($_MYSQL_GTID( $_MYSQL_GTID)*)?\$" "$rest" >/dev/null
    if ((first)); then
      mysql_set_holds "$backup" "$list" ||
        die "GAP: the archive begins after the backup's position: $file begins after transactions $(shown "$(mysql_gtid_set "$list" "$backup")") that are in neither backup $(shown "$backup") nor any archived log. Take a new backup now; the archive covers what follows it"
    elif ! { mysql_set_holds "$list" "$state" && mysql_set_holds "$state" "$list"; }; then
      missing=$(mysql_gtid_set "$list" "$state")
      die "GAP: archived binary log $file begins after GTID set $(shown "$(mysql_gtid_set "$list")") but $previous ended at $(shown "$state")${missing:+ (transactions in no archived log: $(shown "$missing"))}: a log between them is missing from the archive, and a point-in-time restore across it would lose transactions. Take a new backup now, and look in the primary's binlog-archive log for 'purged before it was archived' or 'could not copy'"
    fi
    if [[ -n "$rest" ]]; then
      read -ra each <<<"$rest"
      gtids=$(printf '"%s",' "${each[@]}")
      # Those after the backup, in the log's order.
      scratch_sql <<<"SELECT gtid FROM JSON_TABLE($(sql_string "[${gtids%,}]"), '\$[*]'
        COLUMNS (n FOR ORDINALITY, gtid VARCHAR(100) PATH '\$')) AS log
        WHERE NOT GTID_SUBSET(gtid, $(sql_string "$backup")) ORDER BY n" >>"$replayed" ||
        die "cannot compare the GTIDs of archived binary log $file with the backup's"
    fi
    state=$(mysql_gtid_set "$(joined_sets "$list" "${rest// /,}")") ||
      die "cannot read the GTID set archived binary log $file ends at"
    previous=$file first=0
  done <<<"$chain"
  mysql_gtid_set "$(joined_sets "$backup" "$state")"
}
