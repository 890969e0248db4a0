#!/usr/bin/env bash
# init-mysql: gives the server its identity before it starts: a server-id derived from the pod
# ordinal, and its configuration file from the ConfigMap. Every server starts read-only
# (replica.cnf), whatever its role: the pod's agent makes the primary writable once it knows
# no other pod is (mysql_cluster_agent/decide.py). The one exception is pod 0 starting without a database, which the
# image's entrypoint is about to create as root, which MySQL's super-read-only would refuse.
set -euo pipefail
SCRIPT_NAME=init-mysql
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env CONF_DIR CONFIG_MAP_DIR SERVER_ID_OFFSET DATA_VOLUME DATA_SUBDIR
ordinal=$(pod_ordinal)
[[ -d "$CONF_DIR" && -w "$CONF_DIR" ]] || die "configuration directory $CONF_DIR is not writable"

if ((ordinal == 0)) && [[ ! -d "$DATA_VOLUME/$DATA_SUBDIR/mysql" ]]; then role=primary; else role=replica; fi
[[ -r "$CONFIG_MAP_DIR/$role.cnf" ]] || die "$CONFIG_MAP_DIR/$role.cnf is missing from the ConfigMap"

# server-id 0 means "no replication", hence the offset.
printf '[mysqld]\nserver-id=%d\nreport-host=%s\n' "$((SERVER_ID_OFFSET + ordinal))" \
  "$(pod_host "$ordinal")" >"$CONF_DIR/server-id.cnf"
cp "$CONFIG_MAP_DIR/$role.cnf" "$CONF_DIR/$role.cnf"
log "pod $ordinal starts with the $role options and server-id $((SERVER_ID_OFFSET + ordinal))"
