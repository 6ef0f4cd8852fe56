# Sourced by bench/loadtest (--devices SESSIONS): user u1 holds SESSIONS live
# sessions (bench/prepare.py). GET /accounts/sessions as u1, then other
# users' GET /accounts/me, 8 connections, alone and while u1 changes the
# password (which ends every other session of u1).
devices_scenario() {
  local count tokens newest oldest change_ms quiet during status
  mapfile -t tokens <"$dir/device_tokens"
  newest="${tokens[0]}" oldest="${tokens[1]}"
  count=$(curl -sf -H "Authorization: Bearer $newest" "$base/accounts/sessions" \
    | python3 -c 'import json,sys; b=json.load(sys.stdin); print(b["count"], len(b["sessions"]))')
  echo "running GET /accounts/sessions for the user with $1 devices..." >&2
  local list; list=$(run device_sessions 1 "$duration" device_sessions)
  quiet=$(run devices_quiet 8 "$duration" me_bearer)
  wrk -t1 -c8 -d"$duration"s --timeout 10s -s bench/me_bearer.lua "$base" >"$dir/during.out" &
  local load=$!
  sleep 1
  change_ms=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST -H "Authorization: Bearer $newest" \
    -H 'Content-Type: application/json' \
    -d "{\"current_password\":\"$BENCH_PASSWORD\",\"new_password\":\"$BENCH_PASSWORD, changed\"}" \
    "$base/accounts/password/change" | awk '{ printf "%s %.0f", $1, $2 * 1000 }')
  wait "$load"
  during=$(sed -n 's/^RESULT //p' "$dir/during.out")
  status="old session $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $oldest" "$base/accounts/me")"
  status="$status, the changing one $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $newest" "$base/accounts/me")"
  printf '\nOne user with %s live sessions (count, listed: %s)\n\n' "$1" "$count"
  printf '| %-48s | %9s | %8s | %8s | %8s |\n' scenario "req/s" "p50 ms" "p99 ms" "max ms"
  printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..50})" "-----------" "----------" "----------" "----------"
  row() { printf '| %-48s | %9s | %8s | %8s | %8s |\n' "$1" "$(field "$2" rps)" "$(field "$2" p50)" "$(field "$2" p99)" "$(field "$2" max)"; }
  row "GET /accounts/sessions as that user, 1 conn" "$list"
  row "others' GET /accounts/me, 8 conns, quiet" "$quiet"
  row "others' GET /accounts/me, 8 conns, during change" "$during"
  printf 'POST /accounts/password/change ending them: HTTP %s ms; afterwards: %s\n' "$change_ms" "$status"
  if [ -n "$result_file" ]; then
    echo "devices sessions=$1 list_p99=$(field "$list" p99) change=${change_ms// /:} quiet_p99=$(field "$quiet" p99) during_p99=$(field "$during" p99) during_max=$(field "$during" max)" >>"$result_file"
  fi
}
