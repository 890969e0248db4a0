# shellcheck shell=bash
# A server's GTID state, as an SQL expression: MariaDB's binary log state (the last sequence
# number of every server in every domain) with the replica position (a fresh clone has no binary
# log yet); MySQL's gtid_executed on one line.
gtid_state_expression() {
  if is_mariadb; then
    printf 'CONCAT_WS(",", NULLIF(@@GLOBAL.gtid_binlog_state, ""), NULLIF(@@GLOBAL.gtid_slave_pos, ""))'
  else
    printf 'REPLACE(@@GLOBAL.gtid_executed, "\\n", "")'
  fi
}
