-- POST /accounts/register with a new email every time.
package.path = "bench/?.lua;" .. package.path
require "common"
local password = os.getenv("BENCH_PASSWORD")
local n = 0
local prefix
setup = function(thread)
  thread:set("id", tostring(math.random(1, 1e9)))
end
request = function()
  prefix = prefix or (id or tostring(math.random(1, 1e9)))
  n = n + 1
  local body = string.format('{"email":"r%s-%d@bench.example","password":"%s","client":"app"}', prefix, n, password)
  return wrk.format("POST", "/accounts/register", { ["Content-Type"] = "application/json" }, body)
end
done = report
