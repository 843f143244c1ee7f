#!/usr/bin/env python3
"""bench/report.py RESULTS_DIR OUT_DIR META_JSON

Reads what bench/run left in RESULTS_DIR (one JSON per scenario, with wrk's
figures, plus the write checks and the front's RSS), prints the table, writes
OUT_DIR/bench.json and draws OUT_DIR/bench.png with gnuplot.
"""
import json
import os
import shutil
import subprocess
import sys

SCENARIOS = ["baseline", "cache-hit", "bypass", "search-hit", "cache-miss", "purchase", "mix", "cache-fill", "overload",
             "overload-probe", "containers-hit", "containers-miss", "containers-purchase", "baseline-end"]
# Each container scenario, and the single-host scenario of this run it is compared with.
CONTAINERS = {"containers-hit": "cache-hit", "containers-miss": "cache-miss", "containers-purchase": "purchase"}
BASELINES = ("baseline", "baseline-end")
OVERLOAD = ("overload", "overload-probe")   # no ratio: the flood is mostly refused on purpose
REFUSALS = ("429", "503")
OVERLOAD_LIMIT_MS = 2000.0
DESCRIPTIONS = {
    "baseline": "nginx + minimal C libfcgi responder, fixed /info/6-sized body",
    "cache-hit": "GET /info/6 from the front's cache",
    "bypass": "GET /info/6, Cache-Control: no-cache (a catalog replica answers)",
    "search-hit": "GET /search/distributed%20systems from the cache",
    "cache-miss": "GET /info/6, front restarted with BAZAR_CACHE_CAPACITY=0",
    "purchase": "POST /purchase/1, stock 1,000,000",
    "mix": "90% GET /info/{1..7} + /search/{topic}, 10% POST /purchase/{1..7}",
    "cache-fill": "GET /search/bench-topic-N, N in 1..20000 (fills the 10k cache)",
    "overload": "flood: GET /search/miss-N, a new topic each, on many connections",
    "overload-probe": "probe: GET /info/6 (cached) on one connection during the flood",
    "containers-hit": "cache-hit on compose.yaml's deployment (a container per component, TCP)",
    "containers-miss": "cache-miss on compose.yaml's deployment (its front without a cache)",
    "containers-purchase": "purchase on compose.yaml's deployment",
    "baseline-end": "the baseline again, measured last",
}
MIB = 1024.0
RSS_LIMIT_MIB = 100.0
# The scale scenarios (issue #10): catalog sizes, what is measured at each, and the targets at
# the largest size.
SCALE_SIZES = (7, 10000, 100000)
SCALE_SCENARIOS = ("search-miss", "search-miss-imported", "info-miss")
SCALE_RATIO_TARGET = 0.8
SCALE_RSS_LIMIT_MIB = 200.0
SCALE_CATCH_UP_LIMIT_S = 10.0
SCALE_IMPORT_TARGET = 5000.0
# The rows printed in the table after SCENARIOS (they are not drawn): the purchase spread over
# seven books, and the anchor a user would pick instead (bench/postgres).
PURCHASE_SPREAD = "purchase-spread"
POSTGRES = ("postgres-hot", "postgres-spread", "postgres-hot-local")
EXTRA_DESCRIPTIONS = {
    "purchase-spread": "POST /purchase/{1..7}, a book at random, stock 1,000,000 each",
    "postgres-hot": "PostgreSQL 15: the hot-book purchase, synchronous standby",
    "postgres-spread": "PostgreSQL 15: purchases over books 1..7, synchronous standby",
    "postgres-hot-local": "PostgreSQL 15: the hot book, no standby wait (fsync only)",
}
# Bazar's purchase scenario and the PostgreSQL row it is compared with.
ANCHORS = {"purchase": "postgres-hot", "purchase-spread": "postgres-spread"}
# The Performance issue's targets, each a same-run ratio.
HIT_RATIO, HIT_P99_MS = 1.0, 5.0
MISS_RATIO = 0.5
PURCHASE_RATIO, PURCHASE_P99_MS, PURCHASE_OVER_POSTGRES = 0.2, 25.0, 5.0
PROBE_SERVED, PROBE_P99_MS = 0.98, 300.0
# Above this spread between the two baseline runs, the table warns that the ratios are unsteady.
BASELINE_SPREAD_WARNING = 0.3
CONTAINER_RATIO = {"containers-hit": 0.8, "containers-purchase": 0.8}


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def figures(wrk):
    seconds = wrk["duration_us"] / 1e6 or 1e-9
    e = wrk["errors"]
    socket_errors = e["connect"] + e["read"] + e["write"] + e["timeout"]
    return {
        "requests": wrk["requests"],
        "seconds": round(seconds, 3),
        "rps": wrk["requests"] / seconds,
        "ok_rps": (wrk["requests"] - e["status"]) / seconds,
        "p50_ms": wrk["p50_us"] / 1000.0,
        "p90_ms": wrk["p90_us"] / 1000.0,
        "p99_ms": wrk["p99_us"] / 1000.0,
        "max_ms": wrk["max_us"] / 1000.0,
        "non_2xx": e["status"],
        "socket_errors": socket_errors,
        "errors": e["status"] + socket_errors,
        "error_detail": e,
        "statuses": wrk.get("statuses") or {},
    }


