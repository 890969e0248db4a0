#!/bin/bash
# Test stand-in for the entrypoint of the official mariadb image: the smallest
# equivalent for what a StatefulSet relies on. What it covers and what it
# leaves out is listed in tests/e2e/README.md ("Image stand-in").
set -eo pipefail
shopt -s nullglob

say() { printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$1" "${*:2}"; }
die() { say ERROR "$@" >&2; exit 1; }

# As in the image: an option as first word means "run the server with it",
# any other command runs untouched, and so do requests for help or version.
if [ "${1:0:1}" = - ]; then
	set -- mariadbd "$@"
fi
case "$1" in
	mariadbd | mysqld) ;;
	*) exec "$@" ;;
esac
for word in "$@"; do
	case "$word" in
		--help | -'?' | --version | -V | --print-defaults) exec "$@" ;;
	esac
done

# The server's own resolution of its options (config files and arguments).
# Only unindented lines of the variables table name a setting.
if ! config_errors=$("$@" --verbose --help 2>&1 >/dev/null); then
	die "the server rejects its configuration: $config_errors"
fi
server_setting() {
	"${@:2}" --verbose --help 2>/dev/null |
		awk -v wanted="$1" '/^[^ \t]/ && $1 == wanted { print $2; exit }'
}
datadir=$(server_setting datadir "$@")
socket=$(server_setting socket "$@")

# Started as root, the image prepares its directories and continues as mysql.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$datadir"
	chown mysql: "$datadir" "$(dirname "$socket")"
	exec setpriv --reuid=mysql --regid=mysql --init-groups -- "$0" "$@"
fi

# VAR or VAR_FILE (never both), with the MYSQL_ spelling accepted as an alias.
setting_from_env() {
	local name found=""
	for name in "MARIADB_$1" "MYSQL_$1"; do
		local file_name="${name}_FILE"
		if [ -n "${!name}" ] && [ -n "${!file_name}" ]; then
			die "both $name and $file_name are set"
		fi
		if [ -n "${!file_name}" ]; then
			found=$(<"${!file_name}")
		elif [ -n "${!name}" ]; then
			found=${!name}
		fi
		[ -n "$found" ] && break
	done
	printf '%s' "$found"
}

sql_string() {
	local escaped=${1//\\/\\\\}
	printf "'%s'" "${escaped//\'/\\\'}"
}

initialise_datadir() {
	local root_password allow_empty root_host variable
	root_password=$(setting_from_env ROOT_PASSWORD)
	allow_empty=$(setting_from_env ALLOW_EMPTY_ROOT_PASSWORD)
	root_host=$(setting_from_env ROOT_HOST)
	root_host=${root_host:-%}
	for variable in DATABASE USER PASSWORD PASSWORD_HASH ROOT_PASSWORD_HASH RANDOM_ROOT_PASSWORD \
		REPLICATION_USER REPLICATION_PASSWORD MASTER_HOST MYSQL_LOCALHOST_USER; do
		if [ -n "$(setting_from_env "$variable")" ]; then
			die "MARIADB_$variable is not emulated by the e2e image stand-in"
		fi
	done
	if [ -z "$root_password" ] && [ -z "$allow_empty" ]; then
		die "Database is uninitialized and password option is not specified:" \
			"set MARIADB_ROOT_PASSWORD[_FILE] or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
	fi

	say Note "Initializing database files"
	mkdir -p "$datadir"
	mariadb-install-db --datadir="$datadir" --rpm --auth-root-authentication-method=normal \
		"${@:2}" --skip-test-db --default-time-zone=SYSTEM --enforce-storage-engine= \
		--skip-log-bin --expire-logs-days=0 \
		--loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0

	say Note "Starting temporary server"
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$socket" --wsrep_on=OFF \
		--expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 &
	local server_pid=$! attempt
	local client=(mariadb --protocol=socket --socket="$socket" -uroot --database=mysql)
	for attempt in $(seq 150); do
		if "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		kill -0 "$server_pid" 2>/dev/null || die "temporary server exited during initialisation"
		[ "$attempt" = 150 ] && die "temporary server did not accept connections within 30 s"
		sleep 0.2
	done

	# Like the image: root accounts are set up outside the binary log, so that
	# replicas never receive them. MARIADB_ROOT_HOST (default %) adds a root
	# account for that host, unless it is localhost.
	local password host remote_root=""
	password=$(sql_string "$root_password")
	host=$(sql_string "$root_host")
	if [ "$root_host" != localhost ]; then
		remote_root="CREATE USER root@$host IDENTIFIED BY $password;
			GRANT ALL ON *.* TO root@$host WITH GRANT OPTION;
			GRANT PROXY ON ''@'%' TO root@$host WITH GRANT OPTION;"
	fi
	"${client[@]}" --binary-mode <<-SQL
		SET @@SESSION.SQL_LOG_BIN = 0;
		DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@''', @@hostname, '''');
		SET PASSWORD FOR root@localhost = PASSWORD($password);
		$remote_root
	SQL

	local init_file
	for init_file in /docker-entrypoint-initdb.d/*; do
		say Note "running $init_file"
		case "$init_file" in
			*.sh)
				if [ -x "$init_file" ]; then
					"$init_file"
				else
					# shellcheck disable=SC1090 # the user's init script, found at run time
					. "$init_file"
				fi
				;;
			*.sql) MYSQL_PWD=$root_password "${client[@]}" <"$init_file" ;;
			*) die "$init_file: only .sh and .sql init files are emulated" ;;
		esac
	done

	say Note "Stopping temporary server"
	kill "$server_pid"
	wait "$server_pid"
	say Note "MariaDB init process done. Ready for start up."
}

if [ ! -d "$datadir/mysql" ]; then
	initialise_datadir "$@"
fi
exec "$@"
