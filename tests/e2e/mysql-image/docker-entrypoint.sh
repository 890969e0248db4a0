#!/bin/bash
# Test stand-in for the entrypoint of the official mysql image (docker-library/mysql,
# 9.7/docker-entrypoint.sh): the smallest equivalent for what a StatefulSet relies on. What it
# covers and what it leaves out is listed in tests/e2e/README.md ("Image stand-in").
set -eo pipefail
shopt -s nullglob

say() { printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$1" "${*:2}"; }
die() { say ERROR "$@" >&2; exit 1; }

# As in the image: an option as first word means "run the server with it", any other command
# runs untouched, and so do requests for help or version.
if [ "${1:0:1}" = - ]; then
	set -- mysqld "$@"
fi
[ "$1" = mysqld ] || exec "$@"
for word in "$@"; do
	case "$word" in
		--help | -'?' | --version | -V | --print-defaults) exec "$@" ;;
	esac
done

# The server's own resolution of its options; a throwaway binary-log index keeps the check from
# touching the data directory. Only unindented lines of the variables table name a setting.
help_args=(--verbose --help --log-bin-index="$(mktemp -u)")
if ! config_errors=$("$@" "${help_args[@]}" 2>&1 >/dev/null); then
	die "the server rejects its configuration: $config_errors"
fi
server_setting() {
	"${@:2}" "${help_args[@]}" 2>/dev/null |
		awk -v wanted="$1" '/^[^ \t]/ && $1 == wanted { print $2; exit }'
}
datadir=$(server_setting datadir "$@")
socket=$(server_setting socket "$@")

# Started as root, the image makes the directories the server writes to and continues as mysql.
if [ "$(id -u)" = 0 ]; then
	directories=("$datadir" "$(dirname "$socket")")
	for option in pid-file secure-file-priv; do
		value=$(server_setting "$option" "$@")
		[ -z "$value" ] || [ "$value" = NULL ] && continue
		[ "$option" = secure-file-priv ] || value=$(dirname "$value")
		directories+=("$value")
	done
	mkdir -p "${directories[@]}"
	find "${directories[@]}" ! -user mysql -exec chown --no-dereference mysql '{}' +
	exec setpriv --reuid=mysql --regid=mysql --init-groups -- "$0" "$@"
fi

# VAR or VAR_FILE, never both.
setting_from_env() {
	local name=MYSQL_$1 file_name=MYSQL_$1_FILE
	if [ -n "${!name}" ] && [ -n "${!file_name}" ]; then
		die "both $name and $file_name are set"
	fi
	if [ -n "${!file_name}" ]; then
		printf '%s' "$(<"${!file_name}")"
	else
		printf '%s' "${!name}"
	fi
}

sql_string() {
	local escaped=${1//\\/\\\\}
	printf "'%s'" "${escaped//\'/\\\'}"
}

# The clients' password travels in an option file on a pipe, never on their command line.
root_option_file() {
	printf '[client]\nuser=root\npassword=%s\n' "$root_password"
}

initialise_datadir() {
	local allow_empty root_host variable
	root_password=$(setting_from_env ROOT_PASSWORD)
	allow_empty=$(setting_from_env ALLOW_EMPTY_PASSWORD)
	root_host=$(setting_from_env ROOT_HOST)
	root_host=${root_host:-%}
	for variable in DATABASE USER PASSWORD RANDOM_ROOT_PASSWORD ONETIME_PASSWORD; do
		if [ -n "$(setting_from_env "$variable")" ]; then
			die "MYSQL_$variable is not emulated by the e2e image stand-in"
		fi
	done
	if [ -z "$root_password" ] && [ -z "$allow_empty" ]; then
		die "Database is uninitialized and password option is not specified:" \
			"set MYSQL_ROOT_PASSWORD[_FILE] or MYSQL_ALLOW_EMPTY_PASSWORD"
	fi

	say Note "Initializing database files"
	"$@" --initialize-insecure --default-time-zone=SYSTEM
	say Note "Database files initialized"

	say Note "Starting temporary server"
	"$@" --daemonize --skip-networking --default-time-zone=SYSTEM --socket="$socket" ||
		die "Unable to start server."

	# Like the image: root accounts are set up outside the binary log, so that replicas never
	# receive them. MYSQL_ROOT_HOST (default %) adds a root account for that host, unless it is
	# localhost.
	local password host remote_root=""
	password=$(sql_string "$root_password")
	host=$(sql_string "$root_host")
	if [ "$root_host" != localhost ]; then
		remote_root="CREATE USER 'root'@$host IDENTIFIED BY $password;
			GRANT ALL ON *.* TO 'root'@$host WITH GRANT OPTION;"
	fi
	# The new root has no password yet: the client gets none.
	mysql --protocol=socket --socket="$socket" -uroot --database=mysql <<-SQL
		SET autocommit = 1;
		SET @@SESSION.SQL_LOG_BIN = 0;
		ALTER USER 'root'@'localhost' IDENTIFIED BY $password;
		GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION;
		FLUSH PRIVILEGES;
		$remote_root
		DROP DATABASE IF EXISTS test;
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
			*.sql) mysql --defaults-extra-file=<(root_option_file) --protocol=socket --socket="$socket" <"$init_file" ;;
			*) die "$init_file: only .sh and .sql init files are emulated" ;;
		esac
	done

	say Note "Stopping temporary server"
	# Over the socket, mysqladmin returns once the server has shut down.
	mysqladmin --defaults-extra-file=<(root_option_file) --socket="$socket" shutdown ||
		die "Unable to shut down server."
	say Note "MySQL init process done. Ready for start up."
}

if [ ! -d "$datadir/mysql" ]; then
	initialise_datadir "$@"
fi
exec "$@"
