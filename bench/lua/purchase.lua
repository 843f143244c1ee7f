-- bench/lua/purchase.lua: POST /purchase/{id} (the id is in wrk's URL).
wrk.method = "POST"
wrk.body = ""   -- wrk then sends "Content-Length: 0"
