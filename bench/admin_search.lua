-- GET /admin/users?search= as staff, looking one prepared user up by a
-- piece of their email ("u1234@"), as support staff do.
package.path = "bench/?.lua;" .. package.path
require "common"
local dir = os.getenv("BENCH_DIR")
local searches = lines(dir .. "/searches")
local token = lines(dir .. "/staff_token")[1]
local n = 0
request = function()
  n = n + 1
  local term = searches[(n % #searches) + 1]:gsub("@", "%%40")
  return wrk.format("GET", "/admin/users?search=" .. term, { ["Authorization"] = "Bearer " .. token })
end
done = report
