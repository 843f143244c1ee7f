-- bench/lua/info-random.lua: GET /info/{id} with id random in 1..BENCH_BOOKS (the catalog's
-- size), so that reads touch the whole catalog rather than one book.
local books = tonumber(os.getenv("BENCH_BOOKS") or "7")

init = function(args)
   math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
end

request = function()
   return wrk.format("GET", "/info/" .. math.random(books))
end
