"""After the run: quiescence (the replicas level) and the final state, read through nginx's
internal listener (both catalog replicas' books, the primary's takes, both order replicas'
orders)."""

import json
import time

from .common import PAIRS, REPLICAS, log
from .web import public_get


def health_level(port):
    status, body = public_get(port, "/health", timeout=3)
    if status != 200 or not isinstance(body, dict):
        return False, body
    reps = {r.get("name"): r for r in body.get("replicas", []) if isinstance(r, dict)}
    if not all(reps.get(n, {}).get("status") == "up" for n in REPLICAS):
        return False, body
    for a, b in PAIRS:
        if reps[a].get("applied") != reps[b].get("applied"):
            return False, body
    return True, body


def wait_quiescence(ctx, bound):
    deadline = time.monotonic() + bound
    last = None
    streak = 0
    while time.monotonic() < deadline:
        ok, last = health_level(ctx.port)
        streak = streak + 1 if ok else 0
        if streak >= 2:
            return True, last
        time.sleep(0.25)
    return False, last


def get_retrying(stack, path, until):
    """An internal GET, retried on anything but 200 and 404 until `until` (monotonic)."""
    while True:
        status, body = stack.internal_get(path)
        if status in (200, 404) or time.monotonic() >= until:
            return status, body
        time.sleep(0.2)


def get_many_retrying(stack, paths, until):
    """Internal GETs, in one go, then each one that did not answer 200 or 404 again."""
    answers = stack.internal_get_many(paths)
    return [a if a[0] in (200, 404) else get_retrying(stack, p, until) for p, a in zip(paths, answers)]


def read_paged(stack, base, until, limit=None, after=0):
    """Every order of a list on the internal listener, {"orders": [...]}: follows `next` when
    the answer has one; without `next`, an answer with `limit` asked is an unpaged whole list,
    and one without (the takes, pages of 1000) goes on after the last number until empty."""
    out = []
    while True:
        path = "%s?after=%d%s" % (base, after, "&limit=%d" % limit if limit else "")
        status, body = get_retrying(stack, path, until)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("orders"), list):
            return None, "%s -> %s %s" % (path, status, json.dumps(body)[:200])
        page = body["orders"]
        out.extend(page)
        if "next" in body:
            if body["next"] is None or not page:
                return out, None
            after = int(body["next"])
        elif limit or not page:
            return out, None
        else:
            after = max(int(o["number"]) for o in page)
        if len(out) > 5_000_000:
            return out, "more than 5,000,000 orders"


def final_state(ctx):
    """The final state, read until two reads in a row agree: a write whose client gave up (an
    unknown outcome) may still land a moment after quiescence, between one replica's read and
    the next, and the checks must judge one state, not a mix of two."""
    previous = None
    for attempt in range(10):
        state = read_final_state(ctx)
        comparable = (state["books1"], state["books2"], len(state["takes"] or []), state["errors"])
        if comparable == previous:
            return state
        if previous is not None:
            log("final state: read %d differs from the one before (%s): a late write landed"
                % (attempt + 1, describe_change(previous, comparable)))
        previous = comparable
        time.sleep(1)
    return state


def describe_change(before, after):
    """What changed between two final-state reads, in a few words."""
    changes = []
    for (label, one, two) in (("catalog-1", before[0], after[0]), ("catalog-2", before[1], after[1])):
        books = sorted(b for b in set(one) | set(two) if one.get(b) != two.get(b))
        if books:
            changes.append("%s books %s" % (label, ",".join(map(str, books[:20]))))
    if before[2] != after[2]:
        changes.append("takes %d -> %d" % (before[2], after[2]))
    if before[3] != after[3]:
        changes.append("errors %d -> %d" % (len(before[3]), len(after[3])))
    return "; ".join(changes) or "no difference named"


def known_ids(ctx):
    """Every book id the run knows of: the initial ones and those additions were answered with."""
    ids = set(ctx.initial)
    for op in ctx.recorder.ops:
        if op["kind"] == "add" and op["status"] == 201 and isinstance(op["body"], dict):
            if isinstance(op["body"].get("id"), int):
                ids.add(op["body"]["id"])
    return ids


def read_books(stack, replica, ids, until, state, key):
    """replica's books among `ids` into state[key]; then on past the highest id until ten ids in
    a row are unknown (an addition whose answer was lost may have made a book there)."""
    ids = sorted(ids)
    top = ids[-1] if ids else 0
    probe = list(range(top + 1, top + 11))
    while True:
        batch = ids + probe
        answers = get_many_retrying(stack, ["/%s/info/%d" % (replica, b) for b in batch], until)
        for b, (status, body) in zip(batch, answers):
            if status == 200 and isinstance(body, dict):
                state[key][b] = body
            elif status != 404:
                state["errors"].append("%s /info/%d: %s %s" % (replica, b, status, json.dumps(body)[:200]))
        found = [b for b, (status, _) in zip(probe, answers[len(ids):]) if status == 200]
        if not found:
            return
        ids, top = [], max(found)
        probe = list(range(probe[-1] + 1, top + 11))


def read_final_state(ctx):
    stack = ctx.stack
    until = time.monotonic() + 20
    state = {"books1": {}, "books2": {}, "errors": []}
    ids = set(range(1, max(known_ids(ctx)) + 1))
    read_books(stack, "catalog-1", ids, until, state, "books1")
    read_books(stack, "catalog-2", ids | set(state["books1"]), until, state, "books2")
    takes, err = read_paged(stack, "/catalog-primary/takes", until, after=ctx.orders_before)
    state["takes"] = takes
    if err:
        state["errors"].append("takes: " + err)
    for rep in ("order-1", "order-2"):
        orders, err = read_paged(stack, "/%s/orders" % rep, until, limit=1000, after=ctx.orders_before)
        state[rep] = orders
        if err:
            state["errors"].append(rep + ": " + err)
    state["health"] = public_get(ctx.port, "/health")[1]
    return state
