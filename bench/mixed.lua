-- A day in the life: reads of "me" and the profile, some edits. Out of 100
-- requests: 70 GET /me, 20 GET /me/profile, 10 PATCH /me. bench/loadtest
-- runs logins beside it on connections of their own: wrk corrects each
-- slow request for coordinated omission (it charges the time a connection
-- waited as requests it did not send), so one 500 ms login on a shared
-- connection would be counted as hundreds of delayed reads of "me".
package.path = "bench/?.lua;" .. package.path
require "common"
local tokens = lines(os.getenv("BENCH_DIR") .. "/tokens")
local n = 0
request = function()
  n = n + 1
  local auth = { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1], ["Content-Type"] = "application/json" }
  local slot = n % 100
  if slot < 70 then
    return wrk.format("GET", "/accounts/me", auth)
  elseif slot < 90 then
    return wrk.format("GET", "/accounts/me/profile", auth)
  else
    return wrk.format("PATCH", "/accounts/me", auth, string.format('{"first_name":"Bench %d"}', n))
  end
end
done = report
