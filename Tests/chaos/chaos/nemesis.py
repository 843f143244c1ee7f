"""The nemesis: a schedule of faults drawn from the seed before the run (printed, so a run can
be replayed and read), then executed one after the other (a compound fault runs two at once).

Nothing here repairs the stack: a process killed stays dead until the stack's own supervisor
(or, with containers, the restart policy) starts it again; the supervision check judges that at
the end. What the nemesis stops as an operator would (bazarctl stop, for a restart order, a
lost disk or a lost replica) it starts again itself, as the operator would."""

import threading
import time

from .common import PEER, REPLICAS, TIERS, log
from .web import public_get

# What each kind does (every random parameter is drawn when the schedule is made):
#   kill           kill -9 (an nginx worker, the nginx master, a tier)
#   crash          containers: kill -9 of the server inside a container
#   stop           SIGSTOP for 0.5-4 s, then SIGCONT
#   long-stop      SIGSTOP for 5-15 s (5-8 s in a run under 38 s): past the stack's settle timeouts
#   restart        bazarctl restart (docker restart)
#   stop+kill      a replica hung 0.3-1.5 s so requests pile up behind it, the target killed meanwhile
#   compound       two of kill, stop, long-stop, restart, stop+kill, disk-loss on two targets,
#                  the second 0-1.5 s after the first
#   restart-order  bazarctl stop the target; 3-10 s of writes (3-4 s in short runs); stop its peer; start the target;
#                  0-3 s; start the peer (the target, behind its peer, comes back first)
#   disk-loss      bazarctl stop the replica, remove its data files, 0.5-3 s, bazarctl start it
#                  (the primary's files are kept when they hold the only copy of acknowledged
#                  writes: see wipe_loses_writes)
#   loss           a replica gone for 8-14 s (bazarctl stop), then started again, its disk
#                  lost or not (promise 7: the primary gone, a backup must take over)
#   disk-full      BAZAR_VAR's tmpfs filled to the last byte for 2-8 s, then the filler removed
#   pile-up        catalog-2, order-1 and order-2 hung 1-4 s around purchases; catalog-1
#                  stopped; the three let go; one order replica killed; 1-3 s; catalog-1 started
#   partition      containers: a tier cut off for 1-5 s (partition_rules)
#   switchover     the catalog primary hands its role to the backup (bazarctl switchover; in
#                  containers POST /catalog-N/switchover on nginx's internal listener), under load
COMPOUND_PARTS = ["kill", "stop", "long-stop", "restart", "stop+kill", "disk-loss"]
WITNESSES = [r for r in REPLICAS if r.startswith("order-")]
EXPECTED = {"kill": 0.5, "crash": 0.5, "restart": 2.0, "disk-loss": 3.0, "restart-order": 4.0, "loss": 3.0,
            "pile-up": 3.0, "switchover": 3.0}


def deck(kinds, targets):
    """Every (kind, target) the nemesis may deal: it deals them from a shuffled deck, so that a
    long enough run hits every combination about once."""
    tiers = [t for t in targets if t in TIERS or t == "front"]
    replicas = [t for t in targets if t in REPLICAS]
    out = []
    for kind in kinds:
        if kind == "restart":
            names = tiers + (["nginx"] if "nginx" in targets or "nginx-worker" in targets else [])
        elif kind == "partition":
            names = tiers
        elif kind in ("restart-order", "disk-loss", "loss"):
            names = replicas
        elif kind == "pile-up":
            names = ["catalog-1"] if set(REPLICAS) <= set(targets) else []
        elif kind == "disk-full":
            names = ["disk"]
        elif kind == "switchover":
            names = ["primary"] if set(REPLICAS) <= set(targets) else []
        elif kind == "compound":
            names = ["two"] * 3
        elif kind == "crash":
            names = [t for t in targets if t != "nginx"]
        else:
            names = targets
        out += [(kind, t) for t in names]
    return out


