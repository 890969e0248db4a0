#!/usr/bin/env bash
# Readiness of the backup container: it listens on the backup port, which the sidecar opens only
# once the cluster's users exist (primary) or replication has started (replica), so the next pod
# clones only from a donor that is ready to serve. Read from the kernel's socket table rather
# than by connecting, because every connection streams a whole backup.
set -euo pipefail
SCRIPT_NAME=backup-readiness
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env BACKUP_PORT
port=$(printf ':%04X' "$BACKUP_PORT")
listening=0A # TCP_LISTEN in /proc/net/tcp
for table in /proc/net/tcp /proc/net/tcp6; do
  [[ -r "$table" ]] || continue
  while read -r _ local_address _ state _; do
    [[ "$local_address" == *"$port" && "$state" == "$listening" ]] && exit 0
  done <"$table"
done
die "not listening on port $BACKUP_PORT yet"
