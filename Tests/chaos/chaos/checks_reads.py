"""Checks of the answers themselves: statuses, and every read route against the writes that
were acknowledged before the read began (promise 2: read after acknowledged write)."""

import bisect
import collections

# The statuses API.md allows each route under faults (a full disk: 507 on writes). A 404 is
# judged by the read checks: every id the clients ask for was acknowledged before.
ALLOWED = {"info": {200, 304, 404, 429, 503}, "search": {200, 429, 503}, "order": {200, 404, 429, 503},
           "orders": {200, 429, 503}, "purchase": {200, 404, 409, 429, 503, 504, 507},
           "update": {200, 404, 429, 503, 504, 507}, "add": {201, 429, 503, 504, 507}}


class ReadChecks:
    def check_statuses(self):
        for op in self.ops:
            status = op["status"]
            if status is None:
                continue
            if status not in ALLOWED[op["kind"]] or (status == 304 and op.get("inm") is None):
                self.violation("unexpected-status", "%s answered %s" % (op["path"], status), [op])
            elif op["kind"] in ("info", "purchase", "update", "add") and status in (200, 201) \
                    and self.book_of(op) is None:
                self.violation("unexpected-status", "%d without a book in its body" % status, [op])

    def acked_index(self):
        """{book: (completion times, best (version, op) up to each)}: the highest version
        acknowledged for each book by each moment."""
        index = {}
        per_book = collections.defaultdict(list)
        for t, b, v, op in self.acked_writes():
            per_book[b].append((t, v, op))
        for b, ws in per_book.items():
            times, best, cur = [], [], None
            for t, v, op in ws:
                if cur is None or v > cur[0]:
                    cur = (v, op)
                times.append(t)
                best.append(cur)
            index[b] = (times, best)
        return index

    @staticmethod
    def acked_before(index, b, t):
        """The (version, op) of the highest write of book b answered before time t, or None."""
        if b not in index:
            return None
        times, best = index[b]
        i = bisect.bisect_left(times, t) - 1
        return best[i] if i >= 0 else None

    def check_reads(self):
        """/info: a 200 shows at least the version of every write of the book answered before
        the read began; a 304 to If-None-Match "v" means v is current, so no write answered
        before the read began has a higher version; a 404 is wrong for a book that existed
        (initial, or its addition was answered 201) before the read began."""
        index = self.acked_index()
        seen = {}  # (book, version) -> (price, stock, first op showing it)
        for op in self.ops:
            book = self.book_of(op)
            if book is not None:
                key, state = (book.get("id"), book.get("version")), (book.get("price"), book.get("stock"))
                first = seen.setdefault(key, state + (op,))
                if first[:2] != state:
                    # API.md: two replicas that agree on the version agree on the whole book.
                    self.violation("version-mismatch", "book %s version %s seen as price %s stock %s and as "
                                   "price %s stock %s" % (key + first[:2] + state), [first[2], op])
                if isinstance(book.get("stock"), int) and book["stock"] < 0:
                    self.violation("negative-stock", "book %s seen with stock %s" % (book.get("id"), book["stock"]),
                                   [op])
            if op["kind"] not in ("info", "purchase", "update"):
                continue
            b = op["book"]
            acked = self.acked_before(index, b, op["t0"])
            if op["status"] == 404 and (b in self.ctx.initial or acked is not None):
                self.violation("missing-book", "%s answered 404 but the book %s before the request began "
                               "(faults nearby: %s)" % (op["path"], "existed" if acked is None else "was acknowledged",
                                                        "; ".join(self.faults_near(op["t0"], op["t1"])) or "none"),
                               ([acked[1]] if acked else []) + [op])
            if op["kind"] != "info":
                continue
            if op["status"] == 304 and acked is not None and acked[0] > op["inm"]:
                self.violation("stale-304", "/info/%s answered 304 to If-None-Match \"%s\" %.3f s after a write was "
                               "answered with version %d (faults nearby: %s)"
                               % (b, op["inm"], op["t0"] - acked[1]["t1"], acked[0],
                                  "; ".join(self.faults_near(acked[1]["t0"], op["t1"])) or "none"), [acked[1], op])
            if book is None:
                continue
            if book.get("id") != b:
                self.violation("unexpected-status", "/info/%s answered book %s" % (b, book.get("id")), [op])
            elif acked is not None and book.get("version", -1) < acked[0]:
                self.violation(
                    "stale-read",
                    "read of book %s began %.3f s after a write answered with version %d, saw version %s "
                    "(faults nearby: %s)" % (b, op["t0"] - acked[1]["t1"], acked[0], book.get("version"),
                                            "; ".join(self.faults_near(acked[1]["t0"], op["t1"])) or "none"),
                    [acked[1], op])

    def check_search(self):
        """/search/{topic} (topics never change, books are never removed): the answer lists every
        book of the topic on its page (`search_page_range`) that existed before the read began
        (initial, or its addition answered 201 by then), and no book of another topic (a book is
        of the topic if it was added with it, its answer lost or not, as the final catalog shows)."""
        initial = collections.defaultdict(set)
        for b, book in self.ctx.initial.items():
            initial[book["topic"].lower()].add(b)
        added = collections.defaultdict(list)     # topic -> [(answered at, id, op)]
        tried = collections.defaultdict(list)     # topic -> [invoked at]: ids unknown until answered
        for op in self.ops:
            if op["kind"] == "add" and isinstance(op.get("req"), dict):
                topic = str(op["req"].get("topic", "")).lower()
                tried[topic].append(op["t0"])
                book = self.book_of(op)
                if book is not None:
                    added[topic].append((op["t1"], book["id"], op))
        for topic in added:
            added[topic].sort(key=lambda a: a[0])
        answered_at = collections.defaultdict(list, {topic: [a[0] for a in adds] for topic, adds in added.items()})
        all_added = collections.defaultdict(set, {topic: {a[1] for a in adds} for topic, adds in added.items()})
        # The books of each topic that ended up in the catalog (additions whose answer was lost
        # included): what an answer may list besides those it must.
        final = collections.defaultdict(set)
        for b, book in ((self.final or {}).get("books1") or {}).items():
            if isinstance(book, dict) and isinstance(book.get("topic"), str):
                final[book["topic"].lower()].add(b)
        for op in self.ops:
            if op["kind"] != "search" or op["status"] != 200:
                continue
            items = op["body"].get("items") if isinstance(op["body"], dict) else None
            if not isinstance(items, list):
                self.violation("search-wrong", "malformed search answer", [op])
                continue
            topic = op["topic"].lower()
            got = {i.get("id") for i in items if isinstance(i, dict)}
            before = added[topic][:bisect.bisect_left(answered_at[topic], op["t0"])]
            on_page = self.search_page_range(op)
            missing = sorted(b for b in initial[topic] | {b for _, b, _ in before} if on_page(b) and b not in got)
            if missing:
                acks = [a for _, b, a in before if b in missing]
                self.violation("search-stale", "topic %r answered without book(s) %s that existed before the read "
                               "began (faults nearby: %s)" % (op["topic"], missing,
                                                              "; ".join(self.faults_near(op["t0"], op["t1"])) or "none"),
                               acks[:3] + [op])
            extra = got - initial[topic] - all_added[topic] - final[topic]
            if extra and (self.final is not None or not any(t < op["t1"] for t in tried[topic])):
                self.violation("search-wrong", "topic %r listed %s, books of other topics" % (op["topic"], sorted(extra)),
                               [op])

    @staticmethod
    def search_page_range(op):
        """Which ids a search answer must hold: those above its `after` and, when it names a
        `next` (a full page: 100 books by default), up to that one; the rest are on other pages."""
        after = op.get("after") or 0
        following = op["body"].get("next")
        if isinstance(following, int) and not isinstance(following, bool):
            return lambda b: after < b <= following
        return lambda b: after < b

    def check_order_reads(self):
        """/orders/{n}: an order answered 200 to its buyer is readable at once (API.md), the same
        order. /orders?after=N&limit=M: numbers above N, ascending, at most M; every order
        answered 200 before the read began and numbered in the page's range is in it."""
        acked = self.acked_orders()
        acked_numbers = sorted(acked)
        for op in self.ops:
            if op["kind"] == "order":
                n, first = op["number"], acked.get(op["number"])
                if first is None or first["t1"] > op["t0"]:
                    continue
                want = (first["body"].get("order") or {}).get("book_id")
                if op["status"] == 404:
                    self.violation("acked-order-unreadable", "order %d answered 200 %.3f s before reads 404 "
                                   "(faults nearby: %s)" % (n, op["t0"] - first["t1"],
                                                            "; ".join(self.faults_near(first["t0"], op["t1"])) or "none"),
                                   [first, op])
                elif op["status"] == 200:
                    body = op["body"] if isinstance(op["body"], dict) else {}
                    order = body.get("order") if isinstance(body.get("order"), dict) else body
                    if order.get("number") != n or order.get("book_id") != want:
                        self.violation("order-read-wrong", "/orders/%d answered %s, order %d is of book %s"
                                       % (n, order, n, want), [first, op])
            elif op["kind"] == "orders" and op["status"] == 200:
                self.check_page(op, acked, acked_numbers)

    def check_page(self, op, acked, acked_numbers):
        body = op["body"] if isinstance(op["body"], dict) else {}
        orders = body.get("orders")
        if not isinstance(orders, list):
            self.violation("orders-page-wrong", "malformed page", [op])
            return
        numbers = [o.get("number") for o in orders if isinstance(o, dict)]
        if len(numbers) != len(orders) or any(not isinstance(n, int) for n in numbers) \
                or numbers != sorted(set(numbers)) or (numbers and numbers[0] <= op["after"]) \
                or len(numbers) > op["limit"]:
            self.violation("orders-page-wrong", "after=%d limit=%d answered numbers %s" % (
                op["after"], op["limit"], numbers[:20]), [op])
            return
        last = body.get("next") is None
        cap = float("inf") if last else (numbers[-1] if numbers else op["after"])
        listed = {o["number"]: o for o in orders}
        numbers = acked_numbers
        for n in numbers[bisect.bisect_right(numbers, op["after"]):bisect.bisect_right(numbers, cap)]:
            first = acked[n]
            if first["t1"] >= op["t0"]:
                continue
            want = (first["body"].get("order") or {}).get("book_id")
            if n not in listed:
                self.violation("orders-page-missing", "page after=%d limit=%d (%s) lacks order %d, answered 200 "
                               "%.3f s before the read began (faults nearby: %s)"
                               % (op["after"], op["limit"], "the last page" if last else "up to %d" % cap, n,
                                  op["t0"] - first["t1"], "; ".join(self.faults_near(first["t0"], op["t1"])) or "none"),
                               [first, op])
                return
            if listed[n].get("book_id") != want:
                self.violation("order-read-wrong", "page lists order %d of book %s, answered for book %s"
                               % (n, listed[n].get("book_id"), want), [first, op])