def plan_one(rng, kind, target, kinds, targets, seconds):
    """One fault with every parameter drawn: a dict the executor follows. A short run (make
    test's 20 s) gets shorter long pauses (5-8 s, still past the 4.5 s and 7 s settles) and
    restart orders (3-4 s of writes), so that it has room for several faults."""
    f = {"kind": kind, "target": target, "pick": round(rng.random(), 4)}
    if kind == "stop" or kind == "partition":
        f["duration"] = round(rng.uniform(0.5, 4.0) if kind == "stop" else rng.uniform(1.0, 5.0), 2)
    elif kind == "long-stop":
        f["duration"] = round(rng.uniform(5.0, max(8.0, min(15.0, seconds / 2.5))), 2)
    elif kind == "stop+kill":
        f["hung"] = rng.choice([t for t in REPLICAS if t != target])
        f["duration"] = round(rng.uniform(0.3, 1.5), 2)
        f["after"] = round(rng.uniform(0.0, 0.3), 2)
    elif kind == "restart-order":
        f["peer"] = PEER[target]
        f["writes"] = round(rng.uniform(3.0, max(4.0, min(10.0, seconds / 5))), 2)
        f["gap"] = round(rng.uniform(0.0, 3.0), 2)
    elif kind == "disk-loss":
        f["down"] = round(rng.uniform(0.5, 3.0), 2)
    elif kind == "loss":
        f["duration"] = round(rng.uniform(8.0, 14.0), 2)
        f["wipe"] = rng.random() < 0.5
    elif kind == "disk-full":
        f["duration"] = round(rng.uniform(2.0, 8.0), 2)
    elif kind == "pile-up":
        f["duration"] = round(rng.uniform(1.0, 4.0), 2)
        f["order"] = rng.choice(["order-1", "order-2"])
        f["down"] = round(rng.uniform(1.0, 3.0), 2)
    elif kind == "compound":
        parts = [k for k in COMPOUND_PARTS if k in kinds] or COMPOUND_PARTS
        first_kind = rng.choice(parts)
        second_kind = rng.choice([k for k in parts if not (k == first_kind == "disk-loss")] or ["stop"])
        first = plan_one(rng, first_kind, rng.choice(deck_targets(first_kind, targets)), kinds, targets, seconds)
        rest = [t for t in deck_targets(second_kind, targets) if t != first["target"]] or [first["target"]]
        second = plan_one(rng, second_kind, rng.choice(rest), kinds, targets, seconds)
        f["target"] = "%s+%s" % (first["target"], second["target"])
        f["parts"] = [first, second]
        f["gap"] = round(rng.uniform(0.0, 1.5), 2)
    return f


def deck_targets(kind, targets):
    return [t for k, t in deck([kind], targets)] or [t for t in targets if t in REPLICAS]


def expected_seconds(f):
    if f["kind"] == "compound":
        return f["gap"] + max(expected_seconds(p) for p in f["parts"])
    if f["kind"] == "restart-order":
        return f["writes"] + f["gap"] + EXPECTED["restart-order"]
    return f.get("duration", 0) + f.get("down", 0) + EXPECTED.get(f["kind"], 0.5)


def schedule(rng, kinds, targets, seconds):
    """The faults of a run of `seconds`: each at its offset `at` (seconds after the start); the
    last one is due to end a few seconds before the load stops."""
    margin = min(5.0, seconds * 0.2)
    cards, out, misses = [], [], 0
    t = rng.uniform(0.5, 2.0)
    while misses < 20:
        if not cards:
            cards = deck(kinds, targets)
            rng.shuffle(cards)
        kind, target = cards.pop()
        f = plan_one(rng, kind, target, kinds, targets, seconds)
        if t + expected_seconds(f) > seconds - margin:
            misses += 1     # too long for what is left: a shorter one may still fit
            continue
        f["at"] = round(t, 2)
        out.append(f)
        t += expected_seconds(f) + rng.uniform(0.5, 2.0)
    return out


