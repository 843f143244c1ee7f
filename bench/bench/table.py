"""The table bench/run prints: a row per scenario with its target and PASS or FAIL, then the
write checks, the overload, the front's memory, the scale rows and the containers."""

import json

from .checks import SCALE_CATCH_UP_LIMIT_S, SCALE_IMPORT_TARGET, SCALE_RATIO_TARGET, SCALE_RSS_LIMIT_MIB, SCALE_SCENARIOS
from .common import SCALE_SIZES, fmt
from .rows import ANCHORS, MIB, POSTGRES, PURCHASE_SPREAD, SCENARIOS
from .targets import CONTAINER_RATIO, RSS_LIMIT_MIB

# Above this spread between the two baseline runs, the table warns that the ratios are unsteady.
BASELINE_SPREAD_WARNING = 0.3


def print_table(f):
    """Prints the rows of Findings f, judged, under the run's settings and load."""
    meta, rows, extra, base, base_runs, base_spread = f.meta, f.rows, f.extra, f.base, f.base_runs, f.base_spread
    conns = meta.get("connections")
    print()
    print("Bazar benchmark: %s s per scenario after %s s warm-up, %s connections, %s wrk threads, "
          "%s responder threads, %s nginx workers, commit %s" % (
              meta.get("seconds"), meta.get("warmup_seconds"), conns, meta.get("wrk_threads"),
              meta.get("responder_threads"), meta.get("nginx_workers"), meta.get("commit")))
    header = "%-19s %9s %8s %8s %8s %7s %6s %5s  %-52s %s" % (
        "scenario", "req/s", "p50 ms", "p99 ms", "errors", "x base", "x pg", "load", "target", "result")
    loads = [meta.get("loadavg_start"), meta.get("loadavg_end")]
    print("load average (1, 5, 15 min) at the start: %s, at the end: %s; the load column: 1 min, as each "
          "scenario ended (%s cpus)" % tuple([" ".join(fmt(x) for x in l) if l else "-" for l in loads]
                                            + [meta.get("cpus")]))
    if base:
        print("ratios (x base) are to the mean of %d baseline run(s): %.0f req/s%s; a purchase's ratio counts "
              "successful purchases; x pg: Bazar's successful purchases over PostgreSQL's transactions/s "
              "(bench/postgres)" % (len(base_runs), base,
                                    ", spread %.0f%%" % (100 * base_spread) if base_spread is not None else ""))
        if base_spread is not None and base_spread > BASELINE_SPREAD_WARNING:
            print("WARNING: the two baseline runs are %.0f%% apart: the machine's speed changed during this run, "
                  "and every ratio above carries that much doubt (see the load column)" % (100 * base_spread))
    print(header)
    print("-" * len(header))
    order = []
    for name in SCENARIOS:
        order.append(name)
        if name == "purchase":
            order += [PURCHASE_SPREAD] + list(POSTGRES)
    for name in order:
        r = rows.get(name) or extra.get(name)
        if r is None:
            if name in CONTAINER_RATIO:
                print("%-19s %9s %8s %8s %8s %7s %6s %5s  %-52s %s" % (
                    name, "-", "-", "-", "-", "-", "-", "-", ">=%.1fx the single host" % CONTAINER_RATIO[name],
                    "NOT MEASURED (BENCH_CONTAINERS=0, or Docker cannot run here)"))
            elif name in POSTGRES:
                print("%-19s %9s %8s %8s %8s %7s %6s %5s  %-52s %s" % (
                    name, "-", "-", "-", "-", "-", "-", "-", "anchor", "NOT MEASURED (BENCH_POSTGRES=0)"))
            continue
        verdict = "" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL: " + "; ".join(r["missed"]))
        print("%-19s %9.0f %8s %8s %8d %7s %6s %5s  %-52s %s" % (
            name, r["rps"], fmt(r["p50_ms"] if r["requests"] else None),
            fmt(r["p99_ms"] if r["requests"] else None), r["errors"], fmt(r["ratio"]),
            fmt(r.get("over_postgres")) if name in ANCHORS else "", fmt(r.get("loadavg"), 1), r["target"], verdict))


