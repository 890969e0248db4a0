# shellcheck shell=bash
# MySQL's side of clone-mysql (clone.sh): the server's own CLONE plugin copies a donor into the
# staging directory through a temporary server, as the backup Job does (backup-clone.sh's
# clone_into, sourced here without running the Job).
# shellcheck source=backup-clone.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-clone.sh"

# Copies pod <donor_host> into <staging> (which must not exist) over a temporary server in
# <scratch>, and prints its coordinates: the copy's own GTID state (OWN_GTID_STATE).
clone_with_plugin() {
  clone_into "$@" && printf '%s\n' "$OWN_GTID_STATE"
}
