-- bench/lua/mix.lua: 90% reads (GET /info/{1..7}, GET /search/{topic}),
-- 10% purchases (POST /purchase/{1..7}), chosen at random per request.
local topics = { "distributed%20systems", "undergraduate%20school" }
local info, search, purchase = {}, {}, {}

init = function(args)
   math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
   for id = 1, 7 do
      info[id] = wrk.format("GET", "/info/" .. id)
      purchase[id] = wrk.format("POST", "/purchase/" .. id, nil, "")
   end
   for i, topic in ipairs(topics) do
      search[i] = wrk.format("GET", "/search/" .. topic)
   end
end

request = function()
   local roll = math.random(100)
   if roll <= 10 then
      return purchase[math.random(7)]
   elseif roll <= 75 then
      return info[math.random(7)]
   else
      return search[math.random(#search)]
   end
end

-- Count answers by status.
bench_status = {}
response = function(status, headers, body)
   bench_status[status] = (bench_status[status] or 0) + 1
end
