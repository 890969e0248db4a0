#!/usr/bin/env bash
# backup job: streams a hot backup of a donor into the backup target, computing its sha256 and
# size on the way; checks that the stream is whole (its end record) and that the target holds
# every byte; only then writes the manifest, which is what makes it a backup; then applies
# retention. A failed attempt leaves no manifest and deletes nothing. The stream (BACKUP_FORMAT):
# MariaDB's donor sidecar serves an xbstream, nothing staged on a disk; MySQL's is a CLONE into
# the Job's scratch volume, archived as a tar: MySQL's Job runs backup-clone.sh, which defines
# clone_backup_stream and then runs this script.
set -euo pipefail
SCRIPT_NAME=backup-job
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-target.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-target.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"

require_env DONOR_HOSTS BACKUP_PORT BACKUP_REMOTE BACKUP_FORMAT CLUSTER_NAME CLUSTER_NAMESPACE DB_FLAVOR RETENTION_COUNT RETENTION_DAYS
if [[ "$BACKUP_FORMAT" == xbstream ]]; then need_command socat >/dev/null; fi
if tls_enabled; then require_tls_files; fi
work=$(mktemp -d) || die "cannot create a work directory in ${TMPDIR:-/tmp}"
name=$(date -u +%Y%m%dT%H%M%SZ)
backup_dir="$BACKUP_REMOTE/backups/$name"
object="$backup_dir/backup.$BACKUP_FORMAT"
# Bytes of the stream's end kept to find the end record: it is a few hundred bytes long.
END_BYTES=65536

# With TLS the donor serves only a peer with the cluster's certificate (tls.sh), or clones
# only over TLS verified by the cluster's CA (clone-plugin.sh).
receive() {
  if [[ "$BACKUP_FORMAT" == tar ]]; then
    clone_backup_stream "$1"
  else
    socat -u ${TRANSFER_BUFFER_BYTES:+"-b$TRANSFER_BUFFER_BYTES"} "$(backup_connect_address "$1")" STDOUT
  fi
}