def known(*values):
    """False when a snapshot (or a stock in one) could not be read."""
    for v in values:
        if v is None or (isinstance(v, dict) and any(x is None for x in v.values())):
            return False
    return True


def ok_count(wrk):
    return 0 if wrk is None else wrk["requests"] - wrk["errors"]["status"]


def purchase_check(results):
    check = load(results, "purchase.check.json")
    run = load(results, "purchase.json")
    if check is None or run is None:
        return None
    book = str(run.get("book", 1))
    sb, sa = check["stock_before"], check["stock_after"]
    if not known(sb, sa, check["orders_before"], check["orders_after"]):
        return {"book": int(book), "unknown": True, "level": bool(check["level_after"]["level"]),
                "applied_after": check["level_after"].get("applied")}
    ob, oa = check["orders_before"]["by_book"], check["orders_after"]["by_book"]
    orders = oa.get(book, 0) - ob.get(book, 0)
    drop = sb[book] - sa[book]
    wrk_ok = ok_count(run["wrk"]) + ok_count(run.get("warmup"))
    others = {b: (sb[b] - sa[b], oa.get(b, 0) - ob.get(b, 0)) for b in sb if b != book}
    return {
        "book": int(book),
        "orders_created": orders,
        "stock_drop": drop,
        "wrk_2xx": wrk_ok,
        # Purchases applied whose client saw no 2xx: cut off by wrk's stop, or
        # answered 503 although the order went through.
        "applied_without_2xx": orders - wrk_ok,
        "oversells": max(0, orders - drop),
        "lost_sales": max(0, drop - orders),
        "other_books_changed": any(d != 0 or o != 0 for d, o in others.values()),
        "level": bool(check["level_after"]["level"]),
        "applied_after": check["level_after"].get("applied"),
    }


def probe_check(results):
    p = load(results, "oversell.check.json")
    if p is None:
        return None
    statuses = (p.get("wrk") or {}).get("statuses", {})
    sold = p["orders_created"]
    if sold is None or p["stock_after"] is None:
        return {"book": p["book"], "stock_set": p["stock_set"], "unknown": True, "level": bool(p["level"]["level"])}
    return {
        "book": p["book"],
        "stock_set": p["stock_set"],
        "stock_after": p["stock_after"],
        "orders_created": sold,
        "answered_200": statuses.get("200", 0),
        "answered_409": statuses.get("409", 0),
        "answered_other": {k: v for k, v in statuses.items() if k not in ("200", "409")},
        "oversells": max(0, sold - p["stock_set"]) + max(0, -p["stock_after"]),
        "consistent": p["stock_set"] - p["stock_after"] == sold,
        "sold_out": p["stock_after"] == 0,
        "level": bool(p["level"]["level"]),
    }


