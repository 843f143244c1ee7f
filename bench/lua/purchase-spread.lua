-- bench/lua/purchase-spread.lua: POST /purchase/{1..7}, a book chosen at random per request.
local purchase = {}

init = function(args)
   math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
   for id = 1, 7 do
      purchase[id] = wrk.format("POST", "/purchase/" .. id, nil, "")
   end
end

request = function()
   return purchase[math.random(7)]
end

-- Count answers by status (200 bought; 503: timed out).
bench_status = {}
response = function(status, headers, body)
   bench_status[status] = (bench_status[status] or 0) + 1
end
