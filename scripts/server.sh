#!/usr/bin/env bash
# mysql container: starts the server through the image's own entrypoint (which creates a new
# database on first start). While the rebuild mark exists (a diverged server, stopped for it by
# its pod's agent) it first sets the data aside and rebuilds it: the image has the clone's tools,
# and the server must not start on data that is being replaced. Its liveness probe passes
# meanwhile (liveness.sh). Where the agent clones into the running server (CLONE_METHOD plugin),
# clone.sh does nothing and the server starts on a new database that the agent clones into.
set -euo pipefail
SCRIPT_NAME=server
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# With the server stopped: whatever the data directory holds, unless it is the rebuild's finished
# clone (its replication position not yet applied), goes aside to the directory the mark names
# (kept, never deleted); then the clone (clone.sh); then the mark goes. A rebuild cut short (a
# restart of this container) goes on at the next start into the same place.
finish_rebuild() {
  local mark aside datadir pending entry
  require_env DATA_VOLUME DATA_SUBDIR
  mark=$(rebuild_mark)
  datadir="$DATA_VOLUME/$DATA_SUBDIR"
  pending=$(pending_coordinates_file)
  aside=$(<"$mark")
  [[ "$aside" == "$DATA_VOLUME"/diverged-* ]] ||
    die "the rebuild mark $mark does not name a diverged-* directory of $DATA_VOLUME; write one there (e.g. $DATA_VOLUME/diverged-manual) to let the rebuild go on"
  if [[ -d "$datadir/mysql" && -f "$pending" && ! -e "$pending.applied" ]]; then
    log "the rebuild's clone is complete"
  else
    mkdir -p "$aside" || die "cannot create $aside"
    # The directory itself stays: the containers mount it (subPath) and would lose a new one.
    for entry in "$datadir"/* "$datadir"/.[!.]*; do
      [[ ! -e "$entry" ]] || mv "$entry" "$aside/" || die "cannot move $entry to $aside"
    done
    rm -f "$pending" "$pending.applied"
    log "the diverged data is kept in $aside (delete it once you no longer need its transactions)"
    bash "$(dirname "${BASH_SOURCE[0]}")/clone.sh" ||
      die "the rebuild's clone failed; it goes on when this container restarts"
  fi
  rm -f "$mark"
}

require_env SERVER_COMMAND DATA_VOLUME DATA_SUBDIR READ_ONLY_OPTION
if [[ -e "$(rebuild_mark)" ]]; then
  log "this pod's data is rebuilt from a peer ($(rebuild_mark)); the server starts once it is done"
  finish_rebuild
fi
entrypoint=$(need_command docker-entrypoint.sh)
# A new database is made by the entrypoint as root, which a read-only server refuses: it starts
# writable (replica options or not) and clones over it, or, on pod 0, is the new primary; while
# it clones its agent serves no state, so no peer takes it for a primary. Any other start is
# read-only whatever options init-mysql copied (pod 0's first start copied the primary's).
read_only=ON
[[ -d "$DATA_VOLUME/$DATA_SUBDIR/mysql" ]] || read_only=OFF
exec "$entrypoint" "$SERVER_COMMAND" "--$READ_ONLY_OPTION=$read_only"
