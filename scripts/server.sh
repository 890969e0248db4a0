#!/usr/bin/env bash
# mysql container: starts the server through the image's own entrypoint (which creates a new
# database on first start), except while the backup sidecar rebuilds this pod's data (rebuild in
# sidecar.sh): the kubelet restarts the container when the sidecar stops the server, and it must
# not start the server on data that is being replaced.
set -euo pipefail
SCRIPT_NAME=server
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env SERVER_COMMAND
mark=$(rebuild_mark)
if [[ -e "$mark" ]]; then
  log "the backup sidecar is rebuilding this pod's data ($mark); the server starts once it is done"
  while [[ -e "$mark" ]]; do sleep 2; done
fi
entrypoint=$(need_command docker-entrypoint.sh)
exec "$entrypoint" "$SERVER_COMMAND"