def describe(f):
    """A fault in one line, as planned (and as run, when it has run)."""
    if f["kind"] == "compound":
        text = "compound (%s) then %.2fs later (%s)" % (describe(f["parts"][0]), f["gap"], describe(f["parts"][1]))
    else:
        params = " ".join("%s=%s" % (k, f[k]) for k in ("duration", "hung", "after", "peer", "writes", "gap",
                                                          "down", "order", "wipe") if k in f)
        text = "%s %s%s" % (f["kind"], f["target"], (" " + params) if params else "")
    if "note" in f and f["note"]:
        text += " [%s]" % f["note"]
    return text


def wipe_loses_writes(backup_applied, witnesses, witness_count):
    """Why removing the stopped primary's data files would lose acknowledged writes, or None.

    Only the primary's disk can hold writes no peer has: those acknowledged while the backup was
    demoted, up to the `acknowledged` number every witness (order replica) recorded, until the
    backup has caught up past them. The primary then rightly refuses to lead for good
    (docs/recovery.md, "REFUSING TO LEAD"): a second fault no two-copy design survives, which the
    nemesis does not deal. `backup_applied` is the backup's `/state` applied (None: no answer);
    `witnesses` the `acknowledged` numbers of the witnesses that answered, of `witness_count`."""
    if backup_applied is None or len(witnesses) < witness_count:
        return "kept its disk: the backup or a witness did not answer, so it may hold the only copy"
    if backup_applied < max(witnesses, default=0):
        return "kept its disk: writes through %d were acknowledged while the backup (at %d) was demoted" % (
            max(witnesses), backup_applied)
    return None


def catalog_replicas(port):
    """Each catalog replica /health reports now, by name: (role, status); {} when unreadable."""
    status, body = public_get(port, "/health", timeout=2)
    replicas = body.get("replicas") if isinstance(body, dict) else None
    return {r.get("name"): (r.get("role"), r.get("status")) for r in replicas or []
            if isinstance(r, dict) and r.get("role") in ("primary", "backup")}


def primary_name(port):
    """The catalog replica /health names primary now, or None."""
    return next((name for name, (role, _) in catalog_replicas(port).items() if role == "primary"), None)