def print_notes(f):
    """Prints what the rows do not show: the write checks, the overload, the front's memory,
    the scale rows and the container ratios."""
    print()
    print_write_checks(f)
    print_capacity(f)


def print_write_checks(f):
    """Orders created against the stock drop in each scenario that buys, the oversell probe,
    and the answers by status."""
    rows, extra, purchase, probe, mix, spread = f.rows, f.extra, f.purchase, f.probe, f.mix, f.spread
    if purchase and purchase.get("unknown"):
        print("purchase:   consistency unknown: stock or orders could not be read after the run")
    elif purchase:
        pr = rows.get("purchase", {})
        print("purchase:   %.0f successful purchases/s; %d orders created = stock drop %d -> oversells %d, "
              "lost sales %d; wrk saw %d 2xx (%d more were applied but never answered to wrk: in flight when "
              "its warm-up and measured runs stopped, at most 2 x connections, or answered 503); "
              "replicas level: %s %s" % (
                  pr.get("ok_rps", 0), purchase["orders_created"], purchase["stock_drop"], purchase["oversells"],
                  purchase["lost_sales"], purchase["wrk_2xx"], purchase["applied_without_2xx"],
                  "yes" if purchase["level"] else "NO", json.dumps(purchase["applied_after"])))
    if probe and probe.get("unknown"):
        print("probe:      unknown: stock or orders could not be read after the probe")
    elif probe:
        print("probe:      stock %d of book %d under %s connections: %d orders, stock after %d, "
              "answers 200=%d 409=%d other=%s -> oversells %d, consistent: %s, level: %s" % (
                  probe["stock_set"], probe["book"], f.meta.get("connections"), probe["orders_created"],
                  probe["stock_after"], probe["answered_200"], probe["answered_409"],
                  json.dumps(probe["answered_other"]), probe["oversells"], "yes" if probe["consistent"] else "NO",
                  "yes" if probe["level"] else "NO"))
    for name in ("purchase", "mix"):
        if name in rows and rows[name]["statuses"]:
            st = rows[name]["statuses"]
            print("%-11s answers by status: %s" % (name + ":", ", ".join("%s=%d" % (k, st[k]) for k in sorted(st))))
    if mix and mix.get("unknown"):
        print("mix:        consistency unknown: stock or orders could not be read after the run")
    elif mix:
        print("mix:        %d orders created = stock drop %d -> oversells %d, lost sales %d; replicas level: %s" % (
            mix["orders_created"], mix["stock_drop"], mix["oversells"], mix["lost_sales"],
            "yes" if mix["level"] else "NO"))
    if spread and spread.get("unknown"):
        print("spread:     consistency unknown: stock or orders could not be read after the run")
    elif spread:
        print("spread:     purchases over books 1..7: %d orders created = stock drop %d -> oversells %d, lost sales %d; "
              "replicas level: %s" % (spread["orders_created"], spread["stock_drop"], spread["oversells"],
                                      spread["lost_sales"], "yes" if spread["level"] else "NO"))
    for name in POSTGRES:
        if name in extra:
            c = extra[name]["check"]
            print("%-11s %d transactions: orders created %d = stock drop %d -> oversells %d, lost sales %d; "
                  "standby replayed everything: %s" % (
                      name.replace("postgres-", "pg ") + ":", extra[name]["requests"], c["orders_created"],
                      c["stock_drop"], c["oversells"], c["lost_sales"], "yes" if c["standby_level"] else "NO"))


