"""What a run prints: the ops by outcome, availability over time, the faults, the verdict."""

import collections

from .checks_run import SERVED
from .common import log
from .nemesis import describe


def summarize(ctx, ops):
    by = collections.Counter()
    for op in ops:
        kind = op["kind"]
        if kind in ("purchase", "add"):
            kind += "(key)" if op["key"] else "(no key)"
        if kind == "info" and op.get("inm") is not None:
            kind = "info(If-None-Match)"
        outcome = str(op["status"]) if op["status"] is not None else "conn-error/timeout"
        by[(kind, outcome)] += 1
    log("ops: %d in %.1f s" % (len(ops), ctx.run_seconds))
    for k in sorted({k for k, _ in by}):
        outs = sorted(((o, n) for (kk, o), n in by.items() if kk == k), key=lambda x: x[0])
        log("  %-20s %7d  %s" % (k, sum(n for _, n in outs), "  ".join("%s=%d" % (o, n) for o, n in outs)))
    keyed = collections.defaultdict(list)
    for op in ops:
        if op["kind"] == "purchase" and op["key"]:
            keyed[op["key"]].append(op)
    settled = collections.Counter(str(v[-1]["status"]) if v[-1]["status"] is not None else "unsettled"
                                  for v in keyed.values())
    log("  keyed purchases by final outcome: %s (%d keys, %d retried)" % (
        "  ".join("%s=%d" % kv for kv in sorted(settled.items())), len(keyed),
        sum(1 for v in keyed.values() if len(v) > 1)))
    cache = collections.Counter(op["headers"].get("X-Cache", "-") for op in ops
                                if op["kind"] in ("info", "search") and op["status"] == 200)
    log("  reads by X-Cache: %s" % "  ".join("%s=%d" % kv for kv in sorted(cache.items())))
    availability(ctx, ops)
    log("faults: %d%s" % (len(ctx.faults), "" if ctx.fault_kinds else " (nemesis disabled)"))
    for f in ctx.faults:
        log("  %6.2f-%6.2f %s" % (f["t0"] - ctx.t_start, f["t1"] - ctx.t_start, describe(f)))
    s = getattr(ctx, "supervision", None) or {}
    if "write_after_heal" in s:
        log("after the faults: not restarted by the stack: %s; first write served %s" % (
            ",".join(s.get("not_back", [])) or "none",
            "after %.2f s" % s["write_after_heal"] if s["write_after_heal"] is not None
            else "NEVER (within %g s)" % s["write_bound"]))


def availability(ctx, ops):
    """Per window of the run: the share of writes and of reads the stack served (writes: 200,
    201 or 409; reads: 200 or 304), and the faults that began in it."""
    width = max(1.0, round(ctx.run_seconds / 15.0))
    windows = collections.defaultdict(lambda: [0, 0, 0, 0])
    for op in ops:
        if op["thread"] in ("final", "probe"):
            continue
        w = int((op["t0"] - ctx.t_start) // width)
        write = op["kind"] in ("purchase", "update", "add")
        served = op["status"] in (SERVED if write else (200, 304))
        cell = windows[w]
        cell[0 if write else 2] += 1
        cell[1 if write else 3] += served
    faults = collections.defaultdict(list)
    for f in ctx.faults:
        faults[int((f["t0"] - ctx.t_start) // width)].append(f["kind"] + " " + f["target"])
    log("availability per %g s (writes served / reads served):" % width)
    for w in sorted(windows):
        wt, ws, rt, rs = windows[w]
        log("  %5.0f s  writes %5.1f%% of %-5d reads %5.1f%% of %-6d %s" % (
            w * width, 100.0 * ws / wt if wt else 100.0, wt, 100.0 * rs / rt if rt else 100.0, rt,
            ", ".join(faults.get(w, []))))


def verdict(checker):
    ctx = checker.ctx
    v = checker.violations
    for kind, n in sorted(checker.notes.items()):
        example = checker.note_examples.get(kind)
        log("note (not a violation): %s: %d%s" % (kind, n, ("\n      e.g. " + example) if example else ""))
    if not v:
        log("OK: 0 violations (seed %s)" % ctx.seed)
        return 0
    counts = collections.Counter(k for k, _, _ in v)
    log("VIOLATIONS: %d  (%s)" % (len(v), ", ".join("%s=%d" % kv for kv in sorted(counts.items()))))
    # The first three of each kind, kind by kind, so that one noisy kind hides no other.
    shown, per_kind = 0, collections.Counter()
    for kind, message, vops in sorted(v, key=lambda x: x[0]):
        per_kind[kind] += 1
        if per_kind[kind] > 3:
            continue
        shown += 1
        print("  [%s] %s" % (kind, message))
        shown_ops = vops if len(vops) <= 6 else vops[:3] + [None] + vops[-3:]
        for op in shown_ops:
            print("      " + (checker.describe(op) if op else "... %d more ops" % (len(vops) - 6)))
    if len(v) > shown:
        print("  ... %d more violations (CHAOS_HISTORY=file writes the whole history)" % (len(v) - shown))
    log("FAILED (seed %s)" % ctx.seed)
    return 1
