"""The Performance issue's targets, each a ratio within the run (at 32 connections): every row
gets its target's text, whether it passed (None: no target) and the reasons it missed."""

import json

from .checks import OVERLOAD_LIMIT_MS
from .common import fmt
from .rows import ANCHORS, POSTGRES, PURCHASE_SPREAD

HIT_RATIO, HIT_P99_MS = 1.0, 5.0
MISS_RATIO = 0.5
PURCHASE_RATIO, PURCHASE_P99_MS, PURCHASE_OVER_POSTGRES = 0.2, 25.0, 5.0
PROBE_SERVED, PROBE_P99_MS = 0.98, 300.0
RSS_LIMIT_MIB = 100.0
CONTAINER_RATIO = {"containers-hit": 0.8, "containers-purchase": 0.8}


def target(table, name, text, passed, reasons=()):
    if name in table:
        table[name]["target"] = text
        table[name]["pass"] = passed
        table[name]["missed"] = [r for r in reasons if r]


def below(value, floor, text):
    return None if value is not None and value >= floor else text % (fmt(value, 3),)


def consistency(check):
    """Why a purchase scenario's orders and stock do not add up (None each where they do)."""
    if check is None:
        return ["no consistency check"]
    if check.get("unknown"):
        return ["consistency unknown (stock/orders unreadable)"]
    return ["%d oversells" % check["oversells"] if check["oversells"] else None,
            "%d lost sales" % check["lost_sales"] if check["lost_sales"] else None,
            "replicas not level" if not check["level"] else None]


def probe_reasons(probe):
    if probe and probe.get("unknown"):
        return ["probe unknown"]
    if probe:
        return ["probe: %d oversells" % probe["oversells"] if probe["oversells"] else None,
                "probe: stock/orders mismatch" if not probe["consistent"] else None]
    return []


def overload_reasons(overload):
    return ["probe served %.1f%% < %.0f%%" % (100 * overload["probe_served"], 100 * PROBE_SERVED)
            if overload["probe_served"] < PROBE_SERVED else None,
            "probe p99 %.0f ms > %.0f" % (overload["probe_p99_ms"], PROBE_P99_MS)
            if overload["probe_p99_ms"] > PROBE_P99_MS else None,
            "flood answers %s" % json.dumps(overload["other_statuses"]) if overload["other_statuses"] else None,
            "flood max %.0f ms > 2000" % overload["flood_max_ms"] if overload["flood_max_ms"] > OVERLOAD_LIMIT_MS else None,
            "%d flood socket errors" % overload["flood_socket_errors"] if overload["flood_socket_errors"] else None]


def judge(f):
    """Sets the targets on the rows of Findings f (and each purchase's ratio to PostgreSQL's)."""
    rows, extra = f.rows, f.extra
    for name, anchor in ANCHORS.items():
        row = rows.get(name) or extra.get(name)
        if row is not None:
            row["postgres"] = extra[anchor]["ok_rps"] if anchor in extra else None
            row["over_postgres"] = row["ok_rps"] / row["postgres"] if row["postgres"] else None
    if "cache-hit" in rows:
        r = rows["cache-hit"]
        reasons = [below(r["ratio"], HIT_RATIO, "ratio %%s < %.1f" % HIT_RATIO),
                   "p99 %.1f ms > %.0f" % (r["p99_ms"], HIT_P99_MS) if r["p99_ms"] > HIT_P99_MS else None]
        target(rows, "cache-hit", ">=%.1fx base, p99<=%.0fms" % (HIT_RATIO, HIT_P99_MS), not any(reasons), reasons)
    if "cache-miss" in rows:
        reasons = [below(rows["cache-miss"]["ratio"], MISS_RATIO, "ratio %%s < %.1f" % MISS_RATIO)]
        target(rows, "cache-miss", ">=%.1fx base" % MISS_RATIO, not any(reasons), reasons)
    if "purchase" in rows:
        r = rows["purchase"]
        reasons = [below(r["ratio"], PURCHASE_RATIO, "%%sx base < %.1f" % PURCHASE_RATIO),
                   "p99 %.1f ms > %.0f" % (r["p99_ms"], PURCHASE_P99_MS) if r["p99_ms"] > PURCHASE_P99_MS else None,
                   below(r["over_postgres"], PURCHASE_OVER_POSTGRES, "%%sx PostgreSQL < %.0f" % PURCHASE_OVER_POSTGRES)]
        reasons += consistency(f.purchase) + probe_reasons(f.probe)
        target(rows, "purchase", ">=%.1fx base, p99<=%.0fms, >=%.0fx pg-hot, 0 oversell" % (
            PURCHASE_RATIO, PURCHASE_P99_MS, PURCHASE_OVER_POSTGRES), not any(reasons), reasons)
    if PURCHASE_SPREAD in extra:
        reasons = consistency(f.spread)
        target(extra, PURCHASE_SPREAD, "0 oversell, level (x pg-spread: reported)", not any(reasons), reasons)
    for name in POSTGRES:
        if name in extra:
            c = extra[name]["check"]
            reasons = ["%d oversells" % c["oversells"] if c["oversells"] else None,
                       "%d lost sales" % c["lost_sales"] if c["lost_sales"] else None,
                       "standby behind" if not c["standby_level"] else None,
                       "%d failed" % extra[name]["errors"] if extra[name]["errors"] else None]
            target(extra, name, "anchor: 0 oversell, standby level", not any(reasons), reasons)
    if "cache-fill" in rows and f.rss:
        reasons = ["front peak RSS %.1f MiB >= 100" % f.hwm_mib if f.hwm_mib >= RSS_LIMIT_MIB else None,
                   "cache held %s of %s entries" % (f.entries, f.capacity) if f.entries != 10000 else None]
        target(rows, "cache-fill", "front RSS<100MiB, 10k entries", not any(reasons), reasons)
    if f.overload:
        reasons = overload_reasons(f.overload)
        target(rows, "overload-probe", "probe >=%.0f%% 200, p99<=%.0fms, flood <=2s" % (100 * PROBE_SERVED, PROBE_P99_MS),
               not any(reasons), reasons)
    for c in f.crossing:
        floor = CONTAINER_RATIO.get(c["scenario"])
        if floor is not None:
            target(rows, c["scenario"], ">=%.1fx the single host" % floor, c["ratio"] >= floor,
                   ["%.2fx the single host < %.1f" % (c["ratio"], floor) if c["ratio"] < floor else None])
    for row in list(extra.values()) + list(rows.values()):
        row.setdefault("target", "-")
        row.setdefault("pass", None)
        row.setdefault("missed", [])


def all_met(f):
    """Every row with a target passed, and the scale targets when the scale rows ran."""
    return (all(r["pass"] for r in list(f.rows.values()) + list(f.extra.values()) if r["pass"] is not None)
            and (f.scale is None or f.scale["pass"]))