def mix_check(results, name="mix"):
    """Orders created against the stock drop, book by book, in the scenario NAME (the mix, or
    the purchases spread over seven books)."""
    c = load(results, name + ".check.json")
    if c is None:
        return None
    sb, sa = c["stock_before"], c["stock_after"]
    if not known(sb, sa, c["orders_before"], c["orders_after"]):
        return {"unknown": True, "level": bool(c["level_after"]["level"]), "applied_after": c["level_after"].get("applied")}
    ob, oa = c["orders_before"]["by_book"], c["orders_after"]["by_book"]
    per_book = {}
    for b in sb:
        per_book[b] = {"stock_drop": sb[b] - sa[b], "orders_created": oa.get(b, 0) - ob.get(b, 0)}
    over = sum(max(0, v["orders_created"] - v["stock_drop"]) for v in per_book.values())
    lost = sum(max(0, v["stock_drop"] - v["orders_created"]) for v in per_book.values())
    return {
        "orders_created": sum(v["orders_created"] for v in per_book.values()),
        "stock_drop": sum(v["stock_drop"] for v in per_book.values()),
        "oversells": over,
        "lost_sales": lost,
        "per_book": per_book,
        "level": bool(c["level_after"]["level"]),
        "applied_after": c["level_after"].get("applied"),
    }


def overload_check(rows):
    """The flood's refusals and the probe's success, when the overload scenario ran."""
    if "overload" not in rows or "overload-probe" not in rows:
        return None
    flood, probe = rows["overload"], rows["overload-probe"]
    statuses = flood["statuses"]
    refused = {k: v for k, v in statuses.items() if k in REFUSALS}
    return {
        "connections": flood["connections"],
        "refused": refused,
        "refused_share": sum(refused.values()) / flood["requests"] if flood["requests"] else 0.0,
        "other_statuses": {k: v for k, v in statuses.items() if k != "200" and k not in REFUSALS},
        "flood_max_ms": flood["max_ms"],
        "flood_socket_errors": flood["socket_errors"],
        "probe_served": probe["statuses"].get("200", 0) / probe["requests"] if probe["requests"] else 0.0,
        "probe_p99_ms": probe["p99_ms"],
    }