def print_capacity(f):
    """The overload, the front's memory, the scale rows and the containers' ratios."""
    rows, overload, rss, rss_nocache = f.rows, f.overload, f.rss, f.rss_nocache
    if overload:
        print("overload:   %d connections of misses: %.0f req/s, %.1f%% refused (%s) within %.0f ms at most "
              "(p99 %.0f ms), %d socket errors; probe /info/6: %.2f%% of %d reads answered 200, p50 %.1f ms, "
              "p99 %.1f ms" % (
                  overload["connections"], rows["overload"]["rps"], 100 * overload["refused_share"],
                  ", ".join("%s=%d" % (k, overload["refused"][k]) for k in sorted(overload["refused"])) or "none",
                  overload["flood_max_ms"], rows["overload"]["p99_ms"], overload["flood_socket_errors"],
                  100 * overload["probe_served"], rows["overload-probe"]["requests"],
                  rows["overload-probe"]["p50_ms"], overload["probe_p99_ms"]))
    if rss:
        print("front RSS:  peak (VmHWM) %.1f MiB, now %.1f MiB, cache %s/%s entries after the fill "
              "(target < 100 MiB: %s)" % (
                  f.hwm_mib, (rss.get("vm_rss_kib") or 0) / MIB, f.entries, f.capacity,
                  "PASS" if f.hwm_mib < RSS_LIMIT_MIB else "FAIL"))
    if rss_nocache and rss_nocache.get("vm_hwm_kib"):
        print("            front without a cache (cache-miss run): peak %.1f MiB" % (rss_nocache["vm_hwm_kib"] / MIB))
    if f.scale:
        print()
        print_scale(f.scale)
    for c in f.crossing:
        print("%-11s %.2fx the single-host %s (%.0f vs %.0f %s/s; p50 %.2f vs %.2f ms, p99 %.2f vs %.2f ms)" % (
            "containers:" if c is f.crossing[0] else "", c["ratio"], c["single_host"], c["rps"], c["single_host_rps"],
            "successful purchases" if c["single_host"] == "purchase" else "req", c["p50_ms"], c["single_host_p50_ms"],
            c["p99_ms"], c["single_host_p99_ms"]))


def print_scale(scale):
    """The scale rows, each size's ratios to the reference stack, and their targets."""
    print("scale (cache off; x: the ratio to a stack that stays at 7 books, the mean of its runs just before and "
          "just after the row):")
    for scenario, reference in scale["references"].items():
        print("  reference (7 books) %s, in order: %s req/s" % (scenario, " / ".join("%.0f" % x for x in reference)))
    print("  %-7s %21s %21s %21s %12s %9s %15s" % (
        "books", "search-miss req/s (x)", "search-imported", "info-miss req/s (x)", "RSS MiB", "catch-up",
        "import books/s"))
    for row in scale["rows"]:
        cells = []
        for scenario in SCALE_SCENARIOS:
            r = row["scenarios"].get(scenario)
            cells.append("-" if r is None else "%.0f" % r["ok_rps"] + ("" if r["ratio_to_7"] is None else
                                                                       " (%s)" % fmt(r["ratio_to_7"])))
        print("  %-7d %21s %21s %21s %12s %8ss %15s" % (
            row["books"], cells[0], cells[1], cells[2],
            "%s (%s)" % (fmt(row.get("catalog_rss_mib"), 0), fmt(row.get("catalog_peak_mib"), 0)),
            fmt(row.get("catch_up_s")), fmt(row.get("import_rate"), 0)))
    print("  targets at %d books: search-miss and info-miss >= %.1fx, catalog-1 peak RSS <= %.0f MiB, catch-up <= %.0f s, "
          "import >= %.0f books/s: %s" % (
              SCALE_SIZES[-1], SCALE_RATIO_TARGET, SCALE_RSS_LIMIT_MIB, SCALE_CATCH_UP_LIMIT_S, SCALE_IMPORT_TARGET,
              "PASS" if scale["pass"] else "FAIL: " + "; ".join(scale["missed"])))
    print("  (search-miss asks the same 3-book topic at every size; search-imported a random imported topic's first "
          "page, 10 or 100 books, which has no 7-book counterpart; RSS: now (peak))")
