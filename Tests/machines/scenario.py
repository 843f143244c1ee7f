#!/usr/bin/env python3
"""Machines lost under load, on the three-machine swarm of Tests/machines/run (make test-machines).

    python3 Tests/machines/scenario.py --port PORT --token TOKEN [--primary-kills N] [--threads N]

Client threads buy books (POST /purchase/ID with an Idempotency-Key) and update them (PUT
/update/ID, an absolute price and stock, so a retry is harmless) through nginx at 127.0.0.1:PORT,
and retry a 503, a 504 or a lost connection with the same key until the write is answered; every
acknowledged write (200) is recorded with when its answering attempt was sent. Meanwhile:

1. the machine of the catalog backup is lost (Tests/machines/run node-kill: every container and
   volume on it at once); writes must go on being acknowledged; a new empty machine takes its
   place (node-add) and the stack must become whole again (/health ok, every replica up);
2. N times, the same to the machine of the catalog primary: writes must be acknowledged again
   (the time from the kill to the first acknowledged write sent after it is printed; bounded
   by 60 s, not asserted on), and /health must name the other replica as primary, in a higher
   epoch;
3. the clients stop and every acknowledged write is looked for: every acknowledged order is in
   GET /orders (same book), every book's version is at least the version an acknowledged
   update answered.

Prints what it does and "machines: N writes acknowledged, N lost"; exits 1 when a check failed.
"""

import argparse
import http.client
import json
import random
import statistics
import subprocess
import threading
import time
import uuid

BOOKS = range(1, 8)
RESUME_BOUND = 60.0      # seconds: writes acknowledged again after a kill
WHOLE_BOUND = 300.0      # seconds: the stack whole again after a machine is replaced
SETTLE_BOUND = 120.0     # seconds: a write in doubt retried with its key after the clients stop


def say(text):
    print("machines: %s" % text, flush=True)


class Api:
    def __init__(self, port, token):
        self.port = port
        self.token = token

    def call(self, method, path, body=None, headers=None, timeout=15):
        """(status, parsed JSON or None); status 0 when no answer came (connection lost, timeout)."""
        data = None if body is None else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=dict(headers or {}))
            answer = conn.getresponse()
            raw = answer.read()
        except (OSError, http.client.HTTPException):
            return 0, None
        finally:
            conn.close()
        try:
            return answer.status, json.loads(raw.decode()) if raw else None
        except ValueError:
            return answer.status, None

    def health(self):
        status, body = self.call("GET", "/health", timeout=5)
        return status, body if isinstance(body, dict) else {}


class Load:
    """Client threads writing until stopped; every acknowledged write recorded."""

    def __init__(self, api, threads):
        self.api = api
        self.lock = threading.Lock()
        self.orders = []     # (number, book, sent, acknowledged)
        self.updates = []    # (book, version, sent, acknowledged)
        self.refused = {}    # status -> count of answers that ended a write unacknowledged
        self.unsettled = 0   # writes still in doubt when the settle bound ran out
        self.stopping = threading.Event()
        self.stopped_at = None
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopped_at = time.time()
        self.stopping.set()
        for t in self.threads:
            t.join(SETTLE_BOUND + 30)

    def acknowledged(self):
        with self.lock:
            return len(self.orders) + len(self.updates)

    def first_ack_sent_after(self, moment):
        """When the first write sent after `moment` was acknowledged; None when none was yet."""
        with self.lock:
            acks = [ack for (_, _, sent, ack) in self.orders + self.updates if sent >= moment]
        return min(acks) if acks else None

    def acks_sent_after(self, moment):
        with self.lock:
            return sum(1 for (_, _, sent, _) in self.orders + self.updates if sent >= moment)

    def client(self, index):
        rng = random.Random(index)
        while not self.stopping.is_set():
            book = rng.choice(BOOKS)
            if rng.random() < 0.7:
                self.write("POST", "/purchase/%d" % book, None, book, {})
            else:
                body = {"price": round(rng.uniform(5, 60), 2), "stock": 100}
                self.write("PUT", "/update/%d" % book, body, book,
                           {"Authorization": "Bearer " + self.api.token, "Content-Type": "application/json"})

    def write(self, method, path, body, book, headers):
        """One write, retried with its key until it is answered (or SETTLE_BOUND after the stop)."""
        headers = dict(headers, **{"Idempotency-Key": str(uuid.uuid4())})
        while True:
            sent = time.time()
            status, answer = self.api.call(method, path, body, headers)
            if status == 200:
                with self.lock:
                    if method == "POST":
                        self.orders.append((answer["order"]["number"], book, sent, time.time()))
                    else:
                        self.updates.append((book, answer["version"], sent, time.time()))
                return
            if status not in (0, 502, 503, 504):
                with self.lock:
                    self.refused[status] = self.refused.get(status, 0) + 1
                return
            if self.stopping.is_set() and time.time() > self.stopped_at + SETTLE_BOUND:
                with self.lock:
                    self.unsettled += 1
                return
            time.sleep(0.2)


