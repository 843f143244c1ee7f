-- bench/lua/oversell.lua: POST /purchase/{id} on a book with little stock,
-- counting answers by status (200 sold, 409 out of stock) in every thread.
wrk.method = "POST"
wrk.body = ""   -- wrk then sends "Content-Length: 0"
bench_status = {}

response = function(status, headers, body)
   bench_status[status] = (bench_status[status] or 0) + 1
end
