#!/usr/bin/env bash
# Readiness of MariaDB's backup container: the agent has given its server its role, so the
# cluster's users exist (primary) or replication has started (replica), and the next pod clones
# only from a donor that is ready to serve. The listener shows it by listening on the backup port
# (sidecar.sh starts it after the agent's mark), read from the kernel's socket table rather than
# by connecting, because every connection streams a whole backup.
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
