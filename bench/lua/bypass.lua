-- bench/lua/bypass.lua: a GET of the URL given to wrk with Cache-Control: no-cache, which
-- skips the front's cache (a catalog replica answers and refreshes the entry). No request or
-- response callback, so wrk sends a pre-built request, as for static.lua.
wrk.headers["Cache-Control"] = "no-cache"
