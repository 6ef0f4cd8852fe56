-- GET /accounts/sessions as the user with many devices (bench/devices.sh).
package.path = "bench/?.lua;" .. package.path
require "common"
local token = lines(os.getenv("BENCH_DIR") .. "/device_tokens")[1]
request = function()
  return wrk.format("GET", "/accounts/sessions", { ["Authorization"] = "Bearer " .. token })
end
done = report
