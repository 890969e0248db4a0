# shellcheck shell=bash
# How a backup stream shows that it is whole. The donor's sidecar appends one small file to the
# xbstream after the backup tool succeeded: a line of its own, then the tool's xtrabackup_info
# (server version, times, binary log position); a newline first, so that its line stands alone
# after the chunk header in the stream. A stream cut anywhere before lacks it, so its
# presence is what makes a backup complete: the backup job finds it in the last bytes it
# uploaded, a restore in what it extracted. Clones extract it too and drop it.
# shellcheck disable=SC2034 # used by the scripts that source this file
BACKUP_END_FILE=mysql-cluster-backup-end
BACKUP_END_LINE='mysql-cluster: the backup tool finished'

# Prints the end record's lines (without its first line) found in the given bytes or file.
backup_end_record() {
  grep -a -A 60 -x -F "$BACKUP_END_LINE" "$1" | tail -n +2
}