class Scenario:
    def __init__(self, api, load):
        self.api = api
        self.load = load
        self.failures = []
        self.resumes = []

    def check(self, name, ok, detail=""):
        say("%s  %s%s" % ("ok  " if ok else "FAIL", name, "" if ok else ": " + detail))
        if not ok:
            self.failures.append(name)
        return ok

    def machine(self, *args):
        return subprocess.run(["bash", "Tests/machines/run"] + list(args), check=True,
                              capture_output=True, text=True).stdout.strip()

    def whole(self):
        status, body = self.api.health()
        return status == 200 and body.get("status") == "ok" and \
            all(r.get("status") == "up" for r in body.get("replicas", [])) and len(body.get("replicas", [])) == 4

    def wait(self, bound, condition):
        deadline = time.time() + bound
        while time.time() < deadline:
            if condition():
                return True
            time.sleep(0.5)
        return False

    def lose(self, role):
        """Loses the machine of the catalog replica in ROLE; returns (replica, kill time, health before)."""
        _, before = self.api.health()
        replica = before.get("primary") if role == "primary" else \
            next(r["name"] for r in before["replicas"] if r["name"].startswith("catalog") and r["name"] != before.get("primary"))
        node = self.machine("node-of", replica)
        say("losing %s (the %s, %s; epoch %s) with every container and volume on it" % (node, role, replica, before.get("epoch")))
        killed = float(self.machine("node-kill", node))
        return replica, node, killed, before

    def writes_go_on(self, name, killed):
        resumed = self.wait(RESUME_BOUND, lambda: self.load.first_ack_sent_after(killed) is not None)
        first = self.load.first_ack_sent_after(killed)
        if self.check("%s: writes acknowledged after the kill" % name, resumed, "none within %d s" % RESUME_BOUND):
            say("first write acknowledged %.2f s after the kill" % (first - killed))
            self.wait(10, lambda: self.load.acks_sent_after(killed) >= 20)
            self.check("%s: writes go on (20 acknowledged since the kill)" % name, self.load.acks_sent_after(killed) >= 20,
                       "%d" % self.load.acks_sent_after(killed))
        return None if first is None else first - killed

    def replace(self, name, node):
        started = time.time()
        self.machine("node-add", node)
        whole = self.wait(WHOLE_BOUND, self.whole)
        self.check("%s: a new %s joins and the stack is whole again" % (name, node), whole, json.dumps(self.api.health()))
        if whole:
            say("whole again %.1f s after %s was replaced" % (time.time() - started, node))
        return whole

    def run(self, primary_kills):
        self.wait(10, lambda: self.load.acknowledged() >= 50)
        self.check("writes acknowledged before any kill", self.load.acknowledged() >= 50, "%d" % self.load.acknowledged())

        name = "backup's machine"
        replica, node, killed, _ = self.lose("backup")
        self.writes_go_on(name, killed)
        if not self.replace(name, node):
            return

        for kill in range(1, primary_kills + 1):
            name = "primary's machine #%d" % kill
            replica, node, killed, before = self.lose("primary")
            resume = self.writes_go_on(name, killed)
            if resume is not None:
                self.resumes.append(resume)

            def promoted():
                _, body = self.api.health()
                return body.get("primary") not in (None, replica) and body.get("epoch", 0) > before.get("epoch", 0)
            self.check("%s: /health names the other replica primary in a higher epoch" % name,
                       self.wait(RESUME_BOUND, promoted), json.dumps(self.api.health()))
            say("/health: primary %s, epoch %s" % (self.api.health()[1].get("primary"), self.api.health()[1].get("epoch")))
            if not self.replace(name, node):
                return

    def nothing_lost(self):
        """Every acknowledged order listed (same book); every acknowledged update's version reached."""
        listed = {}
        after = 0
        while after is not None:
            status, page = self.api.call("GET", "/orders?after=%d&limit=1000" % after)
            if status != 200:
                self.check("GET /orders answers", False, "%s %s" % (status, page))
                return None
            for order in page["orders"]:
                listed[order["number"]] = order["book_id"]
            after = page["next"]
        lost = [(n, b) for (n, b, _, _) in self.load.orders if listed.get(n) != b]
        self.check("every acknowledged order is listed (%d orders)" % len(self.load.orders), not lost, "lost: %s" % lost[:20])
        newest = {}
        for (book, version, _, _) in self.load.updates:
            newest[book] = max(newest.get(book, 0), version)
        behind = []
        for book, version in sorted(newest.items()):
            status, body = self.api.call("GET", "/info/%d" % book, headers={"Cache-Control": "no-cache"})
            if status != 200 or body.get("version", 0) < version:
                behind.append((book, version, status, body))
        self.check("every acknowledged update's version is reached (%d updates)" % len(self.load.updates), not behind,
                   "behind: %s" % behind)
        return len(lost) + len(behind)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--primary-kills", type=int, default=3)
    parser.add_argument("--threads", type=int, default=6)
    args = parser.parse_args()

    api = Api(args.port, args.token)
    load = Load(api, args.threads)
    scenario = Scenario(api, load)
    load.start()
    try:
        scenario.run(args.primary_kills)
    finally:
        say("stopping the clients (writes in doubt retried with their keys for up to %d s)" % SETTLE_BOUND)
        load.stop()
    lost = scenario.nothing_lost()
    scenario.check("no write left in doubt", load.unsettled == 0, "%d" % load.unsettled)
    if scenario.resumes:
        say("kill of the primary's machine to the first acknowledged write, over %d kills: median %.2f s, max %.2f s (%s)"
            % (len(scenario.resumes), statistics.median(scenario.resumes), max(scenario.resumes),
               ", ".join("%.2f" % r for r in scenario.resumes)))
    say("answers that ended a write unacknowledged: %s" % (load.refused or "none"))
    say("%d writes acknowledged (%d purchases, %d updates), %s lost"
        % (load.acknowledged(), len(load.orders), len(load.updates), "?" if lost is None else lost))
    say("%d checks failed%s" % (len(scenario.failures), (": " + "; ".join(scenario.failures)) if scenario.failures else ""))
    return 1 if scenario.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
