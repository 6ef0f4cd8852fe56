-- GET /accounts/sessions with app tokens, spread over many users.
package.path = "bench/?.lua;" .. package.path
require "common"
local tokens = lines(os.getenv("BENCH_DIR") .. "/tokens")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/accounts/sessions", { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] })
end
done = report
