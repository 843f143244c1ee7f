-- bench/lua/misses.lua: GET /search/miss-N with N random in 1..10^9: nearly every request
-- names a topic never asked before, so it is a cache miss that waits on a catalog replica
-- (the overload flood). Counts answers by status.
init = function(args)
   math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
end

request = function()
   return wrk.format("GET", "/search/miss-" .. math.random(1000000000))
end

bench_status = {}
response = function(status, headers, body)
   bench_status[status] = (bench_status[status] or 0) + 1
end
