-- bench/lua/search-imported.lua: GET /search/bench%20topic%20NNN with NNN random in 000..999,
-- the topics bench/run's imports draw from (the first page: up to 100 books).
init = function(args)
   math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
end

request = function()
   return wrk.format("GET", string.format("/search/bench%%20topic%%20%03d", math.random(0, 999)))
end
