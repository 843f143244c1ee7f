"""--self-test: the checker against small made-up histories. A clean one must pass, and each
planted anomaly must be reported under its kind (and only where it was planted)."""

import copy

from . import nemesis
from .checker import Checker
from .common import Context


def book(v, stock, price=10.0, id=1, topic="t", title="T"):
    return {"id": id, "title": title, "topic": topic, "price": price, "stock": stock, "version": v}


def op(kind, t0, t1, status, body, **extra):
    o = {"kind": kind, "thread": "test", "t0": t0, "t1": t1, "method": "GET", "path": "/x",
         "req": None, "status": status, "headers": {}, "body": body, "error": None, "key": None}
    o.update(extra)
    return o


def purchase(t0, t1, status, number, v, stock, key, attempt=1, replayed=False):
    body = {"order": {"number": number, "book_id": 1}, "book": book(v, stock)} if status == 200 else None
    return op("purchase", t0, t1, status, body, book=1, key=key, attempt=attempt,
              headers={"Idempotent-Replayed": "true"} if replayed else {})


def taken(final, number, key, v, stock):
    """Order `number` of book 1 bought under `key`: in the takes, on both order replicas, the
    book at version v with `stock` on both catalogs."""
    final["takes"].append({"number": number, "book_id": 1, "key": key})
    for r in ("order-1", "order-2"):
        final[r].append({"number": number, "book_id": 1})
    final["books1"][1] = book(v, stock)
    final["books2"][1] = book(v, stock)


NEW = book(4, 7, id=2, topic="u", title="chaos add 1")
CLEAN_OPS = [
    op("update", 1.0, 1.1, 200, book(1, 15), req={"stock_delta": 5}, book=1),
    op("update", 1.2, 1.3, 504, None, req={"stock_delta": 3}, book=1),  # not applied: allowed
    op("update", 1.4, 1.5, 503, None, req={"stock_delta": 7}, book=1),  # not applied: right
    purchase(2.0, 2.1, 200, 1, 2, 14, "K1"),
    purchase(2.2, 2.3, 503, None, None, None, "K2"),
    purchase(2.4, 2.5, None, None, None, None, "K2", attempt=2),  # unknown: K2 may apply
    purchase(2.6, 2.7, 200, 2, 3, 13, "K2", attempt=3, replayed=True),
    op("purchase", 2.8, 2.9, 503, None, book=1, key=None, attempt=1),
    op("info", 1.05, 1.6, 200, book(0, 10), book=1),   # overlaps the update: may be old
    op("info", 2.15, 2.2, 200, book(2, 14), book=1),
    op("info", 3.0, 3.1, 200, book(3, 13), book=1),
    op("info", 3.0, 3.1, 304, None, book=1, inm=3),
    op("search", 3.0, 3.1, 200, {"items": [{"id": 1, "title": "T"}]}, topic="T"),
    op("add", 3.2, 3.3, 201, NEW, req={"title": "chaos add 1", "topic": "u", "price": 10.0, "stock": 7},
       key="A1", attempt=1, title="chaos add 1"),
    op("search", 3.4, 3.5, 200, {"items": [{"id": 2}]}, topic="u"),
    op("order", 3.4, 3.5, 200, {"number": 2, "book_id": 1}, number=2),
    op("orders", 3.4, 3.5, 200, {"orders": [{"number": 1, "book_id": 1}, {"number": 2, "book_id": 1}], "next": None},
       after=0, limit=10),
    op("orders", 3.4, 3.5, 200, {"orders": [{"number": 1, "book_id": 1}], "next": 1}, after=0, limit=1),
]
CLEAN_FINAL = {
    "books1": {1: book(3, 13), 2: NEW}, "books2": {1: book(3, 13), 2: NEW}, "errors": [],
    "takes": [{"number": 1, "book_id": 1, "key": "K1"}, {"number": 2, "book_id": 1, "key": "K2"}],
    "order-1": [{"number": 1, "book_id": 1}, {"number": 2, "book_id": 1}],
    "order-2": [{"number": 1, "book_id": 1}, {"number": 2, "book_id": 1}],
    "health": {"status": "ok", "replicas": [{"name": "catalog-1", "applied": 4}, {"name": "catalog-2", "applied": 4},
                                            {"name": "order-1", "applied": 2}, {"name": "order-2", "applied": 2}]},
}


