"""The write checks (orders created against the stock drop, the oversell probe), the overload
verdict, the container ratios and the scale rows, from what a run left in RESULTS."""

from .common import SCALE_SIZES, fmt
from .rows import MIB, figures, load

REFUSALS = ("429", "503")
OVERLOAD_LIMIT_MS = 2000.0
# The scale scenarios (issue #10): catalog sizes, what is measured at each, and the targets at
# the largest size.
SCALE_SCENARIOS = ("search-miss", "search-miss-imported", "info-miss")
SCALE_RATIO_TARGET = 0.8
SCALE_RSS_LIMIT_MIB = 200.0
SCALE_CATCH_UP_LIMIT_S = 10.0
SCALE_IMPORT_TARGET = 5000.0
# Each container scenario, and the single-host scenario of this run it is compared with.
CONTAINERS = {"containers-hit": "cache-hit", "containers-miss": "cache-miss", "containers-purchase": "purchase"}


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

