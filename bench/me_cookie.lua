-- GET /accounts/me with browser session cookies, spread over many sessions.
package.path = "bench/?.lua;" .. package.path
require "common"
local cookies = lines(os.getenv("BENCH_DIR") .. "/cookies")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/accounts/me", { ["Cookie"] = cookies[(n % #cookies) + 1] })
end
done = report
