-- POST /accounts/password/reset for prepared accounts (known emails: the
-- request answers the same either way, and the mail worker sends later).
package.path = "bench/?.lua;" .. package.path
require "common"
local emails = lines(os.getenv("BENCH_DIR") .. "/emails")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"email":"%s"}', emails[(n % #emails) + 1])
  return wrk.format("POST", "/accounts/password/reset", { ["Content-Type"] = "application/json" }, body)
end
done = report
