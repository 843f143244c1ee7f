-- bench/lua/fill.lua: GET /search/bench-topic-N with N random in 1..20000.
-- Unknown topics answer 200 with no items and are cached, so this fills the
-- front's cache (10k entries by default) and keeps evicting under load.
local requests = {}

init = function(args)
   math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
end

request = function()
   local n = math.random(20000)
   local r = requests[n]
   if not r then
      r = wrk.format("GET", "/search/bench-topic-" .. n)
      requests[n] = r
   end
   return r
end
