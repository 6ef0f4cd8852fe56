# Sourced by bench/loadtest (--purge ROWS): GET /accounts/me, 8 connections,
# in 1-second windows, first with no purge running, then while the purge
# deletes ROWS expired sessions and a tenth as many expired counters,
# tokens and finished mail. Compares the worst and the median window p99.
purge_scenario() {
  local rows="$1" embedded=0 interval=$((duration + 4)) log_lines
  [ "$backend" = embedded ] && embedded=1
  stop_server
  echo "filling in $rows expired rows..." >&2
  local filled; filled=$(python3 bench/fill_expired.py "$rows" "$embedded" | sed -n 's/^FILLED //p')
  log_lines=$(wc -l <"$dir/server.log")
  local t0; t0=$(date +%s.%N)
  start_server PURGE_INTERVAL_SECS="$interval"
  run warmup 8 1 me_bearer >/dev/null
  local quiet=() during=() w
  echo "GET /accounts/me without the purge, ${duration} one-second windows..." >&2
  for _ in $(seq "$duration"); do
    w=$(run quiet 8 1 me_bearer); quiet+=("$(field "$w" p99)")
  done
  # The first purge starts one interval after start-up.
  sleep "$(awk -v t0="$t0" -v i="$interval" -v now="$(date +%s.%N)" 'BEGIN { d = t0 + i - now; print (d > 0 ? d : 0) }')"
  echo "GET /accounts/me while the purge runs..." >&2
  local purged=""
  for _ in $(seq 300); do
    w=$(run during 8 1 me_bearer); during+=("$(field "$w" p99)")
    purged=$(tail -n +"$((log_lines + 1))" "$dir/server.log" | grep -m1 '"purged expired rows"' || true)
    [ -n "$purged" ] && break
  done
  [ -n "$purged" ] || { echo "the purge did not finish in 300 s" >&2; exit 1; }
  worst() { printf '%s\n' "$@" | sort -g | tail -1; }
  median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
  local elapsed; elapsed=$(echo "$purged" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fields"]["elapsed_ms"])' 2>/dev/null \
    || echo "$purged" | sed -n 's/.*"elapsed_ms":\([0-9]*\).*/\1/p')
  printf '\nThe purge of %s (batches of %s): %s ms\n\n' "$filled" "${PURGE_BATCH_SIZE:-1000}" "$elapsed"
  printf '| %-44s | %14s | %14s |\n' "GET /accounts/me, 8 conns, 1 s windows" "worst p99 ms" "median p99 ms"
  printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "----------------" "----------------"
  printf '| %-44s | %14s | %14s |\n' "no purge ($duration windows)" "$(worst "${quiet[@]}")" "$(median "${quiet[@]}")"
  printf '| %-44s | %14s | %14s |\n' "during the purge (${#during[@]} windows)" "$(worst "${during[@]}")" "$(median "${during[@]}")"
  printf 'worst window during / worst without: x%s\n' "$(awk -v a="$(worst "${during[@]}")" -v b="$(worst "${quiet[@]}")" 'BEGIN { printf "%.1f", a / b }')"
  if [ -n "$result_file" ]; then
    echo "purge elapsed_ms=$elapsed quiet_worst=$(worst "${quiet[@]}") during_worst=$(worst "${during[@]}") quiet_median=$(median "${quiet[@]}") during_median=$(median "${during[@]}")" >>"$result_file"
  fi
}