def context():
    ctx = Context()
    ctx.t_start, ctx.faults, ctx.book_ids, ctx.quiet = 0.0, [], [1], True
    ctx.quiesce_bound, ctx.quiesce_health = 30, None
    ctx.initial = {1: book(0, 10)}
    ctx.supervision = {"not_back": [], "start_failed": [], "strays": [], "pid_files": [], "bound": 20,
                       "write_after_heal": 0.3, "write_bound": 15}
    return ctx


def plant(fn):
    ctx = context()
    ops, final = copy.deepcopy(CLEAN_OPS), copy.deepcopy(CLEAN_FINAL)
    fn(ops, final, ctx)
    for i, o in enumerate(ops):
        o["id"] = i
    c = Checker(ctx, ops, final)
    c.run()
    return sorted({k for k, _, _ in c.violations}), c


def stale(ops, final, ctx):
    ops.append(op("info", 2.5, 2.6, 200, book(1, 15), book=1))


def stale_304(ops, final, ctx):   # If-None-Match "1" answered 304 after version 2 was acknowledged
    ops.append(op("info", 2.5, 2.6, 304, None, book=1, inm=1))


def missing_book(ops, final, ctx):
    ops.append(op("info", 2.5, 2.6, 404, None, book=1))


def applied_503(ops, final, ctx):  # K3 only ever answered 503, yet taken
    ops.append(purchase(3.0, 3.1, 503, None, None, None, "K3"))
    taken(final, 3, "K3", 5, 12)


def refused_after_unknown(ops, final, ctx):  # K3: unknown, then a retry answered 503, yet taken
    ops.append(purchase(3.0, 3.1, 504, None, None, None, "K3"))
    ops.append(purchase(3.2, 3.3, 503, None, None, None, "K3", attempt=2))
    taken(final, 3, "K3", 5, 12)


def only_replayed(ops, final, ctx):
    """The IndexError history of a ten-minute run: the key's only answer (its first try) is a
    200 marked Idempotent-Replayed (the front settled its own try): simply bought."""
    ops.append(purchase(4.0, 4.1, 200, 3, 5, 12, "K3", replayed=True))
    taken(final, 3, "K3", 5, 12)


def twice(ops, final, ctx):  # K1 taken twice
    taken(final, 3, "K1", 5, 12)


def number_twice(ops, final, ctx):  # order number 1 answered to K1 and to K3 (a primary that lost its disk)
    ops.append(purchase(4.0, 4.1, 200, 1, 3, 13, "K3"))


def keyless_twice(ops, final, ctx):  # one key-less purchase (answered 503) but a generated take
    taken(final, 3, "generated:x", 5, 12)


def keyless_unknown(ops, final, ctx):  # the same, but its outcome was unknown: may be taken
    keyless_twice(ops, final, ctx)
    ops[7]["status"] = None


def keyless_overcount(ops, final, ctx):  # two takes for one key-less purchase of unknown outcome
    keyless_unknown(ops, final, ctx)
    taken(final, 4, "generated:y", 6, 11)


def missing(ops, final, ctx):
    final["order-2"] = final["order-2"][1:]


def accounting(ops, final, ctx):  # the 503 restock of 7 was applied
    final["books1"][1] = final["books2"][1] = book(5, 20)


def doubled(ops, final, ctx):  # the acknowledged restock of 5 applied twice
    final["books1"][1] = final["books2"][1] = book(5, 18)


def level(ops, final, ctx):
    final["books2"][1] = book(2, 14)
    final["health"]["status"] = "degraded"


def health_lies(ops, final, ctx):   # the same, with /health saying ok
    final["books2"][1] = book(2, 14)


def lost(ops, final, ctx):
    final["books1"][1] = final["books2"][1] = book(1, 13)


def rolled_back(ops, final, ctx):   # a primary back from a lost disk: everything gone but the default
    final["books1"] = {1: book(0, 10)}
    final["books2"] = {1: book(0, 10)}


def negative(ops, final, ctx):
    ops.append(op("info", 3.0, 3.1, 200, book(4, -1), book=1))


def mismatch(ops, final, ctx):
    ops.append(op("info", 3.0, 3.1, 200, book(3, 12), book=1))


def search(ops, final, ctx):
    ops.append(op("search", 3.0, 3.1, 200, {"items": []}, topic="t"))


