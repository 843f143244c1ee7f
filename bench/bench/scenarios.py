"""The single-host scenarios, in the order a run measures them, and the write checks' snapshots
around the purchases (RESULTS/NAME.check.json, judged by checks.py)."""

import json
import os
import time

from .common import (BIG_STOCK, BOOKS, CACHE_CAPACITY, PROBE_BOOK, PURCHASE_BOOK, HarnessError, log, proc_status_kib,
                     tail, write_json)
from .wrk import result_of


def measure_baseline(meter, baseline, name, body_bytes):
    """The baseline (NAME: baseline first, baseline-end last)."""
    meter.measure(name, baseline.url(), "/info/6", "static", {"body_bytes": body_bytes})


def reads(meter, stack, body_bytes):
    """cache-hit, bypass and search-hit, each request checked once first."""
    client = stack.client
    client.get("/info/6")
    if client.cache_label("/info/6") != "HIT":
        log("warning: /info/6 is not a cache hit before the run")
    meter.measure("cache-hit", stack.url(), "/info/6", "static", {"body_bytes": body_bytes})
    if client.cache_label("/info/6", {"Cache-Control": "no-cache"}) != "BYPASS":
        log("warning: /info/6 with Cache-Control: no-cache is not a bypass")
    meter.measure("bypass", stack.url(), "/info/6", "bypass")
    client.get("/search/distributed%20systems")
    meter.measure("search-hit", stack.url(), "/search/distributed%20systems", "static")


def set_stock(client, book, stock):
    if not client.set_stock(book, stock):
        raise HarnessError("could not set the stock of book %d" % book)


def purchases(meter, stack):
    """purchase (every connection buys book 1) and purchase-spread (a book at random), each
    between snapshots of the stocks and the orders."""
    client = stack.client
    for book in BOOKS:
        set_stock(client, book, BIG_STOCK)
    level_before = client.wait_level(15)
    stock_before, orders_before = client.stocks(), client.orders()
    meter.measure("purchase", stack.url(), "/purchase/%d" % PURCHASE_BOOK, "purchase",
                  {"book": PURCHASE_BOOK, "stock_set": BIG_STOCK})
    level_after = client.wait_level(30)
    stock_after, orders_after = client.stocks(), client.orders()
    write_json(os.path.join(meter.results, "purchase.check.json"), {
        "level_before": level_before, "level_after": level_after, "stock_before": stock_before,
        "stock_after": stock_after, "orders_before": orders_before, "orders_after": orders_after})
    measure_with_snapshots(meter, stack, "purchase-spread", "/purchase/N", "purchase-spread",
                           stock_after, orders_after)


def measure_with_snapshots(meter, stack, name, path, lua, stock_before, orders_before):
    """A scenario that buys, and RESULTS/NAME.check.json: the stocks and orders before and after."""
    client = stack.client
    meter.measure(name, stack.url(), path, lua)
    level = client.wait_level(30)
    write_json(os.path.join(meter.results, name + ".check.json"), {
        "level_after": level, "stock_before": stock_before, "stock_after": client.stocks(),
        "orders_before": orders_before, "orders_after": client.orders()})


def oversell_probe(meter, stack):
    """Little stock (BENCH_PROBE_STOCK), the same concurrency for 3 s: every 200 must be a copy
    that existed."""
    client, settings = stack.client, meter.settings
    set_stock(client, PROBE_BOOK, settings.probe_stock)
    client.wait_level(15)
    orders_before = client.orders()
    script = meter.script("oversell", "purchase")    # the probe buys like the purchase scenario
    log("oversell probe: stock %d of book %d, %d connections, 3s" % (settings.probe_stock, PROBE_BOOK,
                                                                     settings.connections))
    raw = meter.output("oversell")
    meter.run("oversell probe", script, stack.url("/purchase/%d" % PROBE_BOOK), 3, raw, timeout="10s", latency=False)
    level = client.wait_level(30)
    stock_after, orders_after = client.stock_of(PROBE_BOOK), client.orders()
    book = str(PROBE_BOOK)
    sold = (None if orders_before is None or orders_after is None
            else orders_after["by_book"].get(book, 0) - orders_before["by_book"].get(book, 0))
    write_json(os.path.join(meter.results, "oversell.check.json"), {
        "book": PROBE_BOOK, "stock_set": settings.probe_stock, "stock_after": stock_after, "orders_created": sold,
        "wrk": result_of(raw), "level": level})


