#!/usr/bin/env bash
# Readiness of the backup container: the agent has given its server its role, so the cluster's
# users exist (primary) or replication has started (replica), and the next pod clones only from a
# donor that is ready to serve. MariaDB's sidecar shows it by listening on the backup port (read
# from the kernel's socket table rather than by connecting, because every connection streams a
# whole backup); MySQL's, which serves no stream, by its mark (role_taken_mark).
set -euo pipefail
SCRIPT_NAME=backup-readiness
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! is_mariadb; then
  [[ -e "$(role_taken_mark)" ]] && exit 0
  die "the agent has not given the server its role yet"
fi
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