# One attempt from one donor: the stream goes to the target and, through FIFOs, to sha256sum,
# a byte count and a bounded tail, which run beside it.
stream_from() {
  local donor=$1 status
  rm -f "$work"/*
  mkfifo "$work/to-sha" "$work/to-count" "$work/to-end"
  sha256sum <"$work/to-sha" >"$work/sha256" &
  local sha_pid=$!
  wc -c <"$work/to-count" >"$work/bytes" &
  local count_pid=$!
  tail -c "$END_BYTES" <"$work/to-end" >"$work/end" &
  local end_pid=$!
  log "streaming a backup of $donor$(tls_enabled && echo ' over TLS') to $object"
  receive "$donor" | tee "$work/to-sha" "$work/to-count" "$work/to-end" |
    target_rclone rcat "$object"
  status="${PIPESTATUS[*]}"
  wait "$sha_pid" "$count_pid" "$end_pid" || true
  if [[ "$status" != "0 0 0" ]]; then
    log "the transfer from $donor failed (exit statuses of receive, tee, upload: $status)"
    return 1
  fi
  if [[ -z "$(backup_end_record "$work/end")" ]]; then
    log "the stream from $donor ended before the backup tool finished (no end record)"
    return 1
  fi
}

# Removes what a failed attempt uploaded; it has no manifest, so it never counted as a backup.
discard_attempt() {
  target_rclone purge "$backup_dir" 2>/dev/null || log "could not remove $backup_dir; retention removes it later"
}

# This cluster's complete backups past the count or age limits go, newest never; so do failed
# attempts older than this backup, and archived binary logs closed before the oldest backup kept
# started. Another cluster's backups under the same prefix (its manifest names it) are left alone.
apply_retention() {
  local backups=() kept=() attempts=() name now age index
  local -A complete=()
  mapfile -t backups < <(own_backups "$BACKUP_REMOTE" | sort -r)
  while IFS= read -r name; do complete[$name]=1; done < <(complete_backups "$BACKUP_REMOTE")
  now=$(date -u +%s)
  for index in "${!backups[@]}"; do
    name=${backups[$index]}
    age=$((now - $(backup_name_epoch "$name")))
    if ((index > 0)) && { ((RETENTION_COUNT > 0 && index >= RETENTION_COUNT)) ||
      ((RETENTION_DAYS > 0 && age > RETENTION_DAYS * 86400)); }; then
      log "retention: deleting backup $name"
      # The manifest first: a backup half deleted must not look complete.
      if ! { target_rclone deletefile "$BACKUP_REMOTE/backups/$name/manifest.json" &&
        target_rclone purge "$BACKUP_REMOTE/backups/$name"; }; then
        die "retention could not delete backup $name; check the target's permissions"
      fi
    else
      kept+=("$name")
    fi
  done
  mapfile -t attempts < <(target_list --dirs-only "$BACKUP_REMOTE/backups" | sed 's|/$||' |
    { grep -E "$BACKUP_NAME_RE" || true; })
  for name in "${attempts[@]}"; do
    if [[ "$name" < "$backup_name" && -z "${complete[$name]:-}" ]]; then
      log "retention: deleting $name, an attempt that never completed"
      target_rclone purge "$BACKUP_REMOTE/backups/$name" || die "retention could not delete $name"
    fi
  done
  age=$((now - $(backup_name_epoch "${kept[-1]}")))
  log "retention: keeping ${#kept[@]} backups; deleting binary logs archived more than ${age}s ago"
  # rclone's exit status 3: no binary log was archived yet, nothing to delete.
  target_rclone delete --min-age "${age}s" --exclude started "$BACKUP_REMOTE/binlogs" || (($? == 3)) ||
    die "retention could not delete old binary logs"
  # Object stores have no empty directories; a claim keeps them until removed.
  if [[ "${RCLONE_CONFIG_TARGET_TYPE:-}" == local ]]; then
    target_rclone rmdirs --leave-root "$BACKUP_REMOTE" || log "could not remove empty directories of $BACKUP_REMOTE"
  fi
}

backup_name=$name
history=$(newest_history) # the one being written
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
done_from=""
for donor in $DONOR_HOSTS; do
  if stream_from "$donor"; then
    done_from=$donor
    break
  fi
  discard_attempt
done
[[ -n "$done_from" ]] ||
  die "no donor gave a whole backup ($DONOR_HOSTS); see the lines above. No backup was recorded and none was deleted"
end=$(date -u +%Y-%m-%dT%H:%M:%SZ)

sent=$(<"$work/bytes")
sha256=$(cut -d' ' -f1 <"$work/sha256")
stored=$(target_rclone lsjson "$object" | grep -o '"Size":[0-9]*' | cut -d: -f2) ||
  stored=""
if [[ "$stored" != "$sent" ]]; then
  discard_attempt
  die "the target holds ${stored:-no} bytes of $object, $sent were sent; no backup was recorded"
fi
record=$(backup_end_record "$work/end")
version=$(backup_end_value "$record" server_version)
gtid=$(backup_end_value "$record" binlog_pos | sed -n "s/.*GTID of the last change '\([^']*\)'.*/\1/p")

manifest=$(printf '{\n  "name": "%s",\n  "cluster": "%s",\n  "namespace": "%s",\n  "flavor": "%s",\n  "serverVersion": "%s",\n  "startTime": "%s",\n  "endTime": "%s",\n  "gtid": "%s",\n  "sizeBytes": %s,\n  "sha256": "%s",\n  "donor": "%s",\n  "binlogHistory": "%s",\n  "format": "%s"\n}\n' \
  "$name" "$CLUSTER_NAME" "$CLUSTER_NAMESPACE" "$DB_FLAVOR" "$version" "$start" "$end" "$gtid" \
  "$sent" "$sha256" "$done_from" "$history" "$BACKUP_FORMAT")
# What the donor's stream said goes through the same grammar a restore reads it with.
(manifest_load "$manifest" "the manifest of backup $name") || {
  discard_attempt
  die "the manifest of $backup_dir would not be well-formed (see above); no backup was recorded"
}
printf '%s' "$manifest" | target_rclone rcat "$backup_dir/manifest.json" || {
  discard_attempt
  die "could not write the manifest of $backup_dir; no backup was recorded"
}
log "backup $name complete: $sent bytes, sha256 $sha256, GTID $gtid, from $done_from"
apply_retention
