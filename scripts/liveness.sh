#!/usr/bin/env bash
# Liveness of the mysql container: the server process answers, or waits for a rebuild. Credentials come from the Secret
# so a set root password does not break the probe (tutorial issue #21417). The ping goes over the
# server's unix socket, which needs no TLS: a renewed certificate or CA that the server has not
# loaded yet cannot make a live server look dead.
set -euo pipefail
SCRIPT_NAME=liveness
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env MYSQL_SOCKET
# While this pod's data is rebuilt the server waits on purpose (server.sh).
if [[ -e "$(rebuild_mark)" ]]; then exit 0; fi
options=$(TLS_DIR='' client_options root root-password)
admin=$(dialect_command ADMIN_CLIENT)
"$admin" --defaults-extra-file="$options" --protocol=socket --socket="$MYSQL_SOCKET" ping >/dev/null ||
  die "the server does not answer a ping on $MYSQL_SOCKET"
