"""The rows of the report: each scenario's figures from RESULTS/NAME.json (wrk's, or pgbench's
for the PostgreSQL anchor), and their ratios to the mean of the two baseline runs."""

import os

from .common import load_json

SCENARIOS = ["baseline", "cache-hit", "bypass", "search-hit", "cache-miss", "purchase", "mix", "cache-fill", "overload",
             "overload-probe", "containers-hit", "containers-miss", "containers-purchase", "baseline-end"]
# Each container scenario, and the single-host scenario of this run it is compared with.
CONTAINERS = {"containers-hit": "cache-hit", "containers-miss": "cache-miss", "containers-purchase": "purchase"}
BASELINES = ("baseline", "baseline-end")
OVERLOAD = ("overload", "overload-probe")   # no ratio: the flood is mostly refused on purpose
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
MIB = 1024.0


def load(results, name):
    """RESULTS/NAME's JSON, None when the scenario did not run."""
    return load_json(os.path.join(results, name))


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


def load_rows(results):
    """The scenarios' rows (SCENARIOS, drawn in the chart) and the extra rows (the spread
    purchase and the PostgreSQL anchor, in the table only), by name."""
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
        row["loadavg"] = r.get("loadavg")
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
    return rows, extra


def baselines(rows):
    """The baseline runs' req/s, their mean and their spread (None with fewer than two)."""
    runs = [rows[n]["rps"] for n in BASELINES if n in rows]
    mean = sum(runs) / len(runs) if runs else None
    spread = (max(runs) - min(runs)) / mean if mean and len(runs) > 1 else None
    return runs, mean, spread


def set_ratios(rows, extra, base):
    """Each row's req/s over the mean baseline (none for the overload rows: the flood is mostly
    refused on purpose); successful ones for the purchases, as in the Performance issue."""
    for row in rows.values():
        rps = row["ok_rps"] if row["name"] == "purchase" else row["rps"]
        row["ratio"] = rps / base if base and row["name"] not in OVERLOAD else None
    for row in extra.values():
        row["ratio"] = row["ok_rps"] / base if base else None
