-- GET /healthz: the same server, no session, no database.
package.path = "bench/?.lua;" .. package.path
require "common"
request = function() return wrk.format("GET", "/healthz") end
done = report
