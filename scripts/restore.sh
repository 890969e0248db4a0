#!/usr/bin/env bash
# restore: gives an empty pod 0 the data of a backup (restoreFrom) instead of an empty data
# directory. It reads the manifest first (through the backup key: backup-target.sh; every field
# checked: untrusted.sh) and refuses another cluster's backup under this cluster's own prefix, a
# backup of another flavor or of a newer major version; streams the backup into a staging
# directory while checking its sha256 against the manifest (a block that fails authentication
# stops the stream); checks that the stream is whole, prepares it (MariaDB; a MySQL clone needs
# no preparing), checks the GTID it holds,
# fetches the archived binary logs a point-in-time restore replays (restoreTo), and only then
# renames it into place. No server has run on the data until restore-replay has checked the
# target and replayed the logs.
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

require_env DATA_VOLUME DATA_SUBDIR RESTORE_REMOTE RESTORE_NAME DB_FLAVOR DB_VERSION BACKUP_FORMAT
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
if [[ "$BACKUP_FORMAT" == xbstream ]]; then
  backup=$(backup_tool)
  extract=$(stream_tool)
fi

# A backup under this cluster's own prefix must be this cluster's; one under a prefix restoreFrom
# names explicitly may be another cluster's (a copy of production into a new staging cluster).
require_env CLUSTER_NAME CLUSTER_NAMESPACE
name=$RESTORE_NAME
if [[ "$name" == latest ]]; then
  if [[ "${RESTORE_ANY_CLUSTER:-}" == true ]]; then
    name=$(complete_backups "$RESTORE_REMOTE" | tail -n 1)
  else
    name=$(own_backups "$RESTORE_REMOTE" | tail -n 1)
  fi
  [[ -n "$name" ]] || die "restoreFrom: there is no complete backup of this cluster under $RESTORE_REMOTE/backups; take one, or point restoreFrom at another prefix"
fi
checked "restoreFrom's backup name" "$BACKUP_NAME_RE" "$name" >/dev/null
from="$RESTORE_REMOTE/backups/$name"
load_manifest "$RESTORE_REMOTE" "$name"
owner="${MANIFEST[namespace]:-<no namespace>}/${MANIFEST[cluster]}"
if ! manifest_is_ours; then
  [[ "${RESTORE_ANY_CLUSTER:-}" == true ]] ||
    die "backup $name belongs to cluster $owner, not to this one ($CLUSTER_NAMESPACE/$CLUSTER_NAME); to restore another cluster's backup, name its prefix in restoreFrom (e.g. <prefix>/$name)"
  log "restoring backup $name of cluster $owner, whose prefix restoreFrom names"
fi

flavor=${MANIFEST[flavor]}
[[ "$flavor" == "$DB_FLAVOR" ]] ||
  die "backup $name is of a $flavor server and this cluster runs $DB_FLAVOR, which cannot read its data; restore it into a $flavor cluster, or choose a $DB_FLAVOR backup"
server_version=${MANIFEST[serverVersion]}
[[ "$server_version" =~ ^([0-9]+)\.([0-9]+) ]] ||
  die "backup $name: the manifest has no readable serverVersion; choose another backup"
