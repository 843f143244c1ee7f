"""Checks of the final state against the history: no acknowledged write rolled back, no order
number given twice, no purchase or addition applied twice or applied after a 503, stock
accounting, replicas level, /health honest about them (promises 1, 3, 4, 6)."""

import collections
import json

from .common import PAIRS


class FinalChecks:
    def check_final_versions(self):
        """Every book's final version on each catalog replica is at least the highest version a
        write of it was answered with; a book whose addition was answered 201 is there."""
        best = {}
        for _, b, v, op in self.acked_writes():
            if b not in best or v > best[b][0]:
                best[b] = (v, op)
        for key, replica in (("books1", "catalog-1"), ("books2", "catalog-2")):
            books = self.final[key]
            for b, (v, op) in sorted(best.items()):
                fb = books.get(b)
                if fb is None:
                    self.violation("lost-write", "book %d, acknowledged at version %d, is missing on %s"
                                   % (b, v, replica), [op])
                elif fb.get("version", -1) < v:
                    self.violation("lost-write", "book %d final version %s on %s is below acknowledged version %s"
                                   % (b, fb.get("version"), replica, v), [op])
            for b, fb in books.items():
                if isinstance(fb.get("stock"), int) and fb["stock"] < 0:
                    self.violation("negative-stock", "book %d final stock %s on %s" % (b, fb["stock"], replica))

    def check_orders(self):
        final = self.final
        takes = final.get("takes")
        if takes is None:
            return
        take_by_number = {}
        takes_by_key = collections.defaultdict(list)
        for t in takes:
            if t["number"] in take_by_number:
                self.violation("double-purchase", "order number %s appears twice in the takes" % t["number"])
            take_by_number[t["number"]] = t
            takes_by_key[t.get("key")].append(t)
        replicas = {}
        for rep in ("order-1", "order-2"):
            orders = final.get(rep)
            if orders is None:
                continue
            replicas[rep] = {}
            for o in orders:
                if o["number"] in replicas[rep]:
                    self.violation("double-purchase", "order number %s appears twice on %s" % (o["number"], rep))
                replicas[rep][o["number"]] = o
            for n in sorted(set(take_by_number) - set(replicas[rep])):
                self.violation("replica-orders", "order %d (book %s) is in the primary's takes but not on %s"
                               % (n, take_by_number[n]["book_id"], rep))
            for n in sorted(set(replicas[rep]) - set(take_by_number)):
                self.violation("replica-orders", "order %d (book %s) is on %s but not in the primary's takes"
                               % (n, replicas[rep][n].get("book_id"), rep))
            for n in set(take_by_number) & set(replicas[rep]):
                if replicas[rep][n].get("book_id") != take_by_number[n]["book_id"]:
                    self.violation("replica-orders", "order %d is of book %s on %s but of book %s in the takes"
                                   % (n, replicas[rep][n].get("book_id"), rep, take_by_number[n]["book_id"]))

        purchases = [op for op in self.ops if op["kind"] == "purchase"]
        # Every 200: in the takes (with the right key) and on both order replicas.
        answered = collections.defaultdict(list)  # order number -> ops answered with it
        for op in purchases:
            if op["status"] != 200 or not isinstance(op["body"], dict):
                continue
            order = op["body"].get("order") or {}
            n, b = order.get("number"), order.get("book_id")
            answered[n].append(op)
            t = take_by_number.get(n)
            if t is None:
                self.violation("acked-order-missing", "order %s answered 200 is not in the primary's takes" % n, [op])
            else:
                if t["book_id"] != b or b != op["book"]:
                    self.violation("acked-order-missing", "order %s answered for book %s (asked %s) is of book %s "
                                   "in the takes" % (n, b, op["book"], t["book_id"]), [op])
                if op["key"] is not None and t.get("key") != op["key"]:
                    self.violation("acked-order-missing", "order %s answered to key %s is recorded under key %s"
                                   % (n, op["key"], t.get("key")), [op])
            for rep, orders in replicas.items():
                o = orders.get(n)
                if o is None:
                    self.violation("acked-order-missing", "order %s answered 200 is missing on %s" % (n, rep), [op])
                elif o.get("book_id") != b:
                    self.violation("acked-order-missing", "order %s is of book %s on %s, answered for book %s"
                                   % (n, o.get("book_id"), rep, b), [op])
        for n, ops in answered.items():
            owners = {op["key"] if op["key"] is not None else ("nokey", op["id"]) for op in ops}
            if len(owners) > 1:
                self.violation("double-purchase", "order number %s was given to %d different purchases"
                               % (n, len(owners)), ops)

        by_key = collections.defaultdict(list)
        for op in purchases:
            if op["key"] is not None:
                by_key[op["key"]].append(op)
        for key, attempts in by_key.items():
            self.judge_key(key, attempts, takes_by_key.get(key, []), "purchase",
                           lambda op: (op["body"].get("order") or {}).get("number"))
        self.check_keyless_purchases(purchases, takes, takes_by_key, set(by_key))

    def judge_key(self, key, attempts, applied, what, identity):
        """One client key's attempts (a purchase's or an addition's) against what it applied
        (`applied`: its takes, or the books its addition made).

        What a 200/201 means: under the key, exactly what it names was applied, once. It
        counts whether or not it carries Idempotent-Replayed: true: that mark says the key had
        been applied by an earlier try, and the earlier try may be the stack's own (the front
        settling a try whose answer it lost), so it is not evidence of an earlier client
        request, and a key whose only answer is a replayed 200 is simply bought.
        What a refusal means: a 503 says nothing was applied, a 409 that it could not be; so a
        key that was applied must have a success among its answers, or an unknown outcome (a
        504, a 429, a connection error) after its last refusal."""
        answers = {identity(op) for op in attempts if op["status"] in (200, 201) and isinstance(op["body"], dict)}
        if len(applied) > 1:
            self.violation("double-" + what, "key %s applied %d times (%s)" % (
                key, len(applied), [a.get("number", a.get("id")) for a in applied]), attempts)
        if len(answers) > 1:
            self.violation("double-" + what, "key %s answered with %s" % (key, sorted(map(str, answers))), attempts)
        if not applied:
            return
        successes = [op for op in attempts if op["status"] in (200, 201)]
        if successes:
            replayed = [op for op in successes if op["headers"].get("Idempotent-Replayed") == "true"]
            if replayed and len(successes) == len(attempts) and len(attempts) == 1:
                self.note("key's only answer a replayed success (the stack settled its own try)",
                          "key %s: op %d" % (key, replayed[0]["id"]))
            if len(successes) - len(replayed) > 1:
                self.note("success twice for one key without Idempotent-Replayed",
                          "key %s: ops %s" % (key, [op["id"] for op in successes]))
            return
        refused = [op for op in attempts if op["status"] in (409, 503)]
        if not refused:
            self.note("key applied, outcome never settled (ambiguous)")
            return
        last_refusal = max(i for i, op in enumerate(attempts) if op["status"] in (409, 503))
        unknown_after = [op for op in attempts[last_refusal + 1:] if op["status"] not in (400, 401, 404)]
        if unknown_after:
            self.note("key applied, outcome never settled (ambiguous)")
            return
        codes = sorted({op["status"] for op in refused})
        last = attempts[last_refusal]
        unknown = [op for op in attempts if op["status"] not in (200, 201, 409, 503)]
        self.violation("503-applied" if 503 in codes else "409-applied",
                       "%s key %s answered %s%s but was applied (%s) (faults nearby: %s)"
                       % (what, key, "/".join(map(str, codes)),
                          " last, after %d unknown outcome(s)" % len(unknown) if unknown else " only",
                          applied[0].get("number", applied[0].get("id")),
                          "; ".join(self.faults_near(last["t0"], last["t1"], before=1.0)) or "none"),
                       attempts)

    def check_keyless_purchases(self, purchases, takes, takes_by_key, ours):
        keyless = [op for op in purchases if op["key"] is None]
        # A take under one of our keys is a keyed purchase's; any other (one the stack made up)
        # is a key-less purchase's.
        generated = collections.Counter(t["book_id"] for t in takes if t.get("key") not in ours)
        by_suffix = collections.defaultdict(list)     # a take's key, by what follows its last ":"
        for k in takes_by_key:
            if k:
                by_suffix[k.rsplit(":", 1)[-1]].append(k)
        unverifiable = 0
        for op in keyless:
            if op["status"] != 503:
                continue
            echoed = op["headers"].get("Idempotency-Key")
            if not echoed:
                unverifiable += 1
                continue
            hits = [k for k in by_suffix.get(echoed, []) if k == echoed or k.endswith(":" + echoed)]
            if hits:
                self.violation("503-applied", "key-less purchase answered 503 under key %s was taken (order %s)"
                               % (echoed, takes_by_key[hits[0]][0]["number"]), [op])
        if unverifiable:
            self.note("key-less 503s unverifiable (no Idempotency-Key echoed)", count=unverifiable)
        for b in sorted(set(generated) | {op["book"] for op in keyless}):
            mine = [op for op in keyless if op["book"] == b]
            possible = sum(1 for op in mine if op["status"] not in (409, 503) and not
                           (op["status"] is not None and 400 <= op["status"] < 500 and op["status"] != 429))
            refused503 = sum(1 for op in mine if op["status"] == 503)
            if generated[b] > possible:
                self.violation("keyless-overcount",
                               "book %d: %d takes without a client key, but only %d key-less purchases could have "
                               "been applied (%d more answered 503)" % (b, generated[b], possible, refused503))

    def additions(self):
        """{title: [attempts]} of the run's additions (each addition's title is its own)."""
        out = collections.defaultdict(list)
        for op in self.ops:
            if op["kind"] == "add":
                out[op["title"]].append(op)
        return out

    def check_additions(self):
        """Each addition made at most one book, the one its 201 named; none after a 503."""
        by_title = collections.defaultdict(list)
        for b, book in self.final["books1"].items():
            by_title[book.get("title")].append(dict(book, id=b))
        for title, attempts in self.additions().items():
            made = by_title.get(title, [])
            named = {op["body"].get("id") for op in attempts if op["status"] == 201 and isinstance(op["body"], dict)}
            for b in named - {m["id"] for m in made}:
                self.violation("lost-write", "addition %r answered 201 as book %s, not in the final catalog"
                               % (title, b), attempts)
            if attempts[0]["key"] is not None:
                self.judge_key(attempts[0]["key"], attempts, made, "addition", lambda op: op["body"].get("id"))
                continue
            op = attempts[0]
            if len(made) > 1:
                self.violation("double-addition", "key-less addition %r made %d books %s"
                               % (title, len(made), [m["id"] for m in made]), attempts)
            elif made and op["status"] == 503:
                self.violation("503-applied", "key-less addition %r answered 503 made book %s" % (title, made[0]["id"]),
                               attempts)

    def check_accounting(self):
        """Per book: its stock at the start (or at its addition) + acknowledged stock_deltas + some
        subset of the deltas of unknown outcome - its takes = its final stock."""
        takes = self.final.get("takes")
        if takes is None:
            return
        taken = collections.Counter(t["book_id"] for t in takes)
        start = {b: book["stock"] for b, book in self.ctx.initial.items()}
        made = collections.defaultdict(list)
        for b, book in self.final["books1"].items():
            made[book.get("title")].append(b)
        for title, attempts in self.additions().items():
            if len(made.get(title, [])) == 1:
                start[made[title][0]] = attempts[0]["req"]["stock"]
        updates = collections.defaultdict(list)
        for op in self.ops:
            if op["kind"] == "update" and isinstance(op.get("req"), dict) and "stock_delta" in op["req"]:
                updates[op["book"]].append(op)
        for b, init in sorted(start.items()):
            fb = self.final["books1"].get(b)
            if fb is None or not isinstance(fb.get("stock"), int):
                continue
            acked, unknown, refused, applied = 0, [], [], []
            for op in updates[b]:
                d = op["req"]["stock_delta"]
                if op["status"] == 200:
                    acked += d
                    applied.append(op)
                elif op["status"] in (503, 507):
                    refused.append(op)
                elif op["status"] is None or op["status"] in (504, 429):
                    unknown.append(d)
                    applied.append(op)
            need = fb["stock"] - init - acked + taken[b]
            reach = 1  # bit s set: the unknown-outcome deltas can add up to s
            for d in unknown:
                reach |= reach << d
            if need >= 0 and (reach >> need) & 1:
                continue

            def explains(d):
                return need - d >= 0 and (reach >> (need - d)) & 1

            # Which single update would explain the difference: one answered 503 that was
            # applied after all, or one (acknowledged or unknown) applied twice?
            suspects = [op for op in refused if explains(op["req"]["stock_delta"])]
            doubled = [op for op in applied if explains(op["req"]["stock_delta"])]
            hints = []
            if suspects:
                hints.append("one of the %d update(s) answered 503 below was applied" % len(suspects))
            if doubled:
                hints.append("one of the %d update(s) %sbelow was applied twice"
                             % (len(doubled), "further " if suspects else ""))
            self.violation("stock-accounting",
                           "book %d: final stock %d != initial %d + acknowledged deltas %d + some of the %d "
                           "unknown-outcome deltas (sum %d) - %d takes: %+d left to explain%s"
                           % (b, fb["stock"], init, acked, len(unknown), sum(unknown), taken[b], need,
                              (" (explained if " + ", or if ".join(hints) + ")") if hints else ""),
                           suspects + doubled)

    def check_replicas(self):
        """Promise 3 after quiescence, and promise 6's last sentence: /health never says ok while
        the replicas disagree."""
        final = self.final
        if not self.ctx.quiet:
            self.violation("no-quiescence", "replicas did not level within %d s after the faults stopped: /health %s"
                           % (self.ctx.quiesce_bound, json.dumps(self.ctx.quiesce_health)))
        disagree = []
        health = final.get("health")
        reps = {}
        if isinstance(health, dict):
            reps = {r.get("name"): r for r in health.get("replicas", []) if isinstance(r, dict)}
            for a, b in PAIRS:
                if reps.get(a, {}).get("applied") != reps.get(b, {}).get("applied"):
                    disagree.append("/health: %s applied %s, %s applied %s"
                                    % (a, reps.get(a, {}).get("applied"), b, reps.get(b, {}).get("applied")))
        for b in sorted(set(final["books1"]) | set(final["books2"])):
            one, two = final["books1"].get(b), final["books2"].get(b)
            if one != two:
                disagree.append("book %d: catalog-1 %s, catalog-2 %s" % (b, json.dumps(one), json.dumps(two)))
        takes = final.get("takes")
        for rep in ("order-1", "order-2"):
            if takes is not None and final.get(rep) is not None:
                if sorted(o["number"] for o in final[rep]) != sorted(t["number"] for t in takes):
                    disagree.append("%s's orders differ from the primary's takes" % rep)
        for message in disagree:
            self.violation("replicas-not-level", message)
        if disagree and isinstance(health, dict) and health.get("status") == "ok":
            self.violation("health-ok-diverged", "/health said ok while %d disagreement(s) stood, e.g. %s"
                           % (len(disagree), disagree[0]))
        for err in final["errors"]:
            self.violation("replicas-not-level", "final state unreadable: " + err)
