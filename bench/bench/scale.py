"""The scale scenarios: the catalog grown to 10,000 and 100,000 books with `bazarctl import`,
the cache off, measured against a second stack that stays at 7 books (the reference), run
before and after each size; catalog-1's memory, a backup's catch-up and the import rate."""

import json
import os
import random
import time
import urllib.error
import urllib.request

from .common import SCALE_SIZES, log, proc_status_kib, tail, write_json
from .stack import Stack

WORDS = ("the of a distributed systems theory practice guide notes garden valley river stone light school exam "
         "project").split()


def write_books(count, seed, path):
    """COUNT bench books as bazarctl import's CSV, topics "bench topic NNN" (1,000 values)."""
    rng = random.Random(seed)
    with open(path, "w") as out:
        out.write("title,topic,price,stock\n")
        for n in range(count):
            title = "Bench book %d-%d: %s" % (seed, n, " ".join(rng.choice(WORDS) for _ in range(4)))
            out.write("%s,bench topic %03d,%.2f,%d\n" % (title, rng.randrange(1000), rng.randrange(100, 10000) / 100,
                                                        rng.randrange(1, 200)))


def catch_up_seconds(stack):
    """Seconds until catalog-2, stopped, its database deleted and started again, has applied
    what catalog-1 has (and serves: "up"); 60 at most."""
    stack.quiet("stop", "catalog-2")
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(stack.var, "data", "catalog-2.db" + suffix)
        if os.path.exists(path):
            os.remove(path)
    start = time.time()
    stack.quiet("start", "catalog-2")
    while time.time() - start < 60:
        try:
            with urllib.request.urlopen(stack.url("/health"), timeout=2) as answer:
                replicas = {r["name"]: r for r in json.load(answer)["replicas"]}
        except urllib.error.HTTPError as error:   # 503: degraded; it still lists the replicas
            replicas = {r["name"]: r for r in json.load(error).get("replicas", [])}
        except (OSError, ValueError):
            replicas = {}
        primary, backup = replicas.get("catalog-1"), replicas.get("catalog-2")
        if primary and backup and backup["status"] == "up" and backup["applied"] == primary["applied"]:
            break
        time.sleep(0.01)
    return round(time.time() - start, 3)


def measure_size(meter, label, stack, books):
    """The scale scenarios against one stack of BOOKS books."""
    meter.measure("scale-%s-search-miss" % label, stack.url(), "/search/distributed%20systems", "static",
                  {"books": books})
    if books > 7:
        meter.measure("scale-%s-search-miss-imported" % label, stack.url(), "/search/bench%20topic%20N",
                      "search-imported", {"books": books})
    meter.measure("scale-%s-info-miss" % label, stack.url(), "/info/N", "info-random", {"books": books},
                  environment={"BENCH_BOOKS": str(books)})


def scale(meter, stack, reference_port, work):
    """Every size in turn on `stack` (its front already without a cache), the reference stack
    (started here, taken down after) around each."""
    results = meter.results
    reference = Stack(os.path.join(work, "reference"), reference_port, stack.binaries, stack.token, stack.threads,
                      cache_capacity=0)
    log("scale: a second stack that stays at 7 books (cache off), the reference measured around each size")
    try:
        reference.start(os.path.join(work, "bazarctl-reference.log"), "the reference stack did not start")
        measure_size(meter, "ref-0", reference, 7)
        books = 7
        for run, target in enumerate(SCALE_SIZES, start=1):
            imported = None
            if target > books:
                csv = os.path.join(work, "books-%d.csv" % target)
                write_books(target - books, target, csv)
                log("scale: importing %d books (bazarctl import) to reach %d" % (target - books, target))
                output = os.path.join(results, "import-%d.txt" % target)
                start = time.time()
                stack.bazarctl("import", csv, log_path=output, failure="bazarctl import failed")
                imported = {"books": target - books, "seconds": round(time.time() - start, 3)}
                log("scale: " + tail(output, 1))
                books = target
                stack.client.wait_level(60)
            measure_size(meter, str(target), stack, target)
            measure_size(meter, "ref-%d" % run, reference, 7)
            catalog = stack.pid("catalog-1")
            rss, hwm = proc_status_kib(catalog, "VmRSS"), proc_status_kib(catalog, "VmHWM")
            log("scale: backup catch-up from an empty database at %d books" % target)
            catch_up = catch_up_seconds(stack)
            log("scale: %d books: catalog-1 RSS %d MiB (peak %d MiB), catch-up %.3f s" % (
                target, (rss or 0) // 1024, (hwm or 0) // 1024, catch_up))
            write_json(os.path.join(results, "scale-%d.json" % target), {
                "books": target, "catalog_rss_kib": rss, "catalog_hwm_kib": hwm, "catch_up_seconds": catch_up,
                "import": imported})
    finally:
        reference.stop()
