# shellcheck shell=bash
# TLS between the parts of the cluster. A pod has a certificate exactly when TLS_DIR is set; it
# holds ca.crt (the cluster's CA), tls.crt and tls.key (one certificate for every pod, valid for
# server and client authentication). Then:
#   - the pod's own clients verify the local server's certificate (it names 127.0.0.1);
#   - replicas connect to the primary over TLS and verify its certificate against the CA;
#   - the backup stream is mutual TLS: the donor serves only peers whose certificate comes from
#     the CA and names the donor itself (a certificate of this cluster names every pod; one the
#     same CA issued to another service does not), and the receiver checks the donor's
#     certificate and name.
# socat carries the stream: it can ask a client for its certificate, which keeps a port-forward
# or a stray pod out.

tls_enabled() {
  [[ -n "${TLS_DIR:-}" ]]
}

require_tls_files() {
  local file
  for file in ca.crt tls.crt tls.key; do
    [[ -r "$TLS_DIR/$file" ]] ||
      die "TLS file $TLS_DIR/$file is missing or unreadable: the certificate's Secret must hold the key $file, readable by group $(id -g)"
  done
}

# Lines of a client option file: with TLS, verify the server's certificate against the CA; without,
# what the server's clients need for a plain connection (Dialect.client_without_tls_option).
client_tls_options() {
  if tls_enabled; then
    require_env CLIENT_VERIFY_OPTION
    printf 'ssl-ca=%s\n%s\n' "$TLS_DIR/ca.crt" "$CLIENT_VERIFY_OPTION"
  elif [[ -n "${CLIENT_WITHOUT_TLS_OPTION:-}" ]]; then
    printf '%s\n' "$CLIENT_WITHOUT_TLS_OPTION"
  fi
}

# The backup stream's transfer tool, socat, which the official mariadb and percona-xtrabackup
# images carry, and with TLS its files.
require_socat() {
  if tls_enabled; then
    require_tls_files
  fi
  command -v socat >/dev/null 2>&1 ||
    die "this backupImage has no socat, which carries the backup stream: choose a backupImage with socat (the official mariadb images have it)"
}

# socat's address options for mutual TLS: present the pod's certificate, trust only the CA.
socat_tls_options() {
  printf 'cert=%s,key=%s,cafile=%s,verify=1' "$TLS_DIR/tls.crt" "$TLS_DIR/tls.key" "$TLS_DIR/ca.crt"
}

# socat address the donor listens on; one backup at a time, further peers wait. With TLS the
# peer's certificate must name this pod (POD_HOST, its DNS name): on a listening address socat's
# commonname= checks the client's DNS names, then its CN, as a client checks a server's
# (xio-openssl.c, openssl_handle_peer_certificate, in socat 1.7.4 and 1.8); a refused peer gets nothing.
backup_listen_address() {
  if tls_enabled; then
    require_env POD_HOST
    printf 'OPENSSL-LISTEN:%s,reuseaddr,fork,max-children=1,%s,commonname=%s' "$BACKUP_PORT" \
      "$(socat_tls_options)" "$POD_HOST"
  else
    printf 'TCP-LISTEN:%s,reuseaddr,fork,max-children=1' "$BACKUP_PORT"
  fi
}

# socat address the receiver connects to; with TLS the donor's certificate must name <host>.
backup_connect_address() {
  local host=$1
  if tls_enabled; then
    printf 'OPENSSL:%s:%s,connect-timeout=10,%s' "$host" "$BACKUP_PORT" "$(socat_tls_options)"
  else
    printf 'TCP:%s:%s,connect-timeout=10' "$host" "$BACKUP_PORT"
  fi
}

# What changes when the certificate is renewed (a new key always comes with a new certificate);
# the public files only, so that a trace never shows the key. The backup listener restarts when it
# changes (sidecar.sh); the agent keeps the server on the current files (tls_reload.py).
tls_files_state() {
  printf '%s\n%s\n' "$(<"$TLS_DIR/ca.crt")" "$(<"$TLS_DIR/tls.crt")"
}
