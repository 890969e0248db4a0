#!/usr/bin/env bash
# Readiness of the mysql container: the primary is ready when it answers a query; a replica
# only while both replication threads run and it is at most MAX_REPLICATION_LAG_SECONDS behind,
# so the read Service never sends clients to a broken or far-behind replica.
set -euo pipefail
SCRIPT_NAME=readiness
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env MAX_REPLICATION_LAG_SECONDS
ordinal=$(pod_ordinal)
options=$(client_options root root-password)

if ((ordinal == 0)); then
  local_sql "$options" --batch --skip-column-names -e 'SELECT 1' >/dev/null ||
    die "the primary does not answer queries"
  exit 0
fi

status=$(local_sql "$options" --vertical -e "$(replica_status_sql)") ||
  die "cannot read the replication status"
[[ -n "$status" ]] || die "replication is not configured yet"
io='' sql='' lag='' io_error=''
while IFS=: read -r field value; do
  field=${field//[[:space:]]/}
  value=${value#"${value%%[![:space:]]*}"}
  case "$field" in
    Slave_IO_Running | Replica_IO_Running) io=$value ;;
    Slave_SQL_Running | Replica_SQL_Running) sql=$value ;;
    Seconds_Behind_Master | Seconds_Behind_Source) lag=$value ;;
    Last_IO_Error) io_error=$value ;;
  esac
done <<<"$status"
[[ "$io" == Yes ]] ||
  die "the replication I/O thread is not running ($io)${io_error:+: $io_error}$(replication_tls_hint "$io_error")"
[[ "$sql" == Yes ]] || die "the replication SQL thread is not running ($sql)"
[[ "$lag" =~ ^[0-9]+$ ]] || die "the replication lag is unknown ($lag)"
((lag <= MAX_REPLICATION_LAG_SECONDS)) ||
  die "the replica is ${lag}s behind the primary (limit ${MAX_REPLICATION_LAG_SECONDS}s)"
