"""The clients: readers (every read route), buyers, an admin updating books, an admin adding
books. Each op is recorded (history.timed_call) with what the checks need to judge it."""

import random
import time
import urllib.parse

from .history import timed_call
from .web import Client

RETRIED = (None, 503, 504, 429)   # a keyed write is tried again under its key on these
SEARCH_PAGES = 10   # the most pages of one topic a reader reads in a row


def urlquote(text):
    return urllib.parse.quote(text, safe="")


def running(ctx):
    return not ctx.stop.is_set() and time.monotonic() < ctx.deadline


def books_now(ctx):
    with ctx.lock:
        return list(ctx.book_ids)


def reader(ctx, index):
    """GET /info (plain, Cache-Control: no-cache, or If-None-Match naming the last version this
    reader saw), /search, /orders/{n} of an order answered 200, and /orders pages."""
    rng = random.Random("%s-reader-%d" % (ctx.seed, index))
    client = Client(ctx.port, ctx.timeout)
    name = "reader-%d" % index
    seen = {}   # book -> last version this reader saw
    while running(ctx):
        r = rng.random()
        if r < 0.62:
            book = rng.choice(books_now(ctx))
            headers, extra = {}, {"book": book, "bypass": False}
            if r < 0.05:
                headers["Cache-Control"] = "no-cache"
                extra["bypass"] = True
            elif r > 0.50 and book in seen:
                headers["If-None-Match"] = '"%d"' % seen[book]
                extra["inm"] = seen[book]
            op = timed_call(client, ctx.recorder, name, "info", "GET", "/info/%d" % book, headers=headers, **extra)
            if op["status"] == 200 and isinstance(op["body"], dict) and isinstance(op["body"].get("version"), int):
                seen[book] = op["body"]["version"]
        elif r < 0.80:
            with ctx.lock:
                topics = list(ctx.topics)
            topic = rng.choice(topics + ["no such topic"])
            if rng.random() < 0.05:
                topic = topic.upper()
            read_search(ctx, client, name, topic)
        elif r < 0.90:
            with ctx.lock:
                acked = ctx.acked_orders[-200:]
            if acked:
                n = rng.choice(acked)
                timed_call(client, ctx.recorder, name, "order", "GET", "/orders/%d" % n, number=n)
        else:
            with ctx.lock:
                top = ctx.acked_orders[-1] if ctx.acked_orders else ctx.orders_before
            after = ctx.orders_before + rng.randint(0, max(0, top - ctx.orders_before))
            limit = rng.randint(1, 50)
            timed_call(client, ctx.recorder, name, "orders", "GET", "/orders?after=%d&limit=%d" % (after, limit),
                       after=after, limit=limit)
        time.sleep(rng.uniform(0, 0.006))
    client.close()


def keyed(ctx, rng, client, name, kind, method, path, key, body=None, headers=None, **extra):
    """A write under `key`, tried again on RETRIED answers until it settles or the run ends."""
    attempt = 0
    while True:
        attempt += 1
        op = timed_call(client, ctx.recorder, name, kind, method, path, body=body,
                        headers=dict(headers or {}, **{"Idempotency-Key": key}), key=key, attempt=attempt, **extra)
        if op["status"] not in RETRIED or not running(ctx):
            return op
        time.sleep(rng.uniform(0.05, 0.3))


def buyer(ctx, index):
    """POST /purchase: most under an Idempotency-Key, retried until settled; some without."""
    rng = random.Random("%s-buyer-%d" % (ctx.seed, index))
    client = Client(ctx.port, ctx.timeout)
    name = "buyer-%d" % index
    n = 0
    while running(ctx):
        n += 1
        book = ctx.low_book if rng.random() < 0.2 else rng.choice(books_now(ctx))
        logical = "%s-%d" % (name, n)
        if rng.random() < 0.75:
            op = keyed(ctx, rng, client, name, "purchase", "POST", "/purchase/%d" % book,
                       "chaos-%s-%d-%d" % (ctx.seed, index, n), book=book, logical=logical)
        else:
            op = timed_call(client, ctx.recorder, name, "purchase", "POST", "/purchase/%d" % book,
                            book=book, key=None, logical=logical, attempt=1)
        if op["status"] == 200 and isinstance(op["body"], dict):
            number = (op["body"].get("order") or {}).get("number")
            if isinstance(number, int):
                with ctx.lock:
                    ctx.acked_orders.append(number)
        time.sleep(rng.uniform(0.002, 0.015))
    client.close()


def admin(ctx, index):
    """PUT /update: price changes and stock_delta restocks (never retried)."""
    rng = random.Random("%s-admin-%d" % (ctx.seed, index))
    client = Client(ctx.port, ctx.timeout)
    name = "admin-%d" % index
    auth = {"Authorization": "Bearer " + ctx.token, "Content-Type": "application/json"}
    while running(ctx):
        book = rng.choice(books_now(ctx))
        r = rng.random()
        if r < 0.5:
            body = {"stock_delta": rng.randint(1, 20)}
        elif r < 0.8:
            body = {"stock_delta": rng.randint(1, 20), "price": round(rng.uniform(5, 60), 2)}
        else:
            body = {"price": round(rng.uniform(5, 60), 2)}
        timed_call(client, ctx.recorder, name, "update", "PUT", "/update/%d" % book, body=body,
                   headers=auth, book=book)
        time.sleep(rng.uniform(0.03, 0.12))
    client.close()


def read_search(ctx, client, name, topic):
    """GET /search/{topic} and, while the answer names a `next`, the pages after it (a page holds
    at most 100 books, and a topic outgrows one in a long run): each page is an operation of its
    own, recorded with its `after`."""
    after = 0
    for _ in range(SEARCH_PAGES):
        path = "/search/" + urlquote(topic) + ("?after=%d" % after if after else "")
        op = timed_call(client, ctx.recorder, name, "search", "GET", path, topic=topic, after=after)
        following = op["body"].get("next") if op["status"] == 200 and isinstance(op["body"], dict) else None
        if not isinstance(following, int) or isinstance(following, bool) or following <= after:
            return
        after = following


def new_book(ctx, rng, name, n):
    """A book to add: its title names the addition (the checks find it by title)."""
    with ctx.lock:
        topic = rng.choice(ctx.topics)
    return {"title": "chaos %s %s-%d" % (ctx.seed, name, n), "topic": topic,
            "price": round(rng.uniform(5, 60), 2), "stock": rng.randint(50, 500)}


def adder(ctx, index):
    """POST /books: most under an Idempotency-Key (retried until settled), some without (once).
    A book answered 201 joins the books every client picks from."""
    rng = random.Random("%s-adder-%d" % (ctx.seed, index))
    client = Client(ctx.port, ctx.timeout)
    name = "adder-%d" % index
    auth = {"Authorization": "Bearer " + ctx.token, "Content-Type": "application/json"}
    n = 0
    while running(ctx):
        n += 1
        body = new_book(ctx, rng, name, n)
        if rng.random() < 0.7:
            op = keyed(ctx, rng, client, name, "add", "POST", "/books", "chaos-%s-%s-%d" % (ctx.seed, name, n),
                       body=body, headers=auth, title=body["title"])
        else:
            op = timed_call(client, ctx.recorder, name, "add", "POST", "/books", body=body, headers=auth,
                            key=None, attempt=1, title=body["title"])
        if op["status"] == 201 and isinstance(op["body"], dict) and isinstance(op["body"].get("id"), int):
            with ctx.lock:
                ctx.book_ids.append(op["body"]["id"])
        time.sleep(rng.uniform(0.2, 0.6))
    client.close()
