# shellcheck shell=bash
# A server without networking for one job (restore-replay.sh, restore-drill.sh, backup-clone.sh):
# started in the background on a socket in a scratch directory, waited for, given SQL over that
# socket, stopped. One at a time per script; lib.sh is sourced first. The caller sets
# local_server_login, the SQL client's login options (--no-defaults first, or an option file).

# Starts the dialect's server with the given options (--no-defaults first to ignore the pod's
# option files); its socket, pid file and error log go to <scratch>, made if missing.
local_server_start() {
  local server
  local_server_dir=$1
  shift
  server=$(dialect_command SERVER_COMMAND) || return 1
  { mkdir -p "$local_server_dir" && rm -f "$local_server_dir/error.log"; } ||
    { log "cannot create $local_server_dir"; return 1; }
  "$server" "$@" --skip-networking "--socket=$local_server_dir/server.sock" \
    "--pid-file=$local_server_dir/server.pid" "--log-error=$local_server_dir/error.log" >&2 &
  local_server_pid=$!
}

# The server's first error line (else its last line), as a log line may show it.
local_server_error() {
  local line
  line=$(grep -m1 -F '[ERROR]' "$local_server_dir/error.log" 2>/dev/null) ||
    line=$(tail -n 1 "$local_server_dir/error.log" 2>/dev/null) || true
  shown "$line"
}

# Waits at most <seconds> until the server answers (or until the given command succeeds).
local_server_wait() {
  local seconds=$1 deadline=$((SECONDS + $1))
  shift
  (($#)) || set -- local_server_sql -e 'SELECT 1'
  until "$@" >/dev/null 2>&1; do
    kill -0 "$local_server_pid" 2>/dev/null ||
      { log "the server stopped before it was ready: $(local_server_error)"; return 1; }
    ((SECONDS < deadline)) ||
      { log "the server was not ready within ${seconds}s: $(local_server_error)"; return 1; }
    sleep 1
  done
}

local_server_sql() {
  # shellcheck disable=SC2154 # local_server_login is the caller's
  "$(sql_client)" "${local_server_login[@]}" --protocol=socket "--socket=$local_server_dir/server.sock" "$@"
}

# Stops the server (if one runs) and checks that it shut down cleanly.
local_server_stop() {
  local status=0
  [[ -n "${local_server_pid:-}" ]] || return 0
  kill -TERM "$local_server_pid" 2>/dev/null || true
  wait "$local_server_pid" || status=$?
  local_server_pid=''
  ((status == 0)) ||
    { log "the server did not shut down cleanly (exit status $status): $(local_server_error)"; return 1; }
}
