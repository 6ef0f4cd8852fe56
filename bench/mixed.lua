-- A day in the life: mostly reads of "me" and the profile, some edits, a
-- few logins. Out of 1000 requests: 700 GET /me, 200 GET /me/profile,
-- 99 PATCH /me, 1 login (logins are bounded by Argon2, about 90 a second
-- on 2 cores: more would only measure the queue in front of it).
package.path = "bench/?.lua;" .. package.path
require "common"
local dir = os.getenv("BENCH_DIR")
local tokens = lines(dir .. "/tokens")
local emails = lines(dir .. "/emails")
local password = os.getenv("BENCH_PASSWORD")
local n = 0
request = function()
  n = n + 1
  local auth = { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1], ["Content-Type"] = "application/json" }
  local slot = n % 1000
  if slot < 700 then
    return wrk.format("GET", "/accounts/me", auth)
  elseif slot < 900 then
    return wrk.format("GET", "/accounts/me/profile", auth)
  elseif slot < 999 then
    return wrk.format("PATCH", "/accounts/me", auth, string.format('{"first_name":"Bench %d"}', n))
  else
    local body = string.format('{"email":"%s","password":"%s","client":"app"}', emails[(n % #emails) + 1], password)
    return wrk.format("POST", "/accounts/login", { ["Content-Type"] = "application/json" }, body)
  end
end
done = report