def search_stale(ops, final, ctx):   # topic u read after book 2's addition was answered 201
    ops.append(op("search", 3.6, 3.7, 200, {"items": []}, topic="u"))


def full_page(ops, final, later):
    """Topic u holds books 2 (its addition, answered at 3.3) and `later` (answered 201 at
    3.45, after book 2); a read at 3.6 gets a first page full at book 2 (`next`: 2)."""
    added = book(5, 7, id=later, topic="u", title="chaos add 2")
    final["books1"][later] = final["books2"][later] = added
    ops.append(op("add", 3.4, 3.45, 201, added, req={"title": "chaos add 2", "topic": "u", "price": 10.0, "stock": 7},
                  key="A3", attempt=1, title="chaos add 2"))


def full_first_page(ops, final, ctx):   # book 3 is on the next page: not missing
    full_page(ops, final, 3)
    ops.append(op("search", 3.6, 3.7, 200, {"items": [{"id": 2}], "next": 2}, topic="u", after=0))


def next_page_stale(ops, final, ctx):   # the page after 2 lacks book 3
    full_page(ops, final, 3)
    ops.append(op("search", 3.6, 3.7, 200, {"items": [{"id": 2}], "next": 2}, topic="u", after=0))
    ops.append(op("search", 3.7, 3.8, 200, {"items": [], "next": None}, topic="u", after=2))


def full_page_stale(ops, final, ctx):   # a full first page (next 2) that lacks book 2
    full_page(ops, final, 3)
    ops.append(op("search", 3.6, 3.7, 200, {"items": [{"id": 3}], "next": 3}, topic="u", after=0))


def order_unreadable(ops, final, ctx):
    ops.append(op("order", 3.6, 3.7, 404, None, number=1))


def page_missing(ops, final, ctx):   # the last page after 0 lacks order 2
    ops.append(op("orders", 3.6, 3.7, 200, {"orders": [{"number": 1, "book_id": 1}], "next": None},
                  after=0, limit=10))


def addition_lost(ops, final, ctx):
    del final["books1"][2]
    del final["books2"][2]


def addition_twice(ops, final, ctx):   # keyed addition A1 made two books
    final["books1"][3] = final["books2"][3] = dict(NEW, id=3, version=5)


def addition_503(ops, final, ctx):   # addition A2 answered 503 only, yet made a book
    ops.append(op("add", 3.6, 3.7, 503, None, req={"title": "chaos add 2", "topic": "u", "price": 1.0, "stock": 3},
                  key="A2", attempt=1, title="chaos add 2"))
    final["books1"][3] = final["books2"][3] = book(5, 3, 1.0, id=3, topic="u", title="chaos add 2")


def not_restarted(ops, final, ctx):
    ctx.supervision["not_back"] = ["front"]


def stray(ops, final, ctx):
    ctx.supervision["strays"] = [{"role": "catalog-2", "pids": [10, 11], "at": 2.0, "samples": 3}]
    ctx.supervision["pid_files"] = [{"role": "catalog-2", "pid_file": 10, "instances": [10, 11]}]


def unavailable(ops, final, ctx):
    ctx.supervision["write_after_heal"] = None


def disk_full_crash(ops, final, ctx):
    ctx.faults = [{"kind": "disk-full", "target": "disk", "t0": 1.0, "t1": 4.0,
                   "pids_before": {"front": 100, "order-1": 200}, "pids_after": {"front": 100, "order-1": 201}}]


def no_failover(ops, final, ctx):   # the primary gone 1.0-10.0; the writes at 8-9 all refused
    ctx.faults = [{"kind": "loss", "target": "catalog-1", "primary": "catalog-1", "t0": 1.0, "t1": 10.0}]
    for t in (8.0, 8.5, 9.0):
        ops.append(op("update", t, t + 0.1, 503, None, req={"price": 3.0}, book=1))


def no_failover_owed(ops, final, ctx):   # as no_failover, but the backup was catching up when the primary went
    no_failover(ops, final, ctx)
    ctx.faults[0]["backup_up"] = False


def no_recovery(ops, final, ctx):   # a kill at 1.0; at 14-16 s (15 s after it) every write refused
    ctx.faults = [{"kind": "kill", "target": "front", "t0": 1.0, "t1": 1.0}]
    for t in (14.0, 15.0, 15.5, 17.0):
        ops.append(op("update", t, t + 0.1, 503, None, req={"price": 3.0}, book=1))


