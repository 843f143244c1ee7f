"""The history: every operation with its invocation and completion time (time.monotonic)."""

import threading
import time


class Recorder:
    def __init__(self, start):
        self.start = start
        self.lock = threading.Lock()
        self.ops = []
        self.next_id = 0

    def add(self, op):
        with self.lock:
            op["id"] = self.next_id
            self.next_id += 1
            self.ops.append(op)
        return op


def trim(kind, status, parsed):
    """Only what the checks use of an answer: keeps a long run's history small."""
    if status != 200 or not isinstance(parsed, dict):
        return parsed
    if kind == "search" and isinstance(parsed.get("items"), list):
        return {"items": [{"id": i.get("id")} if isinstance(i, dict) else i for i in parsed["items"]],
                "next": parsed.get("next")}
    if kind == "info":
        return {k: parsed[k] for k in ("id", "price", "stock", "version") if k in parsed}
    if kind == "orders" and isinstance(parsed.get("orders"), list):
        return {"orders": [{"number": o.get("number"), "book_id": o.get("book_id")} if isinstance(o, dict) else o
                           for o in parsed["orders"]], "next": parsed.get("next", "absent")}
    return parsed


def timed_call(client, recorder, thread, kind, method, path, body=None, headers=None, **extra):
    t0 = time.monotonic()
    status, kept, parsed, error = client.call(method, path, body=body, headers=headers)
    t1 = time.monotonic()
    op = {"kind": kind, "thread": thread, "t0": t0, "t1": t1, "method": method, "path": path,
          "req": body, "status": status, "headers": kept, "body": trim(kind, status, parsed), "error": error}
    op.update(extra)
    return recorder.add(op)
