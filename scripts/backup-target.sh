# shellcheck shell=bash
# The backup target: rclone's remote `target:` (an S3-compatible bucket or a mounted claim), set
# up by the component in the environment (RCLONE_CONFIG_TARGET_*), with BACKUP_REMOTE the
# cluster's place on it. The s3 keys stay in the mounted Secret until rclone itself starts: they
# enter the environment of rclone alone, never argv or the log.

target_key() {
  local file="$TARGET_CREDENTIALS_DIR/$1"
  [[ -r "$file" ]] || die "the backup target's Secret has no readable key '$1' ($file); add it to the Secret named by backupS3Secret"
  printf '%s' "$(<"$file")"
}

target_rclone() (
  set +x # the keys
  require_env RCLONE
  [[ -x "$RCLONE" ]] || die "rclone is missing at $RCLONE; the rclone-tools init container copies it from rcloneImage"
  if [[ -n "${TARGET_CREDENTIALS_DIR:-}" ]]; then
    RCLONE_CONFIG_TARGET_ACCESS_KEY_ID=$(target_key access-key-id)
    RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY=$(target_key secret-access-key)
    export RCLONE_CONFIG_TARGET_ACCESS_KEY_ID RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY
  fi
  exec "$RCLONE" --log-level=ERROR "$@"
)

# The entries of a directory of the target, one a line; nothing when it does not exist yet
# (rclone's exit status 3), an error for anything else (unreachable store, refused keys).
target_list() {
  local output status=0
  output=$(target_rclone lsf "$@" 2>&1) || status=$?
  if ((status == 3)); then return 0; fi
  ((status == 0)) || die "cannot list ${*: -1} on the backup target: $output"
  printf '%s\n' "$output" | sed '/^$/d'
}

# The names of the complete backups (those with a manifest) under <remote>, oldest first.
complete_backups() {
  target_list --recursive --files-only --include '/*/manifest.json' "$1/backups" |
    sed -n 's|^\([^/]*\)/manifest.json$|\1|p' | sort
}

# A field of a manifest (one "key": value per line, as backup-job.sh writes it).
manifest_field() {
  sed -n "s/^  \"$2\": //p" <<<"$1" | head -n 1 | sed 's/,$//; s/^"//; s/"$//'
}

# A backup's name is its start time (UTC, 20260101T023000Z); prints it in seconds.
backup_name_epoch() {
  local name=$1
  date -u -d "${name:0:4}-${name:4:2}-${name:6:2} ${name:9:2}:${name:11:2}:${name:13:2}" +%s
}

# The newest binary log history on the target, the one the primary archives into (backup-binlogs.sh).
newest_history() {
  target_list --dirs-only "$BACKUP_REMOTE/binlogs" | sed 's|/$||' | sort | tail -n 1
}
