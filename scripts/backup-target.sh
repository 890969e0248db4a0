# shellcheck shell=bash
# The backup target: rclone's remote `target:` (an S3-compatible bucket or a mounted claim), set
# up by the component in the environment (RCLONE_CONFIG_TARGET_*), with BACKUP_REMOTE the
# cluster's place on it. The s3 keys stay in the mounted Secret until rclone itself starts: they
# enter the environment of rclone alone, never argv or the log.
# Every object goes through rclone's crypt remote `sealed:` over `target:`
# (https://rclone.org/crypt/): contents are encrypted and authenticated per 64 KiB block with the
# cluster's backup key (CRYPT_PASSWORD_FILE, from the credentials Secret), which the bucket never
# sees; a changed block fails the read. Names stay in clear (retention sorts them), with ".bin"
# appended. Listings, manifests and retention are mysql_cluster_agent's (backup_manifest.py,
# backup_record.py, restore_plan.py): the scripts only stream objects the agent named.

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
