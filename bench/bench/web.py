"""HTTP to one listener on 127.0.0.1 (a stack's public port, the baseline's, the containers'):
the requests the harness makes around the measured runs, and the snapshots the write checks
compare."""

import collections
import json
import time
import urllib.error
import urllib.request

from .common import BOOKS, HarnessError, log


class Client:
    def __init__(self, port, token=None):
        self.base = "http://127.0.0.1:%d" % port
        self.token = token

    def request(self, method, path, body=None, headers=None, timeout=10):
        """(status, headers, body) of a request, whatever its status; OSError on a transport
        error."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def get(self, path):
        """The body of GET path, whatever its status; HarnessError on a transport error."""
        try:
            return self.request("GET", path)[2]
        except OSError as error:
            raise HarnessError("GET %s failed: %s" % (path, error))

    def get_json(self, path):
        return json.loads(self.get(path))

    def status(self, method, path, headers=None):
        """The status of a request, 0 on a transport error."""
        try:
            return self.request(method, path, headers=headers)[0]
        except OSError:
            return 0

    def cache_label(self, path, headers=None):
        """The X-Cache header (HIT, MISS, BYPASS...) of GET path, None without one."""
        try:
            return self.request("GET", path, headers=headers, timeout=5)[1].get("X-Cache")
        except OSError:
            return None

    def set_stock(self, book, stock):
        """PUT /update/BOOK {"stock": STOCK} with the admin token, retried for 30 s; False when
        it was never answered 200."""
        headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        start = time.monotonic()
        while True:
            try:
                status, _, body = self.request("PUT", "/update/%d" % book, {"stock": stock}, headers, timeout=15)
            except OSError as error:
                status, body = 0, str(error).encode()
            if status == 200:
                return True
            if time.monotonic() - start >= 30:
                log("PUT /update/%d answered %03d: %s" % (book, status, body.decode(errors="replace")))
                return False
            time.sleep(1)

    def wait_health(self, seconds):
        """Until GET /health is 200; False when it is not within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.status("GET", "/health") == 200:
                return True
            time.sleep(0.25)
        return False

    def stock_of(self, book):
        """The stock of one book, retried for 45 s while the stack recovers; None if it never
        answers."""
        start = time.monotonic()
        while True:
            try:
                stock = json.loads(self.request("GET", "/info/%d" % book)[2])["stock"]
                if isinstance(stock, int):
                    return stock
            except (OSError, ValueError, KeyError, TypeError):
                pass
            if time.monotonic() - start >= 45:
                log("warning: GET /info/%d kept failing" % book)
                return None
            time.sleep(1)

    def stocks(self):
        """{"1": stock, ...} for books 1..7 (a stock is None when it could not be read)."""
        return {str(book): self.stock_of(book) for book in BOOKS}

    def orders(self):
        """{"total": n, "by_book": {"1": n, ...}} over every page of GET /orders (1,000 orders
        each), retried for 45 s; None when it keeps failing."""
        start = time.monotonic()
        while True:
            try:
                counts, after = collections.Counter(), 0
                while after is not None:
                    status, _, body = self.request("GET", "/orders?after=%d&limit=1000" % after, timeout=30)
                    if status != 200:
                        raise ValueError("GET /orders answered %d" % status)
                    page = json.loads(body)
                    counts.update(str(order["book_id"]) for order in page["orders"])
                    after = page["next"]
                return {"total": sum(counts.values()), "by_book": dict(counts)}
            except (OSError, ValueError, KeyError, TypeError):
                pass
            if time.monotonic() - start >= 45:
                log("warning: GET /orders kept failing")
                return None
            time.sleep(1)

    def level_verdict(self):
        """Whether /health is ok and both replica pairs report the same `applied`."""
        try:
            health = json.loads(self.request("GET", "/health", timeout=3)[2])
        except (OSError, ValueError):
            return {"level": False, "health": None}
        applied = {r["name"]: r.get("applied") for r in health.get("replicas", [])}
        level = (health.get("status") == "ok" and applied.get("catalog-1") is not None
                 and applied.get("catalog-1") == applied.get("catalog-2")
                 and applied.get("order-1") == applied.get("order-2"))
        return {"level": bool(level), "status": health.get("status"), "applied": applied}

    def wait_level(self, seconds):
        """Until the replicas are level and nothing moved for a second (writes queued before a
        stall may still be landing), `seconds` at most: the last verdict."""
        start, previous, stable = time.monotonic(), None, 0
        while True:
            verdict = self.level_verdict()
            stable = stable + 1 if verdict["level"] and verdict == previous else 0
            previous = verdict
            if stable >= 2 or time.monotonic() - start >= seconds:
                return verdict
            time.sleep(0.5)
