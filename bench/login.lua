-- POST /accounts/login (app client) over the prepared accounts.
package.path = "bench/?.lua;" .. package.path
require "common"
local emails = lines(os.getenv("BENCH_DIR") .. "/emails")
local password = os.getenv("BENCH_PASSWORD")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"email":"%s","password":"%s","client":"app"}', emails[(n % #emails) + 1], password)
  return wrk.format("POST", "/accounts/login", { ["Content-Type"] = "application/json" }, body)
end
done = report
