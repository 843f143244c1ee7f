#!/usr/bin/env python3
"""The public API (API.md) checked against a running deployment, over HTTP on 127.0.0.1: every
route, status, header and error code, written once for every way Bazar runs.

    python3 Tests/api/check.py PORT TOKEN [--fronts N]

On one host the XCTest `APICheckTests` starts a stack (one front, then two) and runs it;
Tests/containers/run points it at the compose deployment (one front, then three) and at a
one-node swarm. It changes data (prices, stock, purchases): never point it at a deployment
you care about. With --fronts N it also checks what several fronts promise: every front has
its own cache, and a write is seen by a read through any front once it was answered.
Prints one line per check and "N passed, N failed"; exits 1 when a check failed.
"""

import http.client
import json
import re
import sys
import time
import uuid


class Api:
    def __init__(self, port, token):
        self.port = port
        self.token = token

    def call(self, method, path, body=None, headers=None, token=None):
        """(status, headers as a dict with lower-case names, parsed JSON or raw text)."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=data, headers=headers)
            answer = conn.getresponse()
            raw = answer.read()
            got = {k.lower(): v for k, v in answer.getheaders()}
        finally:
            conn.close()
        try:
            parsed = json.loads(raw.decode()) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return answer.status, got, parsed

    def admin(self, method, path, body):
        return self.call(method, path, body, {"Content-Type": "application/json"}, token=self.token)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("api: ok    %s" % name)
        else:
            self.failed += 1
            print("api: FAIL  %s%s" % (name, (": " + detail) if detail else ""))
        return ok


def error_code(body):
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


JSON_TYPE = "application/json; charset=utf-8"
BOOK_KEYS = ["id", "title", "topic", "price", "stock", "version"]
ORDER_KEYS = ["number", "book_id", "title", "price", "created_at"]
CACHE_KEYS = ["entries", "capacity", "hits", "misses", "invalidations", "evictions", "rejections",
              "bytes", "capacity_bytes", "oversized"]
REPLICAS = ("catalog-1", "catalog-2", "order-1", "order-2")
# A method a public path does not allow, and the Allow header its 405 names.
ALLOWED = {("DELETE", "/info/1"): "GET, HEAD", ("POST", "/search/x"): "GET, HEAD", ("GET", "/purchase/1"): "POST, PUT",
           ("POST", "/orders"): "GET, HEAD", ("GET", "/update/1"): "PUT", ("POST", "/health"): "GET, HEAD",
           ("DELETE", "/stats"): "GET, HEAD", ("GET", "/books"): "POST", ("PUT", "/books/"): "POST"}


def run(api, fronts):
    c = Checks()
    health(api, c)
    reads(api, c)
    bad_requests(api, c)
    cached_reads(api, c, fronts)
    updates(api, c, fronts)
    purchases(api, c)
    operations(api, c)
    request_ids(api, c)
    if fronts > 1:
        several_fronts(api, fronts, c)
    print("api: %d passed, %d failed" % (c.passed, c.failed))
    return c.failed == 0


def health(api, c):
    status, _, body = api.call("GET", "/health")
    listed = body.get("replicas", []) if isinstance(body, dict) else []
    replicas = {r.get("name"): r for r in listed}
    c.check("GET /health is 200 ok with every replica up",
            status == 200 and body.get("status") == "ok"
            and all(replicas.get(n, {}).get("status") == "up" for n in REPLICAS), "%s %s" % (status, body))
    c.check("/health names each replica with its role, status and applied number",
            [r.get("name") for r in listed] == list(REPLICAS)
            and [r.get("role") for r in listed][2:] == ["order", "order"]
            and sorted(r.get("role") for r in listed[:2]) == ["backup", "primary"]
            and all(list(r)[:4] == ["name", "role", "status", "applied"] for r in listed), str(listed))


def reads(api, c):
    status, headers, book = api.call("GET", "/info/6")
    c.check("GET /info/6 is the book as JSON", status == 200 and headers.get("content-type") == JSON_TYPE
            and isinstance(book, dict) and list(book) == BOOK_KEYS and book["id"] == 6
            and book["title"] == "Why theory classes are so hard." and book["topic"] == "undergraduate school"
            and "x-cache" in headers, "%s %s %s" % (status, headers, book))

    status, _, body = api.call("GET", "/search/distributed%20systems")
    items = body.get("items", []) if isinstance(body, dict) else []
    c.check("GET /search/distributed%20systems lists books 1, 2 and 5 by id and title",
            status == 200 and [i.get("id") for i in items] == [1, 2, 5]
            and all(list(i) == ["id", "title"] for i in items), "%s %s" % (status, body))
    status, _, plus = api.call("GET", "/search/distributed+systems")
    c.check("+ in a topic is a space", status == 200 and plus == body, "%s %s" % (status, plus))
    status, _, upper = api.call("GET", "/search/DISTRIBUTED%20systems")
    c.check("a topic's case is ignored", status == 200 and upper == body, "%s %s" % (status, upper))
    status, _, school = api.call("GET", "/search/undergraduate%20school")
    c.check("GET /search/undergraduate%20school lists books 3, 4, 6 and 7",
            status == 200 and [i.get("id") for i in school.get("items", [])] == [3, 4, 6, 7], "%s %s" % (status, school))
    for path in ("/search/no%20such%20topic", "/search/..", "/search/%2E%2E", "/search/."):
        status, _, body = api.call("GET", path)
        c.check("GET %s is 200 with no items" % path, status == 200 and isinstance(body, dict)
                and body.get("items") == [], "%s %s" % (status, body))


def bad_requests(api, c):
    """A malformed, unknown or misdirected request is a JSON error with its status and code."""
    cases = [("GET", "/info/" + bad, 400, "bad_request")
             for bad in ("0", "-1", "abc", "1abc", "%2B1", "9223372036854775808", "1.0", "1e3", "%201")]
    cases += [("GET", path, 400, "bad_request")
              for path in ("/search/%FF", "/search/%00", "/search/a%0Ab", "/search/%", "/search/%G1", "/search/",
                           "/search/" + "a" * 20000, "/orders/x")]
    cases += [("GET", "/info/9223372036854775807", 404, "not_found"), ("GET", "/orders/999999999", 404, "not_found")]
    cases += [("GET", path, 404, "not_found")
              for path in ("/", "/nowhere", "/book", "/books/1", "/info", "/info/1/2", "/catalog/info/1",
                           "/front/invalidate", "/catalog-1/health", "/catalog-1/info/1", "/order-1/orders",
                           "/replicate", "/stats/x")]
    cases += [("POST", "/front/invalidate", 404, "not_found")]
    cases += [(method, path, 405, "method_not_allowed") for method, path in ALLOWED]
    wrong = []
    for method, path, want, code in cases:
        body = b'{"book":1,"seq":99}' if path == "/front/invalidate" and method == "POST" else None
        status, headers, answer = api.call(method, path, body)
        allow = headers.get("allow")
        if (status != want or error_code(answer) != code or headers.get("content-type") != JSON_TYPE
                or allow != ALLOWED.get((method, path))):
            wrong.append("%s %s: %s %s %s %s" % (method, path[:40], status, headers.get("content-type"),
                                                 allow, str(answer)[:80]))
    c.check("%d malformed, unknown or misdirected requests are JSON errors (400, 404, 405 with Allow)" % len(cases),
            not wrong, "; ".join(wrong))


def cached_reads(api, c, fronts):
    caches = [api.call("GET", "/info/2")[1].get("x-cache") for _ in range(3 * fronts + 1)]
    c.check("GET /info/2 is answered from a front's cache once read", "HIT" in caches, str(caches))
    status, headers, body = api.call("GET", "/info/2")
    etag = headers.get("etag")
    c.check("a book's ETag is its version", status == 200 and etag == '"%s"' % body.get("version"),
            "%s %s %s" % (status, etag, body))
    status, _, _ = api.call("GET", "/info/2", headers={"If-None-Match": etag})
    c.check("If-None-Match naming it is 304", status == 304, str(status))
    status, headers, _ = api.call("GET", "/info/2", headers={"Cache-Control": "no-cache"})
    c.check("Cache-Control: no-cache bypasses the cache", status == 200 and headers.get("x-cache") == "BYPASS",
            "%s %s" % (status, headers.get("x-cache")))


def updates(api, c, fronts):
    status, _, body = api.call("PUT", "/update/7", {"price": 30})
    c.check("PUT /update without the token is 401", status == 401 and error_code(body) == "unauthorized",
            "%s %s" % (status, body))
    status, _, body = api.call("PUT", "/update/7", {"price": 30}, token="not-" + api.token)
    c.check("PUT /update with a wrong token is 401", status == 401, "%s %s" % (status, body))

    before = api.call("GET", "/info/3")[2]
    wrong = []
    for body in (b"", b"[]", b"{}", b"null", b'{"price": 0}', b'{"price": -1}', b'{"price": "5"}',
                 b'{"stock": -1}', b'{"stock": 1.5}', b'{"stock": true}', b'{"stock": 1, "stock_delta": 1}',
                 b'{"title": "x"}', b'{"price": 5, "extra": 1}', b"{", b'{"price": 1e999}', b'{"bogus": 1}'):
        status, _, answer = api.admin("PUT", "/update/3", body)
        if status != 400 or error_code(answer) != "bad_request":
            wrong.append("%s: %s %s" % (body.decode(), status, answer))
    status, _, answer = api.admin("PUT", "/update/3", {"stock_delta": -1000000})
    if status != 409 or error_code(answer) != "out_of_stock":
        wrong.append("stock_delta below 0: %s %s" % (status, answer))
    status, _, answer = api.admin("PUT", "/update/99999", {"price": 5})
    if status != 404 or error_code(answer) != "not_found":
        wrong.append("unknown book: %s %s" % (status, answer))
    status, _, answer = api.admin("PUT", "/update/1", b" " * (70 * 1024))
    if status != 413 or error_code(answer) != "payload_too_large":
        wrong.append("70 KB body: %s %s" % (status, answer))
    after = api.call("GET", "/info/3", headers={"Cache-Control": "no-cache"})[2]
    c.check("bad update bodies (400), a stock below 0 (409), an unknown book (404) and an oversized "
            "body (413) are refused and change nothing", not wrong and after == before,
            "; ".join(wrong) + (" book 3 went from %s to %s" % (before, after) if after != before else ""))

    status, _, updated = api.admin("PUT", "/update/7", {"price": 31.5, "stock": 2})
    c.check("PUT /update with the token sets price and stock", status == 200 and updated.get("price") == 31.5
            and updated.get("stock") == 2 and list(updated) == BOOK_KEYS, "%s %s" % (status, updated))
    status, _, delta = api.admin("PUT", "/update/7", {"stock_delta": -1})
    c.check("stock_delta changes the stock by that much, under a later version",
            status == 200 and delta.get("stock") == 1 and delta.get("version", -1) > updated.get("version", -1),
            "%s %s after %s" % (status, delta, updated))
    reads = [api.call("GET", "/info/7")[2] for _ in range(2 * fronts)]
    c.check("a read after the update shows it (read after acknowledged write)",
            all(r.get("version", -1) >= delta.get("version", 0) for r in reads), str(reads))


def purchases(api, c):
    before = api.call("GET", "/info/2", headers={"Cache-Control": "no-cache"})[2].get("stock", 0)
    for method in ("POST", "PUT"):
        status, headers, bought = api.call(method, "/purchase/2")
        order = bought.get("order", {}) if isinstance(bought, dict) else {}
        c.check("%s /purchase/2 answers the order and the book" % method,
                status == 200 and list(order) == ORDER_KEYS and order.get("book_id") == 2
                and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", order.get("created_at", "")) is not None
                and bought.get("book", {}).get("id") == 2 and headers.get("x-upstream") in ("order-1", "order-2")
                and headers.get("idempotency-key"), "%s %s %s" % (status, headers, bought))
    after = api.call("GET", "/info/2", headers={"Cache-Control": "no-cache"})[2].get("stock", 0)
    c.check("two purchases took two copies", after == before - 2, "%s then %s" % (before, after))

    key = "api-" + uuid.uuid4().hex
    status, headers, bought = api.call("POST", "/purchase/7", headers={"Idempotency-Key": key})
    order = (bought or {}).get("order", {}) if isinstance(bought, dict) else {}
    c.check("POST /purchase/7 buys the last copy", status == 200 and order.get("book_id") == 7
            and bought.get("book", {}).get("stock") == 0 and "idempotent-replayed" not in headers,
            "%s %s" % (status, bought))
    status, headers, again = api.call("POST", "/purchase/7", headers={"Idempotency-Key": key})
    c.check("a retry under the same Idempotency-Key replays the first order and buys nothing",
            status == 200 and headers.get("idempotent-replayed") == "true" and again.get("order") == order
            and api.call("GET", "/info/7", headers={"Cache-Control": "no-cache"})[2].get("stock") == 0,
            "%s %s %s" % (status, headers, again))
    status, _, body = api.call("POST", "/purchase/4", headers={"Idempotency-Key": key})
    c.check("the same key for another book is 400", status == 400 and error_code(body) == "bad_request",
            "%s %s" % (status, body))
    status, _, body = api.call("POST", "/purchase/7")
    c.check("POST /purchase/7 with no copy left is 409 out_of_stock",
            status == 409 and error_code(body) == "out_of_stock", "%s %s" % (status, body))

    status, _, body = api.call("GET", "/orders/%s" % order.get("number"))
    c.check("the order is readable at /orders/{number} at once, as it was answered",
            status == 200 and body == order, "%s %s" % (status, body))
    status, _, body = api.call("GET", "/orders?limit=1")
    c.check("GET /orders pages oldest first", status == 200 and len(body.get("orders", [])) == 1
            and "next" in body, "%s %s" % (status, body))
    status, _, body = api.call("GET", "/orders?limit=1000")
    numbers = [o.get("number") for o in body.get("orders", [])] if isinstance(body, dict) else []
    c.check("a page of orders is in order and holds the one just bought",
            status == 200 and numbers == sorted(numbers) and (order.get("number") in numbers or body.get("next")),
            "%s %s" % (status, numbers[-5:]))


def operations(api, c):
    status, _, body = api.call("GET", "/stats")
    cache = body.get("cache") if isinstance(body, dict) else None
    c.check("GET /stats has the cache's counters", status == 200 and isinstance(cache, dict)
            and list(cache) == CACHE_KEYS and cache["capacity"] > 0, "%s %s" % (status, body))
    status, _, _ = api.call("GET", "/metrics")
    c.check("GET /metrics without the token is 401", status == 401, str(status))
    status, headers, body = api.call("GET", "/metrics", token=api.token)
    c.check("GET /metrics with the token has every tier up",
            status == 200 and 'bazar_up{replica="front' in str(body)
            and all('bazar_up{replica="%s"} 1' % n in str(body) for n in REPLICAS)
            and all(v == 1 for k, v in samples(body).items() if k.startswith("bazar_up{")),
            "%s %s" % (status, str(body)[:300]))


def request_ids(api, c):
    """The client's sane request id comes back, an insane one is replaced, nginx's own answers
    carry one too."""
    trace = "api-" + uuid.uuid4().hex
    status, headers, _ = api.call("GET", "/info/1", headers={"X-Request-Id": trace})
    c.check("X-Request-Id sent comes back", status == 200 and headers.get("x-request-id") == trace,
            "%s %s" % (status, headers.get("x-request-id")))
    status, headers, _ = api.call("GET", "/info/1", headers={"X-Request-Id": "not sane"})
    made = headers.get("x-request-id") or ""
    c.check("an insane X-Request-Id is replaced by nginx's",
            status == 200 and len(made) == 32 and all(ch in "0123456789abcdef" for ch in made), "%s %s" % (status, made))
    status, headers, _ = api.call("GET", "/nowhere", headers={"X-Request-Id": trace + "-404"})
    c.check("nginx's own 404 carries X-Request-Id", status == 404 and headers.get("x-request-id") == trace + "-404",
            "%s %s" % (status, headers.get("x-request-id")))


def several_fronts(api, fronts, c):
    """Each front has its own cache, and the primary invalidates every front before a write."""
    # A write drops book 4 from every front's cache; then nginx passes the reads round-robin,
    # so each front misses it once and fills its own entry.
    api.admin("PUT", "/update/4", {"stock_delta": 1})
    caches = [api.call("GET", "/info/4")[1].get("x-cache") for _ in range(3 * fronts)]
    c.check("each of the %d fronts fills its own cache (one MISS each, then HITs)" % fronts,
            caches.count("MISS") == fronts and caches.count("HIT") == 2 * fronts, str(caches))
    stale = []
    for round_ in range(5):
        for _ in range(2 * fronts):
            api.call("GET", "/info/4")  # every front holds the book
        status, _, updated = api.admin("PUT", "/update/4", {"price": 10 + round_})
        if status != 200:
            stale.append("update %d: %s %s" % (round_, status, updated))
            continue
        for _ in range(2 * fronts):
            _, headers, read = api.call("GET", "/info/4")
            if read.get("version", -1) < updated["version"]:
                stale.append("round %d: %s after version %s (%s)" % (round_, read, updated["version"], headers.get("x-cache")))
    c.check("after a write every front's cached read shows it (5 rounds)", not stale, "; ".join(stale))
    metrics_of_every_front(api, fronts, c)


def samples(text):
    """{sample line's name and labels: value} of a Prometheus text exposition."""
    out = {}
    for line in str(text).splitlines():
        if line and not line.startswith("#") and " " in line:
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def metrics_of_every_front(api, fronts, c):
    """Whichever front a scrape reaches, it reports every front under its own name, and no
    front's counter goes back from one scrape to the next (a front that labelled itself
    "front" made counters of different fronts alternate)."""
    problems, last = [], {}
    for scrape in range(2 * fronts + 2):
        api.call("GET", "/info/1")
        status, _, body = api.call("GET", "/metrics", token=api.token)
        if status != 200:
            problems.append("scrape %d: %s" % (scrape, status))
            continue
        now = samples(body)
        up = sorted(k for k, v in now.items() if k.startswith('bazar_up{replica="front') and v == 1)
        if len(up) != fronts:
            problems.append("scrape %d: %d fronts up, not %d: %s" % (scrape, len(up), fronts, up))
        for key, value in now.items():
            name = key.split("{", 1)[0]
            if name.endswith("_total") and 'replica="front' in key and value < last.get(key, 0):
                problems.append("scrape %d: %s went back from %s to %s" % (scrape, key, last[key], value))
        last.update(now)
    c.check("every scrape reports each of the %d fronts under its own name, and no front's counter goes back"
            % fronts, not problems, "; ".join(problems[:5]))


def main():
    args = sys.argv[1:]
    fronts = 1
    if "--fronts" in args:
        i = args.index("--fronts")
        fronts = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    api = Api(int(args[0]), args[1])
    deadline = time.monotonic() + 60
    while True:
        try:
            if api.call("GET", "/health")[0] == 200:
                break
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            print("api: /health did not answer 200 within 60 s", file=sys.stderr)
            return 1
        time.sleep(0.5)
    return 0 if run(api, fronts) else 1


if __name__ == "__main__":
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
