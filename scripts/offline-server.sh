# shellcheck shell=bash
# A server without networking for one job (restore-replay.sh, restore-drill.sh, backup-clone.sh):
# started in the background on a socket in a scratch directory, waited for, given SQL over that
# socket, stopped. One at a time per script; lib.sh is sourced first. The caller sets
# offline_server_login, the SQL client's login options (--no-defaults first, or an option file).

# Starts the dialect's server with the given options (--no-defaults first to ignore the pod's
# option files); its socket, pid file and error log go to <scratch>, made if missing.
offline_server_start() {
  local server
  offline_server_dir=$1
  shift
  server=$(dialect_command SERVER_COMMAND) && offline_server_client=$(sql_client) || return 1
  { mkdir -p "$offline_server_dir" && rm -f "$offline_server_dir/error.log"; } ||
    { log "cannot create $offline_server_dir"; return 1; }
  "$server" "$@" --skip-networking "--socket=$offline_server_dir/server.sock" \
    "--pid-file=$offline_server_dir/server.pid" "--log-error=$offline_server_dir/error.log" >&2 &
  offline_server_pid=$!
  trap offline_server_on_exit EXIT
}

# A script that dies while its server runs stops it cleanly on the way out (rather than leaving
# it to be killed with the container), then does lib.sh's own exit step.
offline_server_on_exit() {
  offline_server_stop >/dev/null 2>&1 || true
  if [[ -n "${CLIENT_OPTIONS_DIR:-}" ]]; then remove_client_options; fi
}

# The server's first error line (else its last line), as a log line may show it.
offline_server_error() {
  local line
  line=$(grep -m1 -F '[ERROR]' "$offline_server_dir/error.log" 2>/dev/null) ||
    line=$(tail -n 1 "$offline_server_dir/error.log" 2>/dev/null) || true
  shown "$line"
}

# Waits at most <seconds> until the server answers (or until the given command succeeds).
offline_server_wait() {
  local seconds=$1 deadline=$((SECONDS + $1))
  shift
  (($#)) || set -- offline_server_sql -e 'SELECT 1'
  until "$@" >/dev/null 2>&1; do
    kill -0 "$offline_server_pid" 2>/dev/null ||
      { log "the server stopped before it was ready: $(offline_server_error)"; return 1; }
    ((SECONDS < deadline)) ||
      { log "the server was not ready within ${seconds}s: $(offline_server_error)"; return 1; }
    sleep 1
  done
}

offline_server_sql() {
  # shellcheck disable=SC2154 # offline_server_login is the caller's
  "$offline_server_client" "${offline_server_login[@]}" --protocol=socket "--socket=$offline_server_dir/server.sock" "$@"
}

# Stops the server (if one runs) and checks that it shut down cleanly.
offline_server_stop() {
  local status=0
  [[ -n "${offline_server_pid:-}" ]] || return 0
  kill -TERM "$offline_server_pid" 2>/dev/null || true
  wait "$offline_server_pid" || status=$?
  offline_server_pid=''
  ((status == 0)) ||
    { log "the server did not shut down cleanly (exit status $status): $(offline_server_error)"; return 1; }
}
