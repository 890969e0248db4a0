# shellcheck shell=bash
# The backup target: rclone's remote `target:` (an S3-compatible bucket or a mounted claim), set
# up by the component in the environment (RCLONE_CONFIG_TARGET_*), with BACKUP_REMOTE the
# cluster's place on it. The s3 keys stay in the mounted Secret until rclone itself starts: they
# enter the environment of rclone alone, never argv or the log.
# Every object goes through rclone's crypt remote `sealed:` over `target:`
# (https://rclone.org/crypt/): contents are encrypted and authenticated per 64 KiB block with the
# cluster's backup key (CRYPT_PASSWORD_FILE, from the credentials Secret), which the bucket never
# sees; a changed block fails the read. Names stay in clear (retention sorts them), with ".bin"
# appended. What rclone lists is still checked against untrusted.sh's grammars; manifests and
# retention are mysql_cluster_agent's (backup_manifest.py, backup_record.py, restore_plan.py).

# shellcheck source=untrusted.sh
source "$(dirname "${BASH_SOURCE[0]}")/untrusted.sh"

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
  require_env CRYPT_PASSWORD_FILE
  [[ -s "$CRYPT_PASSWORD_FILE" ]] ||
    die "the backup key $CRYPT_PASSWORD_FILE is missing or empty; the credentials Secret needs the key backup-key (backupKey)"
  # rclone takes the key in its obscured form, through the environment only.
  RCLONE_CONFIG_SEALED_PASSWORD=$("$RCLONE" obscure - <"$CRYPT_PASSWORD_FILE") ||
    die "rclone could not read the backup key $CRYPT_PASSWORD_FILE"
  export RCLONE_CONFIG_SEALED_PASSWORD
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

# The newest binary log history on the target, the one the primary archives into (backup-binlogs.sh).
newest_history() {
  target_list --dirs-only "$BACKUP_REMOTE/binlogs" | sed 's|/$||' |
    { grep -E "$BACKUP_NAME_RE" || true; } | sort | tail -n 1
}