def scale_check(results):
    """The scale rows: each size's throughputs and their ratio to the reference stack (7 books)
    measured just before and just after it, catalog-1's memory, the catch-up and the import
    rate; the targets at the largest size."""
    runs = {}
    labels = [str(n) for n in SCALE_SIZES] + ["ref-%d" % k for k in range(len(SCALE_SIZES) + 1)]
    for label in labels:
        for scenario in SCALE_SCENARIOS:
            r = load(results, "scale-%s-%s.json" % (label, scenario))
            if r is not None:
                runs[(label, scenario)] = figures(r["wrk"])
    if not runs:
        return None
    rows = []
    for index, size in enumerate(SCALE_SIZES):
        info = load(results, "scale-%d.json" % size)
        row = {"books": size, "scenarios": {}}
        for scenario in SCALE_SCENARIOS:
            if (str(size), scenario) not in runs:
                continue
            r = runs[(str(size), scenario)]
            around = [runs[("ref-%d" % k, scenario)]["ok_rps"] for k in (index, index + 1) if ("ref-%d" % k, scenario) in runs]
            reference = sum(around) / len(around) if around and scenario != "search-miss-imported" else None
            row["scenarios"][scenario] = {"ok_rps": r["ok_rps"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                                          "errors": r["errors"], "reference_runs": around,
                                          "ratio_to_7": r["ok_rps"] / reference if reference else None}
        if info:
            row["catalog_rss_mib"] = info["catalog_rss_kib"] / MIB
            row["catalog_peak_mib"] = info["catalog_hwm_kib"] / MIB
            row["catch_up_s"] = info["catch_up_seconds"]
            imported = info.get("import")
            row["import"] = imported
            row["import_rate"] = imported["books"] / imported["seconds"] if imported and imported["seconds"] else None
        rows.append(row)
    references = {scenario: [runs[("ref-%d" % k, scenario)]["ok_rps"] for k in range(len(SCALE_SIZES) + 1)
                             if ("ref-%d" % k, scenario) in runs] for scenario in ("search-miss", "info-miss")}
    largest = rows[-1]
    missed = []
    for scenario in ("search-miss", "info-miss"):
        ratio = largest["scenarios"].get(scenario, {}).get("ratio_to_7")
        if ratio is None or ratio < SCALE_RATIO_TARGET:
            missed.append("%s at %d books: %s < %.1fx the 7-book figure" % (
                scenario, largest["books"], "unmeasured" if ratio is None else "%.2fx" % ratio, SCALE_RATIO_TARGET))
    if largest.get("catalog_peak_mib") is None or largest["catalog_peak_mib"] > SCALE_RSS_LIMIT_MIB:
        missed.append("catalog-1 peak RSS %s MiB > %.0f" % (fmt(largest.get("catalog_peak_mib"), 1), SCALE_RSS_LIMIT_MIB))
    if largest.get("catch_up_s") is None or largest["catch_up_s"] > SCALE_CATCH_UP_LIMIT_S:
        missed.append("catch-up %s s > %.0f" % (fmt(largest.get("catch_up_s")), SCALE_CATCH_UP_LIMIT_S))
    rates = [row["import_rate"] for row in rows if row.get("import_rate") is not None]
    if not rates or min(rates) < SCALE_IMPORT_TARGET:
        missed.append("import %s books/s < %.0f" % (fmt(min(rates) if rates else None, 0), SCALE_IMPORT_TARGET))
    return {"rows": rows, "references": references, "missed": missed, "pass": not missed}


def print_scale(scale):
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


def containers_check(rows):
    """Each container scenario next to its single-host twin of the same run: the ratio of
    successful requests per second (the cost of crossing hosts), and both latencies."""
    out = []
    for name, twin in CONTAINERS.items():
        if name in rows and twin in rows and rows[twin]["ok_rps"]:
            c, s = rows[name], rows[twin]
            out.append({"scenario": name, "single_host": twin, "ratio": c["ok_rps"] / s["ok_rps"],
                        "rps": c["ok_rps"], "single_host_rps": s["ok_rps"], "p50_ms": c["p50_ms"],
                        "single_host_p50_ms": s["p50_ms"], "p99_ms": c["p99_ms"], "single_host_p99_ms": s["p99_ms"]})
    return out


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"



GREY, GREEN, RED, BLUE = 0x888888, 0x228833, 0xcc3311, 0x4477aa
SPREAD_WARNING = 0.10


def panel_targets(rows, base, overload, hwm_mib):
    """Per scenario, what each panel of the chart can show of its target: the throughput
    target as a ratio to the baseline and the p99 target in ms (None: not one of this panel),
    each with whether it is met; and a note for a target neither panel shows."""
    ratio_targets, p99_targets, notes = {}, {}, {}
    if "cache-hit" in rows:
        r = rows["cache-hit"]
        ratio_targets["cache-hit"] = (0.9, "0.9x", r["ratio"] is not None and r["ratio"] >= 0.9)
        p99_targets["cache-hit"] = (5.0, "5 ms", r["p99_ms"] <= 5.0)
    if "cache-miss" in rows:
        r = rows["cache-miss"]
        ratio_targets["cache-miss"] = (0.4, "0.4x", r["ratio"] is not None and r["ratio"] >= 0.4)
    if "purchase" in rows and base:
        r = rows["purchase"]
        ratio_targets["purchase"] = (1500.0 / base, "1500 ok/s", r["ok_rps"] >= 1500)
        p99_targets["purchase"] = (50.0, "50 ms", r["p99_ms"] <= 50.0)
    if overload:
        p99_targets["overload-probe"] = (OVERLOAD_LIMIT_MS, "2 s", overload["probe_p99_ms"] <= OVERLOAD_LIMIT_MS)
        notes["overload"] = "%.0f%% refused on purpose (no ratio)" % (100 * overload["refused_share"])
        notes["overload-probe"] = "%.1f%% of probes served 200" % (100 * overload["probe_served"])
    if "cache-fill" in rows and hwm_mib is not None:
        notes["cache-fill"] = "target: front RSS %.0f MiB < %.0f: %s" % (
            hwm_mib, RSS_LIMIT_MIB, "met" if hwm_mib < RSS_LIMIT_MIB else "MISSED")
    return ratio_targets, p99_targets, notes


def write_chart(rows, base, base_runs, base_spread, overload, hwm_mib, meta, png_path, dat_path, gp_path):
    """bench.png: one row per scenario, two panels of horizontal bars sharing the rows:
    throughput as a ratio to the mean baseline (the baselines' spread shaded, flagged when
    over SPREAD_WARNING) and p99 latency (log scale). A bar is green or red only when its own
    panel shows the target (a black tick), else blue; baselines grey."""
    names = [n for n in SCENARIOS if n in rows]
    ratio_targets, p99_targets, notes = panel_targets(rows, base, overload, hwm_mib)

    def colour(name, targets):
        if name in BASELINES:
            return GREY
        return BLUE if name not in targets else (GREEN if targets[name][2] else RED)

    def text(value):
        return '"%s"' % value.replace('"', "'")

    with open(dat_path, "w") as f:
        f.write("# row scenario ratio ratio_colour ratio_target ratio_label p99_ms p99_colour p99_target p99_label"
                " ratio_label_x p99_label_x\n")
        for index, name in enumerate(names):
            r = rows[name]
            ratio = r["ratio"]
            ratio_label = (" %.2fx  %.0f/s" % (ratio, r["rps"])) if ratio is not None else " " + notes.get(name, "no ratio")
            if ratio is not None and name in notes:
                ratio_label += "  (%s)" % notes[name]
            p99 = r["p99_ms"] if r["requests"] else None
            # Labels start after the bar and after the target's tick.
            ratio_x = max([ratio or 0.0] + ([ratio_targets[name][0]] if name in ratio_targets else []))
            p99_x = max([p99 or 0.1] + ([p99_targets[name][0]] if name in p99_targets else []))
            f.write("%d %s %s %d %s %s %s %d %s %s %.4f %.3f\n" % (
                index, text(name), "NaN" if ratio is None else "%.4f" % ratio, colour(name, ratio_targets),
                "%.4f" % ratio_targets[name][0] if name in ratio_targets else "NaN",
                text(ratio_label + ("  target %s" % ratio_targets[name][1] if name in ratio_targets else "")),
                "NaN" if p99 is None else "%.3f" % p99, colour(name, p99_targets),
                "%.3f" % p99_targets[name][0] if name in p99_targets else "NaN",
                text((" %.1f ms" % p99 if p99 is not None else " -")
                     + ("  target %s" % p99_targets[name][1] if name in p99_targets else "")), ratio_x, p99_x))

    ratios = [rows[n]["ratio"] for n in names if rows[n]["ratio"] is not None]
    ratio_max = max(ratios + [t[0] for t in ratio_targets.values()] + [1.0]) * 1.55
    p99s = [rows[n]["p99_ms"] for n in names if rows[n]["requests"]]
    p99_max = max(p99s + [t[0] for t in p99_targets.values()] + [1.0]) * 40
    band = ""
    spread_text = ""
    if base and len(base_runs) > 1:
        low, high = min(base_runs) / base, max(base_runs) / base
        band = "set object 1 rect from %.4f, graph 0 to %.4f, graph 1 behind fc rgb '#e8e8e8' fs solid noborder\n" % (low, high)
        spread_text = "baselines %s req/s: %.0f%% apart%s" % (
            " and ".join("%.0f" % x for x in base_runs), 100 * base_spread,
            " - ratios are uncertain by about as much" if base_spread > SPREAD_WARNING else "")
    spread_colour = "#cc3311" if base_spread is not None and base_spread > SPREAD_WARNING else "#333333"
    height = 170 + 30 * len(names)
    with open(gp_path, "w") as f:
        f.write("""set terminal pngcairo size 1400,%(height)d noenhanced font ',10'
set output '%(png)s'
set style fill solid 0.85 border -1
set key off
set yrange [%(rows)g:-0.7]
set ytics scale 0 nomirror
set grid xtics lc rgb '#dddddd'
set tmargin at screen %(top)g
set bmargin at screen %(bottom)g
set multiplot title '%(title)s'
set label 1 '%(spread)s' at screen 0.5, screen %(spread_y)g center tc rgb '%(spread_colour)s'
set label 2 'grey: baseline (shaded: the two baselines); green/red: the target drawn on this panel (black tick) met/missed; blue: no target here' at screen 0.13, screen 0.018 left font ',9'
# Panel 1: throughput as a ratio to the mean baseline.
set lmargin at screen 0.13
set rmargin at screen 0.55
set title 'req/s / mean baseline (%(base)s req/s)'
set xrange [0:%(ratio_max)g]
set xtics nomirror
%(band)sset arrow 1 from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb '#555555'
plot '%(dat)s' using ($3/2):1:(0):3:($1-0.35):($1+0.35):4:ytic(2) with boxxyerror lc rgb variable, \\
     '' using 5:($1-0.45):(0):(0.9) with vectors nohead lw 3 lc rgb 'black', \\
     '' using 11:1:6 with labels left offset 0.3,0 font ',9'
# Panel 2: p99 latency, log scale.
unset object 1
unset arrow 1
unset label 1
unset label 2
set lmargin at screen 0.58
set rmargin at screen 0.98
set title 'p99 latency, ms (log scale)'
set logscale x
set xrange [0.1:%(p99_max)g]
set format y ''
plot '%(dat)s' using (sqrt(0.1*$7)):1:(0.1):7:($1-0.35):($1+0.35):8:ytic('') with boxxyerror lc rgb variable, \\
     '' using 9:($1-0.45):(0):(0.9) with vectors nohead lw 3 lc rgb 'black', \\
     '' using 12:1:10 with labels left offset 0.3,0 font ',9'
unset multiplot
""" % {"height": height, "png": png_path, "rows": len(names) - 0.3, "top": 1 - 95.0 / height, "bottom": 60.0 / height,
       "title": "Bazar: %s connections, %s s per scenario, commit %s" % (meta.get("connections"), meta.get("seconds"),
                                                                         meta.get("commit")),
       "spread": spread_text, "spread_y": 1 - 45.0 / height, "spread_colour": spread_colour,
       "base": "%.0f" % base if base else "-", "ratio_max": ratio_max, "band": band, "dat": dat_path,
       "p99_max": p99_max})


def main():
    results, out, meta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    os.makedirs(out, exist_ok=True)

    rows = {}
    for name in SCENARIOS:
        r = load(results, name + ".json")
        if r is None:
            continue
        row = figures(r["wrk"])
        row.update({"name": name, "path": r["path"], "description": DESCRIPTIONS[name],
                    "connections": r.get("connections")})
        if r.get("warmup"):
            row["warmup"] = figures(r["warmup"])
        rows[name] = row
    extra = {}
    r = load(results, PURCHASE_SPREAD + ".json")
    if r is not None:
        extra[PURCHASE_SPREAD] = figures(r["wrk"])
        extra[PURCHASE_SPREAD].update({"name": PURCHASE_SPREAD, "path": r["path"], "loadavg": r.get("loadavg")})
    for name in POSTGRES:
        r = load(results, name + ".json")
        if r is not None and r.get("tps") is not None:
            extra[name] = {"name": name, "path": "pgbench", "rps": r["tps"], "ok_rps": r["tps"],
                           "requests": r["transactions"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                           "errors": r["failed"] or 0, "check": r["check"], "loadavg": r.get("loadavg"),
                           "synchronous_standby_names": r.get("synchronous_standby_names")}
    for name, row in extra.items():
        row["description"] = EXTRA_DESCRIPTIONS[name]
    for name in SCENARIOS:
        if name in rows:
            rows[name]["loadavg"] = (load(results, name + ".json") or {}).get("loadavg")

    base_runs = [rows[n]["rps"] for n in BASELINES if n in rows]
    base = sum(base_runs) / len(base_runs) if base_runs else None
    base_spread = (max(base_runs) - min(base_runs)) / base if base and len(base_runs) > 1 else None
    for row in rows.values():
        row["ratio"] = row["rps"] / base if base and row["name"] not in OVERLOAD else None
    for row in extra.values():
        row["ratio"] = row["ok_rps"] / base if base else None

    purchase = purchase_check(results)
    probe = probe_check(results)
    mix = mix_check(results)
    spread = mix_check(results, PURCHASE_SPREAD)
    rss = load(results, "rss.json")
    rss_nocache = load(results, "rss-nocache.json")
    hwm_mib = rss["vm_hwm_kib"] / MIB if rss else None
    entries = rss["stats"]["cache"]["entries"] if rss else None
    capacity = rss["stats"]["cache"]["capacity"] if rss else None

    # Targets (the Performance issue), at 32 connections: every one a ratio within this run.
    def target(name, text, passed, reasons=(), table=rows):
        if name in table:
            table[name]["target"] = text
            table[name]["pass"] = passed
            table[name]["missed"] = [r for r in reasons if r]

    def below(value, floor, text):
        return None if value is not None and value >= floor else text % (fmt(value, 3),)

    for name, anchor in ANCHORS.items():
        row = rows.get(name) or extra.get(name)
        if row is not None:
            row["postgres"] = extra[anchor]["ok_rps"] if anchor in extra else None
            row["over_postgres"] = row["ok_rps"] / row["postgres"] if row["postgres"] else None
    if "cache-hit" in rows:
        r = rows["cache-hit"]
        reasons = [below(r["ratio"], HIT_RATIO, "ratio %%s < %.1f" % HIT_RATIO),
                   "p99 %.1f ms > %.0f" % (r["p99_ms"], HIT_P99_MS) if r["p99_ms"] > HIT_P99_MS else None]
        target("cache-hit", ">=%.1fx base, p99<=%.0fms" % (HIT_RATIO, HIT_P99_MS), not any(reasons), reasons)
    if "cache-miss" in rows:
        reasons = [below(rows["cache-miss"]["ratio"], MISS_RATIO, "ratio %%s < %.1f" % MISS_RATIO)]
        target("cache-miss", ">=%.1fx base" % MISS_RATIO, not any(reasons), reasons)

    def consistency(check):
        if check is None:
            return ["no consistency check"]
        if check.get("unknown"):
            return ["consistency unknown (stock/orders unreadable)"]
        return ["%d oversells" % check["oversells"] if check["oversells"] else None,
                "%d lost sales" % check["lost_sales"] if check["lost_sales"] else None,
                "replicas not level" if not check["level"] else None]

    if "purchase" in rows:
        r = rows["purchase"]
        r["ratio"] = r["ok_rps"] / base if base else None   # successful purchases, as in the issue
        reasons = [below(r["ratio"], PURCHASE_RATIO, "%%sx base < %.1f" % PURCHASE_RATIO),
                   "p99 %.1f ms > %.0f" % (r["p99_ms"], PURCHASE_P99_MS) if r["p99_ms"] > PURCHASE_P99_MS else None,
                   below(r["over_postgres"], PURCHASE_OVER_POSTGRES, "%%sx PostgreSQL < %.0f" % PURCHASE_OVER_POSTGRES)]
        reasons += consistency(purchase)
        if probe and probe.get("unknown"):
            reasons.append("probe unknown")
        elif probe:
            reasons += ["probe: %d oversells" % probe["oversells"] if probe["oversells"] else None,
                        "probe: stock/orders mismatch" if not probe["consistent"] else None]
        target("purchase", ">=%.1fx base, p99<=%.0fms, >=%.0fx pg-hot, 0 oversell" % (
            PURCHASE_RATIO, PURCHASE_P99_MS, PURCHASE_OVER_POSTGRES), not any(reasons), reasons)
    if PURCHASE_SPREAD in extra:
        reasons = consistency(spread)
        target(PURCHASE_SPREAD, "0 oversell, level (x pg-spread: reported)", not any(reasons), reasons, extra)
    for name in POSTGRES:
        if name in extra:
            c = extra[name]["check"]
            reasons = ["%d oversells" % c["oversells"] if c["oversells"] else None,
                       "%d lost sales" % c["lost_sales"] if c["lost_sales"] else None,
                       "standby behind" if not c["standby_level"] else None,
                       "%d failed" % extra[name]["errors"] if extra[name]["errors"] else None]
            target(name, "anchor: 0 oversell, standby level", not any(reasons), reasons, extra)
    if "cache-fill" in rows and rss:
        reasons = ["front peak RSS %.1f MiB >= 100" % hwm_mib if hwm_mib >= RSS_LIMIT_MIB else None,
                   "cache held %s of %s entries" % (entries, capacity) if entries != 10000 else None]
        target("cache-fill", "front RSS<100MiB, 10k entries", not any(reasons), reasons)
    overload = overload_check(rows)
    if overload:
        reasons = ["probe served %.1f%% < %.0f%%" % (100 * overload["probe_served"], 100 * PROBE_SERVED)
                   if overload["probe_served"] < PROBE_SERVED else None,
                   "probe p99 %.0f ms > %.0f" % (overload["probe_p99_ms"], PROBE_P99_MS)
                   if overload["probe_p99_ms"] > PROBE_P99_MS else None,
                   "flood answers %s" % json.dumps(overload["other_statuses"]) if overload["other_statuses"] else None,
                   "flood max %.0f ms > 2000" % overload["flood_max_ms"]
                   if overload["flood_max_ms"] > OVERLOAD_LIMIT_MS else None,
                   "%d flood socket errors" % overload["flood_socket_errors"] if overload["flood_socket_errors"] else None]
        target("overload-probe", "probe >=%.0f%% 200, p99<=%.0fms, flood <=2s" % (100 * PROBE_SERVED, PROBE_P99_MS),
               not any(reasons), reasons)
    crossing = containers_check(rows)
    for c in crossing:
        floor = CONTAINER_RATIO.get(c["scenario"])
        if floor is not None:
            target(c["scenario"], ">=%.1fx the single host" % floor, c["ratio"] >= floor,
                   ["%.2fx the single host < %.1f" % (c["ratio"], floor) if c["ratio"] < floor else None])
    for row in extra.values():
        row.setdefault("target", "-")
        row.setdefault("pass", None)
        row.setdefault("missed", [])
    for row in rows.values():
        row.setdefault("target", "-")
        row.setdefault("pass", None)
        row.setdefault("missed", [])

    # ---------------------------------------------------------------- table
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
    print()
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
                  probe["stock_set"], probe["book"], conns, probe["orders_created"], probe["stock_after"],
                  probe["answered_200"], probe["answered_409"], json.dumps(probe["answered_other"]),
                  probe["oversells"], "yes" if probe["consistent"] else "NO", "yes" if probe["level"] else "NO"))
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
                  hwm_mib, (rss.get("vm_rss_kib") or 0) / MIB, entries, capacity,
                  "PASS" if hwm_mib < RSS_LIMIT_MIB else "FAIL"))
    if rss_nocache and rss_nocache.get("vm_hwm_kib"):
        print("            front without a cache (cache-miss run): peak %.1f MiB" % (rss_nocache["vm_hwm_kib"] / MIB))
    scale = scale_check(results)
    if scale:
        print()
        print_scale(scale)
    for c in crossing:
        print("%-11s %.2fx the single-host %s (%.0f vs %.0f %s/s; p50 %.2f vs %.2f ms, p99 %.2f vs %.2f ms)" % (
            "containers:" if c is crossing[0] else "", c["ratio"], c["single_host"], c["rps"], c["single_host_rps"],
            "successful purchases" if c["single_host"] == "purchase" else "req", c["p50_ms"], c["single_host_p50_ms"],
            c["p99_ms"], c["single_host_p99_ms"]))

    # ----------------------------------------------------------------- json
    report = {
        "meta": meta,
        "baseline_rps": base,
        "baseline_spread": base_spread,
        "scenarios": [rows[n] for n in SCENARIOS if n in rows],
        "checks": {"purchase": purchase, "oversell_probe": probe, "mix": mix, "overload": overload,
                   "purchase_spread": spread},
        "purchases_and_postgres": [extra[n] for n in (PURCHASE_SPREAD,) + POSTGRES if n in extra],
        "postgres": load(results, "postgres.json"),
        "containers": crossing,
        "front_rss": {
            "peak_mib": hwm_mib,
            "now_mib": (rss.get("vm_rss_kib") or 0) / MIB if rss else None,
            "cache": rss["stats"]["cache"] if rss else None,
            "peak_mib_without_cache": rss_nocache["vm_hwm_kib"] / MIB if rss_nocache and rss_nocache.get("vm_hwm_kib") else None,
            "limit_mib": RSS_LIMIT_MIB,
            "pass": hwm_mib is not None and hwm_mib < RSS_LIMIT_MIB,
        },
        "scale": scale,
        "targets_met": all(r["pass"] for r in list(rows.values()) + list(extra.values()) if r["pass"] is not None)
                       and (scale is None or scale["pass"]),
    }
    json_path = os.path.join(out, "bench.json")
    with open(json_path + ".tmp", "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)

    # ---------------------------------------------------------------- chart
    png_path = os.path.join(out, "bench.png")
    gp_path = os.path.join(out, "bench.gp")
    write_chart(rows, base, base_runs, base_spread, overload, hwm_mib, meta, png_path, os.path.join(out, "bench.dat"), gp_path)
    chart = None
    if shutil.which("gnuplot"):
        done = subprocess.run(["gnuplot", gp_path], capture_output=True, text=True)
        if done.returncode == 0 and os.path.exists(png_path):
            chart = png_path
        else:
            print("bench: gnuplot failed: " + done.stderr.strip(), file=sys.stderr)
    else:
        print("bench: gnuplot is missing: no chart", file=sys.stderr)

    print()
    print("figures: " + json_path)
    print("chart:   " + (chart or "(none)"))
    print("targets met: " + ("all" if report["targets_met"] else "no (see FAIL rows)"))


if __name__ == "__main__":
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        sys.exit(0)
    main()
