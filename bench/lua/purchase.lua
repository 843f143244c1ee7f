-- bench/lua/purchase.lua: POST /purchase/{id} (the id is in wrk's URL).
wrk.method = "POST"
wrk.body = ""   -- wrk then sends "Content-Length: 0"

-- Count answers by status (200 bought, 409 out of stock in the oversell probe; 503: timed out).
bench_status = {}
response = function(status, headers, body)
   bench_status[status] = (bench_status[status] or 0) + 1
end