backup_major=$((10#${BASH_REMATCH[1]})) backup_minor=$((10#${BASH_REMATCH[2]}))
[[ "$DB_VERSION" =~ ^([0-9]+)\.([0-9]+)$ ]] || die "DB_VERSION $DB_VERSION is not major.minor"
if ((backup_major > BASH_REMATCH[1] || (backup_major == BASH_REMATCH[1] && backup_minor > BASH_REMATCH[2]))); then
  die "backup $name was taken by $DB_FLAVOR $server_version, newer than this cluster's $DB_VERSION, which cannot read it; set version to $backup_major.$backup_minor or newer"
fi
history=${MANIFEST[binlogHistory]}
if [[ -n "${RESTORE_TO:-}" && -z "$history" ]]; then
  die "backup $name was taken while no binary logs were archived, so it cannot be rolled forward; set restoreTo to \"\" or choose a later backup"
fi

if ! { rm -rf "$staging" && mkdir -p "$staging"; }; then die "cannot create $staging"; fi
object="$from/backup.$BACKUP_FORMAT"
log "streaming backup $name (${MANIFEST[sizeBytes]} bytes, $server_version) from $object"

# Stops the restore when rclone's error (in file <1>) says a block failed authentication.
refuse_unauthenticated() {
  if grep -q -e authenticate -e 'bad magic' -e 'too short' "$1"; then
    rm -rf "$staging"
    die "backup $name failed authentication with this cluster's backup key (backupKey): it was altered in the bucket or encrypted with another key; nothing of it was used. Choose another backup. rclone said: $(shown "$(tail -n 1 "$1")")"
  fi
}

# MariaDB: an xbstream, extracted as it arrives while a FIFO feeds its bytes to sha256sum.
receive_xbstream() {
  rm -f "$staging.fifo"
  mkfifo "$staging.fifo" || die "cannot create $staging.fifo"
  sha256sum <"$staging.fifo" >"$staging.sha256" &
  local sha_pid=$!
  # A block that fails authentication stops rclone: the pipeline fails and the staging
  # directory, which holds what came before it, is never used.
  if ! target_rclone cat "$object" 2>"$staging.rclone" | tee "$staging.fifo" |
    "$extract" -x -C "$staging"; then
    statuses="${PIPESTATUS[*]}"
    refuse_unauthenticated "$staging.rclone"
    die "the download or extraction of $object failed (exit statuses: $statuses; rclone said: $(shown "$(tail -n 1 "$staging.rclone")")); the pod retries"
  fi
  wait "$sha_pid" || die "could not compute the checksum of backup $name"
  rm -f "$staging.fifo"
  cut -d' ' -f1 <"$staging.sha256"
}

# MySQL: a tar, which rclone's archiver extracts from the target itself (it cannot read a pipe,
# and the mysql image has no tar): the object is read twice, for its checksum first, so that no
# disk holds it twice. Every read is authenticated block by block.
receive_tar() {
  local sha256
  sha256=$(target_rclone hashsum sha256 --download "$object" 2>"$staging.rclone") || {
    refuse_unauthenticated "$staging.rclone"
    die "the download of $object failed (rclone said: $(shown "$(tail -n 1 "$staging.rclone")")); the pod retries"
  }
  [[ "${sha256%% *}" == "${MANIFEST[sha256]}" ]] || { printf '%s\n' "${sha256%% *}"; return 0; }
  target_rclone archive extract "$object" "$staging" 2>"$staging.rclone" || {
    refuse_unauthenticated "$staging.rclone"
    die "the extraction of $object failed (rclone said: $(shown "$(tail -n 1 "$staging.rclone")")); the pod retries"
  }
  printf '%s\n' "${sha256%% *}"
}

actual=$(if [[ "$BACKUP_FORMAT" == tar ]]; then receive_tar; else receive_xbstream; fi)
expected=${MANIFEST[sha256]}
if [[ "$actual" != "$expected" ]]; then
  rm -rf "$staging"
  die "backup $name is damaged: its sha256 is $actual, the manifest says $expected; choose another backup"
fi
if [[ "$BACKUP_FORMAT" == tar ]]; then
  # A clone is consistent as copied; its GTID set is the one the plugin recorded, which the
  # manifest carries from the stream's end record.
  [[ -f "$staging/mysql.ibd" && -d "$staging/mysql" ]] ||
    die "backup $name lacks the data dictionary (mysql.ibd) or the mysql schema although its checksum matches; choose another backup"
  coordinates=$(checked_coordinates "the manifest of backup $name" "${MANIFEST[gtid]}")
else
  [[ -f "$staging/$BACKUP_END_FILE" ]] ||
    die "backup $name lacks the end of its stream although its checksum matches; choose another backup"
  log "checksum verified; preparing the backup with $backup"
  "$backup" --prepare --target-dir="$staging" || die "$backup --prepare failed on backup $name"
  coordinates=$(backup_coordinates "$staging")
fi
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
if ! { write_restore_pending "$name" "$coordinates" "${MANIFEST[endTime]}" "${RESTORE_TO:+$history}" &&
  sync && mv "$staging" "$datadir" && rm -f "$staging.sha256" "$staging.rclone" && sync; }; then
  die "cannot move the prepared backup into $datadir"
fi
log "backup $name restored at GTID $coordinates${RESTORE_TO:+; binary logs to replay up to $RESTORE_TO}"
