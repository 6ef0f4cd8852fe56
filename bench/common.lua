-- Shared by the load-test scripts: a machine-readable result line, read by
-- bench/loadtest. Latencies in milliseconds.
function report(summary, latency)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50=%.2f p99=%.2f max=%.2f requests=%d non2xx=%d errors=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end

-- Lines of a file, as a list.
function lines(path)
  local list = {}
  for line in io.lines(path) do list[#list + 1] = line end
  return list
end
