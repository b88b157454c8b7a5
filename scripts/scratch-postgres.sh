# Sourced by scripts/test and scripts/load: a throwaway PostgreSQL 15
# cluster (Debian's postgresql-15) for one run. `start_scratch_postgres`
# makes it in a temporary folder with trust authentication for the one role
# `anfang`, starts it on a free 127.0.0.1 port (durability off unless
# SCRATCH_PG_DURABLE=1: the data dies with the run) and sets SCRATCH_PG_URL (postgres://anfang@…,
# no database: append /NAME); `stop_scratch_postgres` stops and removes it.
# PostgreSQL refuses to run as root, so as root it runs as the `postgres`
# user the package creates.
scratch_pg_bin=/usr/lib/postgresql/15/bin
start_scratch_postgres() {
  scratch_pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/anfang-pg.XXXXXX")"
  scratch_pg_as=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$scratch_pg_dir"; scratch_pg_as=(runuser -u postgres --); fi
  "${scratch_pg_as[@]}" "$scratch_pg_bin/initdb" --auth=trust --username=anfang --encoding=UTF8 --no-locale \
    --no-sync -D "$scratch_pg_dir/data" >/dev/null
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # Durability off for tests; SCRATCH_PG_DURABLE=1 keeps PostgreSQL's
  # defaults (fsync, full-page writes, synchronous commit) for figures.
  local fast="-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
  [ "${SCRATCH_PG_DURABLE:-}" != 1 ] || fast=""
  "${scratch_pg_as[@]}" "$scratch_pg_bin/pg_ctl" -D "$scratch_pg_dir/data" -l "$scratch_pg_dir/log" -w \
    -o "-p $port -k $scratch_pg_dir -c listen_addresses=127.0.0.1 $fast -c max_connections=300" start >/dev/null
  SCRATCH_PG_URL="postgres://anfang@127.0.0.1:$port"
  SCRATCH_PG_PORT="$port"
}
# Makes database $1 on the scratch cluster.
scratch_createdb() {
  "$scratch_pg_bin/psql" -X -q -h 127.0.0.1 -p "$SCRATCH_PG_PORT" -U anfang -d postgres -c "CREATE DATABASE \"$1\""
}
stop_scratch_postgres() {
  [ -n "${scratch_pg_dir:-}" ] || return 0
  "${scratch_pg_as[@]}" "$scratch_pg_bin/pg_ctl" -D "$scratch_pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$scratch_pg_dir"; scratch_pg_dir=
}
