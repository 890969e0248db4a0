# shellcheck shell=bash
# What the restore drill's steps share: where the plan leaves the position the replay must reach,
# and the check of the archived binary logs' chain.

drill_expected_file() {
  require_env DATA_VOLUME
  printf '%s\n' "$DATA_VOLUME/drill-expected-gtid"
}

# From the backup's GTID position <1> and the archive's chain <2> (one line per log, oldest
# first: "<file> [<Gtid_list entries>] <GTID> <GTID> ..."), prints the position (the last GTID
# of every domain) a replay of the archive onto the backup reaches; stops naming the first gap.
mariadb_chain_end() {
  local backup=$1 chain=$2 file list rest entry held state='' previous='' first=1
  local -A at=() last=()
  for entry in ${backup//,/ }; do last[${entry%%-*}]=$entry; done
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
    for entry in $rest; do
      checked "a GTID of archived binary log $file" "$MARIADB_GTID_RE" "$entry" >/dev/null
      at[${entry%-*}]=$entry
      held=${last[${entry%%-*}]:-}
      if [[ -z "$held" ]] || ((${entry##*-} > ${held##*-})); then last[${entry%%-*}]=$entry; fi
    done
    state=$(IFS=,; echo "${at[*]}")
    previous=$file first=0
  done <<<"$chain"
  sorted_entries "$(IFS=,; echo "${last[*]}")"
}

# A GTID list's entries in one order, comma-separated.
sorted_entries() {
  tr ',' '\n' <<<"$1" | sed '/^$/d' | sort -t- -k1,1n -k2,2n | paste -sd, -
}