class Executor:
    """Runs planned faults against a stack (Stack or ContainerStack)."""

    def __init__(self, stack, stop, port):
        self.stack = stack
        self.stop = stop
        self.port = port

    def run(self, f):
        f["t0"] = time.monotonic()
        notes = []
        try:
            getattr(self, "do_" + f["kind"].replace("-", "_").replace("+", "_"))(f, notes)
        finally:
            f["t1"] = time.monotonic()
            f["note"] = "; ".join(n for n in notes if n)

    def wait(self, seconds):
        self.stop.wait(seconds)

    def handle(self, f, notes):
        h = self.stack.handle_of(f["target"], f.get("pick", 0.0))
        if h is None:
            notes.append("%s not running" % f["target"])
        else:
            f["handle"] = self.stack.describe(h)
        return h

    def do_kill(self, f, notes):
        h = self.handle(f, notes)
        if h is not None:
            notes.append(self.stack.kill(h))

    def do_crash(self, f, notes):
        h = self.handle(f, notes)
        if h is not None:
            notes.append(self.stack.crash(h))

    def hang(self, h, seconds):
        self.stack.pause(h)
        try:
            self.wait(seconds)
        finally:
            self.stack.resume(h)

    def do_stop(self, f, notes):
        h = self.handle(f, notes)
        if h is not None:
            self.hang(h, f["duration"])

    do_long_stop = do_stop

    def do_restart(self, f, notes):
        notes.append(self.stack.restart(f["target"]))

    def do_stop_kill(self, f, notes):
        victim = self.handle(f, notes)
        held = self.stack.handle_of(f["hung"])
        if held is not None:
            self.stack.pause(held)
        try:
            self.wait(f["duration"])
            if victim is not None:
                notes.append(self.stack.kill(victim))
            self.wait(f["after"])
        finally:
            if held is not None:
                self.stack.resume(held)

    def do_compound(self, f, notes):
        first, second = f["parts"]
        other = threading.Thread(target=self.run, args=(first,), daemon=True)
        other.start()
        self.wait(f["gap"])
        self.run(second)
        other.join()

    def do_restart_order(self, f, notes):
        notes.append(self.stack.operator_stop(f["target"]))
        self.wait(f["writes"])
        notes.append(self.stack.operator_stop(f["peer"]))
        notes.append(self.stack.operator_start(f["target"]))
        self.wait(f["gap"])
        notes.append(self.stack.operator_start(f["peer"]))

    def wipe(self, target, primary, notes):
        """The stopped target's data files removed, unless it is (or, none being named, may be)
        the primary and they hold the only copy of acknowledged writes (wipe_loses_writes)."""
        if primary is None and target.startswith("catalog-"):
            primary = target
        why = None
        if target == primary:
            answers = self.stack.internal_get_many(["/%s/state" % PEER[target]] + ["/%s/witness" % w for w in WITNESSES],
                                                   timeout=2.0)
            status, state = answers[0]
            applied = state.get("applied") if status == 200 and isinstance(state, dict) else None
            acknowledged = [body["acknowledged"] for status, body in answers[1:]
                            if status == 200 and isinstance(body, dict) and isinstance(body.get("acknowledged"), int)]
            why = wipe_loses_writes(applied, acknowledged, len(WITNESSES))
        notes.append(why or self.stack.wipe(target))

    def do_disk_loss(self, f, notes):
        primary = primary_name(self.port)
        notes.append(self.stack.operator_stop(f["target"]))
        self.wipe(f["target"], primary, notes)
        self.wait(f["down"])
        notes.append(self.stack.operator_start(f["target"]))

    def do_loss(self, f, notes):
        replicas = catalog_replicas(self.port)
        f["primary"] = next((name for name, (role, _) in replicas.items() if role == "primary"), None)
        # Whether the other replica was a backup /health called up (in sync, taking pushes):
        # only such a backup can prove that it holds every acknowledged write, and take over.
        f["backup_up"] = not replicas or any(role == "backup" and status == "up" and name != f["target"]
                                             for name, (role, status) in replicas.items())
        notes.append(self.stack.operator_stop(f["target"]))
        self.wait(f["duration"])
        if f["wipe"]:
            self.wipe(f["target"], f["primary"], notes)
        notes.append(self.stack.operator_start(f["target"]))

    def do_disk_full(self, f, notes):
        if not self.stack.can_fill():
            notes.append("no disk of its own to fill")
            return
        f["pids_before"] = self.stack.pids()
        try:
            notes.append(self.stack.fill_disk())
            self.wait(f["duration"])
        finally:
            self.stack.unfill()
        time.sleep(1.0)
        f["pids_after"] = self.stack.pids()

    def do_pile_up(self, f, notes):
        held = [h for h in (self.stack.handle_of(n) for n in ("catalog-2", "order-1", "order-2")) if h is not None]
        for h in held:
            self.stack.pause(h)
        try:
            self.wait(f["duration"])
            notes.append(self.stack.operator_stop("catalog-1"))
        finally:
            for h in held:
                self.stack.resume(h)
        victim = self.stack.handle_of(f["order"])
        if victim is not None:
            notes.append(self.stack.kill(victim))
        self.wait(f["down"])
        notes.append(self.stack.operator_start("catalog-1"))

    def do_switchover(self, f, notes):
        f["primary"] = primary_name(self.port)
        notes.append(self.stack.switchover(f["primary"]) if f["primary"] else "no primary named by /health")

    def do_partition(self, f, notes):
        h = self.handle(f, notes)
        if h is not None:
            notes.append(self.stack.partition(h, f["target"], f["duration"], self.stop))


def nemesis(ctx):
    """Runs ctx.schedule: each fault at its offset (or as soon as the one before has ended)."""
    run = Executor(ctx.stack, ctx.stop, ctx.port)
    for f in ctx.schedule:
        if ctx.stop.wait(max(0.0, ctx.t_start + f["at"] - time.monotonic())) or time.monotonic() >= ctx.deadline:
            break
        run.run(f)
        ctx.stack.after_fault()
        ctx.faults.append(f)
        if ctx.verbose:
            log("fault %6.2f-%6.2f %s" % (f["t0"] - ctx.t_start, f["t1"] - ctx.t_start, describe(f)))