def malformed_take(ops, final, ctx):   # check_orders meets a take it cannot read: the others still run
    final["takes"].append({"book_id": 1})
    final["books1"][1] = final["books2"][1] = book(1, 13)


CASES = [("clean", lambda o, f, c: None, []),
         ("stale read", stale, ["stale-read"]),
         ("304 to an old version", stale_304, ["stale-304"]),
         ("404 for a book that exists", missing_book, ["missing-book"]),
         ("503 applied", applied_503, ["503-applied"]),
         ("retry 503 after an unknown outcome, taken", refused_after_unknown, ["503-applied"]),
         ("only answer a replayed 200 (ten-minute run)", only_replayed, []),
         ("key bought twice", twice, ["double-purchase"]),
         ("one order number given twice", number_twice, ["acked-order-missing", "double-purchase"]),
         ("key-less 503 taken", keyless_twice, ["keyless-overcount"]),
         ("key-less unknown outcome taken", keyless_unknown, []),
         ("key-less bought twice", keyless_overcount, ["keyless-overcount"]),
         ("order missing on a replica", missing, ["acked-order-missing", "replica-orders", "replicas-not-level",
                                                   "health-ok-diverged"]),
         ("503 restock applied", accounting, ["stock-accounting"]),
         ("restock applied twice", doubled, ["stock-accounting"]),
         ("catalogs differ", level, ["lost-write", "replicas-not-level"]),
         ("catalogs differ, /health ok", health_lies, ["health-ok-diverged", "lost-write", "replicas-not-level"]),
         ("lost write", lost, ["lost-write"]),
         ("rolled back to the default catalog", rolled_back, ["lost-write", "stock-accounting"]),
         ("negative stock seen", negative, ["negative-stock"]),
         ("one version, two stocks", mismatch, ["version-mismatch"]),
         ("search lists nothing", search, ["search-stale"]),
         ("search misses an acknowledged addition", search_stale, ["search-stale"]),
         ("a full first page, the rest on the next", full_first_page, []),
         ("the next page misses an acknowledged addition", next_page_stale, ["search-stale"]),
         ("a full first page misses one of its books", full_page_stale, ["search-stale"]),
         ("order answered 200 reads 404", order_unreadable, ["acked-order-unreadable"]),
         ("orders page misses an order", page_missing, ["orders-page-missing"]),
         ("addition answered 201 lost", addition_lost, ["lost-write"]),
         ("addition made two books", addition_twice, ["double-addition"]),
         ("addition answered 503 applied", addition_503, ["503-applied"]),
         ("front never restarted", not_restarted, ["not-restarted"]),
         ("two instances of a replica", stray, ["pid-file", "stray-process"]),
         ("no write after the faults", unavailable, ["unavailable"]),
         ("full disk stopped a process", disk_full_crash, ["disk-full-crash"]),
         ("primary lost, no failover", no_failover, ["no-failover"]),
         ("primary lost while the backup caught up, no failover", no_failover_owed, []),
         ("writes refused 15 s after a fault", no_recovery, ["unavailable"]),
         ("a take without a number", malformed_take, ["checker-error", "lost-write", "stock-accounting"])]


# The nemesis's rule for a primary's lost disk: (backup applied, witnesses' acknowledged, why kept).
WIPES = [(40, [30, 30], False),      # the backup holds everything acknowledged
         (40, [40, 12], False),
         (39, [40, 40], True),       # writes through 40 acknowledged while it was demoted, not caught up
         (None, [30, 30], True),     # the backup did not answer
         (40, [30], True)]           # a witness did not answer


def self_test():
    failed = 0
    for applied, witnesses, kept in WIPES:
        why = nemesis.wipe_loses_writes(applied, witnesses, 2)
        ok = (why is not None) == kept
        failed += not ok
        print("self-test nemesis wipe %-34s %s" % ("%s %s" % (applied, witnesses), "ok" if ok else "FAILED (%s)" % why))
    for name, fn, want in CASES:
        got, c = plant(fn)
        ok = got == sorted(want)
        failed += not ok
        print("self-test %-46s %s%s" % (name, "ok" if ok else "FAILED", "" if ok else
                                         " (wanted %s, got %s: %s)" % (want, got, [m for _, m, _ in c.violations])))
    return 1 if failed else 0
