-- bench/lua/probe.lua: a GET of the URL given to wrk, counting answers by status (the
-- overload probe reads a cache hit while the flood runs).
bench_status = {}
response = function(status, headers, body)
   bench_status[status] = (bench_status[status] or 0) + 1
end