def mix(meter, stack):
    """90% reads, 10% purchases over books 1..7, the probe's book restocked first."""
    client = stack.client
    set_stock(client, PROBE_BOOK, BIG_STOCK)
    client.wait_level(15)
    measure_with_snapshots(meter, stack, "mix", "/", "mix", client.stocks(), client.orders())


def cache_fill(meter, stack):
    """cache-fill, the cache topped up (unmeasured) when a short run did not fill it, then the
    front's peak RSS."""
    client = stack.client
    front = stack.pid("front")
    meter.measure("cache-fill", stack.url(), "/search/bench-topic-N", "fill")
    for _ in range(5):
        entries = client.get_json("/stats")["cache"]["entries"]
        if entries >= CACHE_CAPACITY:
            break
        log("cache-fill: topping the cache up (%d entries)" % entries)
        meter.run("cache top-up", os.path.join(meter.scripts, "cache-fill.lua"), stack.url("/search/bench-topic-N"),
                  3, None, timeout=None, latency=False)
    stats = client.get_json("/stats")
    hwm, rss = proc_status_kib(front, "VmHWM"), proc_status_kib(front, "VmRSS")
    if hwm is None:
        raise HarnessError("could not read the front's VmHWM (pid %d)" % front)
    write_json(os.path.join(meter.results, "rss.json"), {"pid": front, "vm_hwm_kib": hwm, "vm_rss_kib": rss,
                                                          "stats": stats})
    log("front peak RSS (VmHWM) %d MiB; cache: %s" % (hwm // 1024, json.dumps(stats, separators=(",", ":"))))


def overload(meter, stack):
    """BENCH_OVERLOAD_CONNECTIONS connections of cache misses, a second longer than the probe on
    each side, while one more connection reads the cached /info/6."""
    settings = meter.settings
    # /info/6 is read like a hot key first: the cache admits a key by how often it was read
    # lately, and the cache-fill run left it holding topics read several times each.
    for _ in range(20):
        stack.client.get("/info/6")
    flood_script, probe_script = meter.script("overload", "misses"), meter.script("overload-probe", "probe")
    warm = meter.output("overload.warmup")
    open(warm, "w").close()
    log("overload: %d connections of misses for %ds, probing /info/6 for %ds" % (
        settings.overload_connections, settings.seconds + 2, settings.seconds))
    flood_output, probe_output = meter.output("overload"), meter.output("overload-probe")
    flood = meter.start(flood_script, stack.url("/"), settings.seconds + 2, flood_output,
                        connections=settings.overload_connections)
    try:
        time.sleep(1)
        meter.run("overload probe", probe_script, stack.url("/info/6"), settings.seconds, probe_output,
                  connections=1, threads=1)
        if flood.wait() != 0:
            raise HarnessError("wrk failed (overload flood): " + tail(flood_output))
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait()
    meter.record("overload", "/search/miss-N", flood_output, warm, {"connections": settings.overload_connections})
    meter.record("overload-probe", "/info/6", probe_output, warm, {"connections": 1})


def cache_miss(meter, stack, work):
    """GET /info/6 with the front restarted with BAZAR_CACHE_CAPACITY=0: every request goes
    front -> nginx -> catalog."""
    client = stack.client
    log("restarting the front with BAZAR_CACHE_CAPACITY=0 (cache disabled)")
    stack.cache_capacity = 0
    stack.bazarctl("restart", "front", log_path=os.path.join(work, "bazarctl-restart.log"),
                   failure="could not restart the front without a cache")
    client.wait_health(10)
    capacity = client.get_json("/stats")["cache"]["capacity"]
    if capacity != 0:
        raise HarnessError("the restarted front reports cache capacity %s, not 0" % capacity)
    client.get("/info/6")
    if client.cache_label("/info/6") != "MISS":
        log("warning: /info/6 is not a cache miss with the cache disabled")
    meter.measure("cache-miss", stack.url(), "/info/6", "static", {"cache_capacity": 0})
    front = stack.pid("front")
    write_json(os.path.join(meter.results, "rss-nocache.json"),
               {"pid": front, "vm_hwm_kib": proc_status_kib(front, "VmHWM")})
