#!/usr/bin/env python3
"""The public API (API.md) checked against a running deployment, over HTTP on 127.0.0.1.

    python3 Tests/containers/api.py PORT TOKEN [--fronts N]

Tests/containers/run points it at the compose deployment (one front, then three) and at a
one-node swarm. It changes data (prices, stock, purchases): never point it at a deployment
you care about. With --fronts N it also checks what several fronts promise: every front has
its own cache, and a write is seen by a read through any front once it was answered.
Prints one line per check and "N passed, N failed"; exits 1 when a check failed.
"""

import http.client
import json
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


def run(api, fronts):
    c = Checks()

    status, _, body = api.call("GET", "/health")
    replicas = {r.get("name"): r for r in (body or {}).get("replicas", [])} if isinstance(body, dict) else {}
    c.check("GET /health is 200 ok with every replica up",
            status == 200 and body.get("status") == "ok"
            and all(replicas.get(n, {}).get("status") == "up" for n in ("catalog-1", "catalog-2", "order-1", "order-2")),
            "%s %s" % (status, body))

    status, _, body = api.call("GET", "/search/distributed%20systems")
    ids = sorted(i.get("id") for i in body.get("items", [])) if isinstance(body, dict) else None
    c.check("GET /search/distributed%20systems lists books 1, 2 and 5", status == 200 and ids == [1, 2, 5],
            "%s %s" % (status, body))
    status, _, plus = api.call("GET", "/search/distributed+systems")
    c.check("+ in a topic is a space", status == 200 and plus == body, "%s %s" % (status, plus))
    status, _, body = api.call("GET", "/search/no%20such%20topic")
    c.check("an unknown topic has no items", status == 200 and body.get("items") == [], "%s %s" % (status, body))

    for path, want in (("/info/0", 400), ("/info/abc", 400), ("/info/99999999", 404), ("/nowhere", 404),
                       ("/catalog-1/info/1", 404), ("/order-1/orders", 404)):
        status, _, body = api.call("GET", path)
        c.check("GET %s is %d with a JSON error" % (path, want), status == want and error_code(body) is not None,
                "%s %s" % (status, body))
    status, headers, body = api.call("DELETE", "/info/1")
    c.check("DELETE /info/1 is 405 with Allow: GET, HEAD",
            status == 405 and headers.get("allow") == "GET, HEAD", "%s %s %s" % (status, headers.get("allow"), body))

    # Cached reads and conditional requests.
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

    # Admin updates.
    status, _, body = api.call("PUT", "/update/7", {"price": 30})
    c.check("PUT /update without the token is 401", status == 401 and error_code(body) == "unauthorized",
            "%s %s" % (status, body))
    status, _, body = api.call("PUT", "/update/7", {"price": 30}, token="not-" + api.token)
    c.check("PUT /update with a wrong token is 401", status == 401, "%s %s" % (status, body))
    status, _, body = api.admin("PUT", "/update/7", {"bogus": 1})
    c.check("PUT /update with an unknown key is 400", status == 400 and error_code(body) == "bad_request",
            "%s %s" % (status, body))
    before = api.call("GET", "/info/7")[2]
    status, _, updated = api.admin("PUT", "/update/7", {"price": 31.5, "stock": 1})
    c.check("PUT /update with the token applies it", status == 200 and updated.get("price") == 31.5
            and updated.get("stock") == 1 and updated.get("version", -1) > before.get("version", -1),
            "%s %s (before: %s)" % (status, updated, before))
    reads = [api.call("GET", "/info/7")[2] for _ in range(2 * fronts)]
    c.check("a read after the update shows it (read after acknowledged write)",
            all(r.get("version", -1) >= updated.get("version", 0) for r in reads), str(reads))

    # Purchases: the last copy, a replay under its key, then out of stock.
    key = "api-" + uuid.uuid4().hex
    status, headers, bought = api.call("POST", "/purchase/7", headers={"Idempotency-Key": key})
    order = (bought or {}).get("order", {}) if isinstance(bought, dict) else {}
    c.check("POST /purchase/7 buys the last copy", status == 200 and order.get("book_id") == 7
            and bought.get("book", {}).get("stock") == 0, "%s %s" % (status, bought))
    status, headers, again = api.call("POST", "/purchase/7", headers={"Idempotency-Key": key})
    c.check("a retry under the same Idempotency-Key replays the first order",
            status == 200 and headers.get("idempotent-replayed") == "true"
            and again.get("order", {}).get("number") == order.get("number"), "%s %s %s" % (status, headers, again))
    status, _, body = api.call("POST", "/purchase/7")
    c.check("POST /purchase/7 with no copy left is 409 out_of_stock",
            status == 409 and error_code(body) == "out_of_stock", "%s %s" % (status, body))
    status, _, body = api.call("GET", "/orders/%s" % order.get("number"))
    c.check("the order is readable at /orders/{number} at once", status == 200 and body.get("book_id") == 7,
            "%s %s" % (status, body))
    status, _, body = api.call("GET", "/orders?limit=1")
    c.check("GET /orders pages oldest first", status == 200 and len(body.get("orders", [])) == 1
            and "next" in body, "%s %s" % (status, body))

    # Operations.
    status, _, body = api.call("GET", "/stats")
    c.check("GET /stats has the cache's counters", status == 200 and isinstance(body.get("cache"), dict)
            and "hits" in body["cache"], "%s %s" % (status, body))
    status, _, _ = api.call("GET", "/metrics")
    c.check("GET /metrics without the token is 401", status == 401, str(status))
    status, headers, body = api.call("GET", "/metrics", token=api.token)
    c.check("GET /metrics with the token has every tier up",
            status == 200 and 'bazar_up{replica="front' in str(body)
            and all('bazar_up{replica="%s"} 1' % n in str(body) for n in ("catalog-1", "catalog-2", "order-1", "order-2"))
            and all(v == 1 for k, v in samples(body).items() if k.startswith("bazar_up{")),
            "%s %s" % (status, str(body)[:300]))

    # Request ids: the client's sane one comes back, an insane one is replaced, nginx's own
    # answers carry one too.
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

    if fronts > 1:
        several_fronts(api, fronts, c)
    print("api: %d passed, %d failed" % (c.passed, c.failed))
    return c.failed == 0


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
