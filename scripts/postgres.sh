# Starts a private PostgreSQL cluster for the database test suite and exports STRATA_TEST_PG_URL.
# Sourced by scripts/test. Skips (and leaves STRATA_TEST_PG_URL unset) only where PostgreSQL is absent.

pg_test_dir=""
pg_test_pid=""

start_test_postgres() {
  if [ -n "${STRATA_TEST_PG_URL:-}" ]; then return 0; fi
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bin" ]; then echo "strata: PostgreSQL not installed; the postgres suite will say it skipped" >&2; return 0; fi
  pg_test_dir="$(mktemp -d /tmp/strata-pg.XXXXXX)"
  local port=$((20000 + RANDOM % 20000))
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$pg_test_dir"
    run_as=(runuser -u postgres --)
  fi
  "${run_as[@]}" "$bin/initdb" -D "$pg_test_dir/data" -U strata --auth=trust -E UTF8 >/dev/null
  "${run_as[@]}" "$bin/pg_ctl" -D "$pg_test_dir/data" -o "-p $port -k $pg_test_dir -c listen_addresses=127.0.0.1 -c fsync=off" -l "$pg_test_dir/log" -w start >/dev/null
  export STRATA_TEST_PG_URL="postgres://strata@127.0.0.1:$port/postgres"
  echo "strata: test PostgreSQL at $STRATA_TEST_PG_URL" >&2
}

stop_test_postgres() {
  if [ -z "$pg_test_dir" ]; then return 0; fi
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$pg_test_dir/data" -m immediate stop >/dev/null 2>&1 || true
  else
    "$bin/pg_ctl" -D "$pg_test_dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$pg_test_dir"
}
