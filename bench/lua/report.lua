-- bench/lua/report.lua: appended to every scenario script by bench/run.
-- Prints one machine-readable line with wrk's own figures (latencies in
-- microseconds) and, when the scenario counts them, per-status totals.
local bench_threads = {}

local bench_prev_setup = setup
setup = function(thread)
   table.insert(bench_threads, thread)
   if bench_prev_setup then bench_prev_setup(thread) end
end

done = function(summary, latency, requests)
   local statuses = {}
   for _, thread in ipairs(bench_threads) do
      local counts = thread:get("bench_status")
      if counts then
         for status, n in pairs(counts) do
            statuses[status] = (statuses[status] or 0) + n
         end
      end
   end
   local parts = {}
   for status, n in pairs(statuses) do
      table.insert(parts, string.format('"%d":%d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"statuses":{%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout,
      table.concat(parts, ",")))
end
