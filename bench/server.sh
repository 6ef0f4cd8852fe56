# Sourced by bench/loadtest: the release server on a fresh database, its
# clean-up, and wrk. Needs $backend; sets $dir, $base, $pid, $bin.
bench_setup() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)..." >&2
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  fi
  echo "building the release binary..." >&2
  cargo build --release -q
  bin=target/release/accounts

  dir=$(mktemp -d)
  export BENCH_DIR="$dir" BENCH_PASSWORD="bench passphrase for load 2026"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  export BIND_ADDRESS="127.0.0.1:$port" SECRET_KEY="load-test-secret-key-0123456789-abcdefghijklmnop"
  export LOG_FORMAT=json RUST_LOG=warn,accounts::accounts::housekeeping=info MEDIA_ROOT="$dir/media"
  export EMAIL_FILE_DIR="$dir/outbox"
  # Successful logins are not throttled; keep the per-address limits out of
  # the way: every request of the load comes from one address.
  export LOGIN_FAILURES_PER_IP=1000000 REGISTRATIONS_PER_IP=1000000000 PASSWORD_RESETS_PER_IP=1000000000
  # The purge runs only when a scenario starts it (bench/purge.sh).
  export PURGE_INTERVAL_SECS="${PURGE_INTERVAL_SECS:-86400}"
  schema=""
  if [ "$backend" = postgres ]; then
    pg="${BENCH_DATABASE_URL:-postgres://127.0.0.1:5432/test}"
    schema="bench_$$"
    psql -q -d "$pg" -c "CREATE SCHEMA $schema" >/dev/null
    export DATABASE_URL="$pg?options=-csearch_path%3D$schema"
    export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}" REDIS_KEY_PREFIX="bench:$$:"
  else
    export DATABASE_URL="sqlite://$dir/db.sqlite3"
    unset REDIS_URL
  fi
  pid=""
  trap bench_cleanup EXIT
}

bench_cleanup() {
  stop_server
  [ -n "${KEEP_LOG:-}" ] && cp "$dir/server.log" "$KEEP_LOG"
  [ -n "$schema" ] && psql -q -d "$pg" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1
  if [ -n "${REDIS_KEY_PREFIX:-}" ]; then
    redis-cli -u "$REDIS_URL" --scan --pattern "${REDIS_KEY_PREFIX}*" \
      | xargs -r -n 1000 redis-cli -u "$REDIS_URL" unlink >/dev/null 2>&1
  fi
  rm -rf "$dir"
}

start_server() { # [VAR=value ...]: extra settings for this start
  env "$@" "$bin" serve >>"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -sf "$base/readyz" >/dev/null && return; sleep 0.1; done
  cat "$dir/server.log" >&2
  exit 1
}

stop_server() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=""
  fi
  return 0
}

run() { # name connections seconds script
  wrk -t1 -c"$2" -d"$3"s --timeout 10s -s "bench/$4.lua" "$base" | sed -n 's/^RESULT //p'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
