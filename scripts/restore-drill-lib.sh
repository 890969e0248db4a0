# shellcheck shell=bash
# What the restore drill's steps share: where the plan leaves what the replay must do (the
# position it must reach, the transactions it must apply), the check of the archived binary logs'
# chain, and the GTIDs of binary logs.

drill_expected_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/drill-expected-gtid"
}

drill_replayed_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/drill-expected-transactions"
}

# "<file> [<Gtid_list entries>] <GTID> <GTID> ..." for each binary log given, as mariadb-binlog
# prints their events' headers ("Gtid list [0-1-5,\n# 0-2-7]", "GTID 0-1-6 trans").
binlog_gtids() {
  local tool log
  tool=$(need_command mariadb-binlog mysqlbinlog)
  for log in "$@"; do
    "$tool" "$log" | awk -v file="${log##*/}" '
      /Gtid list \[/ { listing = 1; sub(/.*Gtid list \[/, "") }
      listing { line = $0; gsub(/[^0-9,-]/, "", line); list = list line; if ($0 ~ /\]/) listing = 0; next }
      match($0, /[[:space:]]GTID [0-9]+-[0-9]+-[0-9]+/) { gtids = gtids " " substr($0, RSTART + 6, RLENGTH - 6) }
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
