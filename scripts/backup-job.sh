#!/usr/bin/env bash
# backup job, the stream: streams a hot backup of a donor into the backup target, computing its
# sha256, size and last bytes on the way (they hold the stream's end record), and leaves them in
# RESULT_DIR for the Job's backup-record step (mysql_cluster_agent/backup_record.py), which
# checks the upload, writes the manifest that makes it a backup and applies retention. A failed
# attempt is removed here and leaves no result: no manifest, nothing deleted. The stream
# (BACKUP_FORMAT): MariaDB's donor sidecar serves an xbstream, nothing staged on a disk; MySQL's is
# a CLONE into the Job's scratch volume, archived as a tar: MySQL's Job runs backup-clone.sh, which
# defines clone_backup_stream and then runs this script.
set -euo pipefail
SCRIPT_NAME=backup-job
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=backup-target.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-target.sh"
# shellcheck source=backup-stream-end.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-stream-end.sh"

require_env DONOR_HOSTS BACKUP_PORT BACKUP_REMOTE BACKUP_FORMAT RESULT_DIR
if [[ "$BACKUP_FORMAT" == xbstream ]]; then require_socat; fi
if tls_enabled; then require_tls_files; fi
work=$(mktemp -d) || die "cannot create a work directory in ${TMPDIR:-/tmp}"
name=$(date -u +%Y%m%dT%H%M%SZ)
backup_dir="$BACKUP_REMOTE/backups/$name"
object="$backup_dir/backup.$BACKUP_FORMAT"
# Bytes of the stream's end kept to find the end record: it is a few hundred bytes long.
END_BYTES=65536

# With TLS the donor serves only a peer with the cluster's certificate (tls.sh), or clones
# only over TLS verified by the cluster's CA (backup-clone.sh).
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
  tail -c "$END_BYTES" <"$work/to-end" >"$work/tail" &
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
  if [[ -z "$(backup_end_record "$work/tail")" ]]; then
    log "the stream from $donor ended before the backup tool finished (no end record)"
    return 1
  fi
}

start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for donor in $DONOR_HOSTS; do
  if stream_from "$donor"; then
    if ! { printf '%s\n' "$name" >"$work/name" && printf '%s\n' "$start" >"$work/start" &&
      printf '%s\n' "$donor" >"$work/donor" && date -u +%Y-%m-%dT%H:%M:%SZ >"$work/finish" &&
      cp "$work"/{name,start,finish,donor,bytes,sha256,tail} "$RESULT_DIR/"; }; then
      die "cannot write the stream's results into $RESULT_DIR"
    fi
    exit 0
  fi
  # What a failed attempt uploaded has no manifest, so it never counted as a backup.
  target_rclone purge "$backup_dir" 2>/dev/null || log "could not remove $backup_dir; retention removes it later"
done
die "no donor gave a whole backup ($DONOR_HOSTS); see the lines above. No backup was recorded and none was deleted"
