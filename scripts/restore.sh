#!/usr/bin/env bash
# restore: gives an empty pod 0 the data of a backup (restoreFrom) instead of an empty data
# directory. It reads the manifest first and refuses a backup of another flavor or of a newer
# major version; streams the backup into a staging directory while checking its sha256 against
# the manifest; checks that the stream is whole, prepares it, fetches the archived binary logs a
# point-in-time restore replays (restoreTo), and only then renames it into place. No server has
# run on the data until restore-replay has checked the target and replayed the logs.
set -euo pipefail
SCRIPT_NAME=restore
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-target.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-target.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"
# shellcheck source=coordinates.sh
source "$(dirname "${BASH_SOURCE[0]}")/coordinates.sh"
# shellcheck source=restore-pending.sh
source "$(dirname "${BASH_SOURCE[0]}")/restore-pending.sh"

require_env DATA_VOLUME DATA_SUBDIR RESTORE_REMOTE RESTORE_NAME DB_FLAVOR DB_VERSION
ordinal=$(pod_ordinal)
datadir="$DATA_VOLUME/$DATA_SUBDIR"
staging="$DATA_VOLUME/restore-staging"

# A new cluster's pod 0 becomes its first primary whatever primaryOrdinal says (the sidecar's
# take_role); the others clone from it.
if ((ordinal != 0)); then
  log "pod $ordinal clones from a peer; only pod 0 of a new cluster restores"
  exit 0
fi
datadir_to_make "$datadir" || exit 0
backup=$(backup_tool)
extract=$(stream_tool)

name=$RESTORE_NAME
if [[ "$name" == latest ]]; then
  name=$(complete_backups "$RESTORE_REMOTE" | tail -n 1)
  [[ -n "$name" ]] || die "restoreFrom: there is no complete backup under $RESTORE_REMOTE/backups; take one, or point restoreFrom at another prefix"
fi
from="$RESTORE_REMOTE/backups/$name"
manifest=$(target_rclone cat "$from/manifest.json") ||
  die "restoreFrom: backup $from has no manifest, so it is not a complete backup; choose one that 'rclone lsf $RESTORE_REMOTE/backups' shows with a manifest.json"

flavor=$(manifest_field "$manifest" flavor)
[[ "$flavor" == "$DB_FLAVOR" ]] ||
  die "backup $name is of a $flavor server and this cluster runs $DB_FLAVOR, which cannot read its data; restore it into a $flavor cluster, or choose a $DB_FLAVOR backup"
server_version=$(manifest_field "$manifest" serverVersion)
[[ "$server_version" =~ ^([0-9]+)\.([0-9]+) ]] ||
  die "backup $name: the manifest has no readable serverVersion ($server_version); choose another backup"
read -r major minor <<<"${DB_VERSION/./ }"
if ((BASH_REMATCH[1] > major || (BASH_REMATCH[1] == major && BASH_REMATCH[2] > minor))); then
  die "backup $name was taken by $DB_FLAVOR $server_version, newer than this cluster's $DB_VERSION, which cannot read it; set version to ${BASH_REMATCH[1]}.${BASH_REMATCH[2]} or newer"
fi
history=$(manifest_field "$manifest" binlogHistory)
if [[ -n "${RESTORE_TO:-}" && -z "$history" ]]; then
  die "backup $name was taken while no binary logs were archived, so it cannot be rolled forward; set restoreTo to \"\" or choose a later backup"
fi

if ! { rm -rf "$staging" && mkdir -p "$staging"; }; then die "cannot create $staging"; fi
log "streaming backup $name ($(manifest_field "$manifest" sizeBytes) bytes, $server_version) from $from"
# The checksum is taken of the bytes as they arrive, beside the extraction, through a FIFO.
rm -f "$staging.fifo"
mkfifo "$staging.fifo" || die "cannot create $staging.fifo"
sha256sum <"$staging.fifo" >"$staging.sha256" &
sha_pid=$!
target_rclone cat "$from/backup.xbstream" | tee "$staging.fifo" | "$extract" -x -C "$staging" ||
  die "the download or extraction of $from failed (exit statuses: ${PIPESTATUS[*]}); the pod retries"
wait "$sha_pid" || die "could not compute the checksum of backup $name"
rm -f "$staging.fifo"
actual=$(cut -d' ' -f1 <"$staging.sha256")
expected=$(manifest_field "$manifest" sha256)
if [[ "$actual" != "$expected" ]]; then
  rm -rf "$staging"
  die "backup $name is damaged: its sha256 is $actual, the manifest says $expected; choose another backup"
fi
[[ -f "$staging/$BACKUP_END_FILE" ]] ||
  die "backup $name lacks the end of its stream although its checksum matches; choose another backup"
log "checksum verified; preparing the backup with $backup"
"$backup" --prepare --target-dir="$staging" || die "$backup --prepare failed on backup $name"
coordinates=$(backup_coordinates "$staging")
[[ -n "$coordinates" ]] || die "backup $name does not say which GTID position it holds"
# The donor's server UUID must not be inherited; the end record is no data.
rm -f "$staging/auto.cnf" "$staging/$BACKUP_END_FILE"

binlogs=$(restore_binlogs_dir)
rm -rf "$binlogs"
if [[ -n "${RESTORE_TO:-}" ]]; then
  log "fetching the binary logs archived in $RESTORE_REMOTE/binlogs/$history"
  target_rclone copy --exclude started "$RESTORE_REMOTE/binlogs/$history" "$binlogs" ||
    die "cannot fetch the archived binary logs of $RESTORE_REMOTE/binlogs/$history"
fi
# What restore-replay needs, before the data directory appears: a crash between them leaves
# no data directory, so the restore repeats.
if ! { write_restore_pending "$name" "$coordinates" "$(manifest_field "$manifest" endTime)" &&
  sync && mv "$staging" "$datadir" && rm -f "$staging.sha256" && sync; }; then
  die "cannot move the prepared backup into $datadir"
fi
log "backup $name restored at GTID $coordinates${RESTORE_TO:+; binary logs to replay up to $RESTORE_TO}"
