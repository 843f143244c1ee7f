"""The checker: judges a history (ops, faults) and a final state against API.md's promises.
Every check runs even when another one fails on a history it did not expect (that failure is
reported as a checker-error violation, never a crash): a checker judges every history."""

import collections
import json
import traceback

from .checks_final import FinalChecks
from .checks_reads import ReadChecks
from .checks_run import RunChecks


class Checker(ReadChecks, FinalChecks, RunChecks):
    def __init__(self, ctx, ops, final):
        self.ctx = ctx
        self.ops = ops
        self.final = final
        self.violations = []
        self.notes = collections.Counter()
        self.note_examples = {}

    def violation(self, kind, message, ops=()):
        self.violations.append((kind, message, list(ops)))

    def note(self, kind, message=None, count=1):
        self.notes[kind] += count
        if message and kind not in self.note_examples:
            self.note_examples[kind] = message

    def rel(self, t):
        return t - self.ctx.t_start

    def describe(self, op):
        h = " ".join("%s=%s" % (k, v) for k, v in sorted(op["headers"].items()))
        body = op["body"]
        if op["kind"] == "purchase" and isinstance(body, dict) and "order" in body:
            b = body.get("book") or {}
            body = "order %s book %s v%s stock %s" % ((body.get("order") or {}).get("number"),
                                                      b.get("id"), b.get("version"), b.get("stock"))
        elif isinstance(body, dict) and "version" in body:
            body = "book %s v%s stock %s price %s" % (body.get("id"), body.get("version"),
                                                      body.get("stock"), body.get("price"))
        else:
            body = json.dumps(body)[:160] if body is not None else op.get("error")
        extra = ""
        if op.get("key"):
            extra += " key=%s#%d" % (op["key"], op.get("attempt", 1))
        if op.get("inm") is not None:
            extra += " If-None-Match=%s" % op["inm"]
        if op.get("req") is not None:
            extra += " req=%s" % json.dumps(op["req"])
        return "op %d %s [%.3f..%.3f] %s %s%s -> %s %s | %s" % (
            op["id"], op["thread"], self.rel(op["t0"]), self.rel(op["t1"]), op["method"], op["path"], extra,
            op["status"], h, body)

    def faults_near(self, t0, t1, before=5.0):
        out = []
        for f in self.ctx.faults:
            if f["t0"] <= t1 and f.get("t1", f["t0"]) >= t0 - before:
                out.append("%s %s [%.2f..%.2f]%s" % (f["kind"], f["target"], self.rel(f["t0"]),
                                                     self.rel(f.get("t1", f["t0"])),
                                                     " %.1fs" % f["duration"] if "duration" in f else ""))
        return out

    # -- what the history says was acknowledged
    @staticmethod
    def book_of(op):
        """The book an op's answer shows (a read, a write's answer), or None."""
        body = op["body"]
        if not isinstance(body, dict):
            return None
        if op["kind"] == "purchase" and op["status"] == 200:
            return body.get("book") if isinstance(body.get("book"), dict) else None
        if (op["kind"] in ("update", "info") and op["status"] == 200) or (op["kind"] == "add" and op["status"] == 201):
            return body if isinstance(body.get("version"), int) else None
        return None

    def acked_writes(self):
        """Acknowledged writes: [(completion time, book id, version, op)], oldest answer first."""
        if not hasattr(self, "_acked"):
            out = []
            for op in self.ops:
                if op["kind"] in ("purchase", "update", "add"):
                    book = self.book_of(op)
                    if book and isinstance(book.get("id"), int):
                        out.append((op["t1"], book["id"], book["version"], op))
            out.sort(key=lambda w: w[0])
            self._acked = out
        return self._acked

    def acked_orders(self):
        """{order number: first op answered 200 with it}."""
        out = {}
        for op in sorted(self.ops, key=lambda o: o["t1"]):
            if op["kind"] == "purchase" and op["status"] == 200 and isinstance(op["body"], dict):
                n = (op["body"].get("order") or {}).get("number")
                if isinstance(n, int):
                    out.setdefault(n, op)
        return out

    def run(self):
        checks = [self.check_statuses, self.check_reads, self.check_search, self.check_order_reads,
                  self.check_supervision, self.check_disk_full, self.check_failover, self.check_recovery]
        if self.final is not None:
            checks += [self.check_final_versions, self.check_orders, self.check_additions, self.check_accounting,
                       self.check_replicas]
        for check in checks:
            try:
                check()
            except Exception as e:
                where = traceback.extract_tb(e.__traceback__)[-1]
                self.violation("checker-error", "%s raised %s: %s at %s:%d on this history (the other checks ran)"
                               % (check.__name__, type(e).__name__, e, where.filename.rsplit("/", 1)[-1], where.lineno))
