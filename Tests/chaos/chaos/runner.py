"""One run: settings from the environment, the stack started and stocked, the clients and the
nemesis for CHAOS_SECONDS, then supervision, availability, quiescence, the final state and
the checks; and --check FILE, the checks again on a written history."""

import json
import os
import random
import signal
import socket
import tempfile
import threading
import time
import traceback

from . import nemesis as nem
from .checker import Checker
from .common import REPO, TIERS, Context, Interrupted, env_float, env_int, log
from .containers import ContainerStack
from .final import final_state, read_paged, wait_quiescence
from .history import Recorder, timed_call
from .report import summarize, verdict
from .stack import Stack
from .supervision import StrayMonitor, await_supervision, check_pid_files, probe_writes
from .web import Client
from .workload import adder, admin, buyer, reader

# Fault sets CHAOS_FAULTS may name besides "all", "none" and a comma list of kinds.
CLASSIC = ["kill", "crash", "stop", "restart", "stop+kill", "partition"]
NEW_TOPICS = ["chaos topic %d" % i for i in range(8)]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fault_kinds(kind):
    """CHAOS_FAULTS as a list of kinds of stack class `kind` (None: a bad value, said)."""
    value = os.environ.get("CHAOS_FAULTS", "all").strip().lower()
    if value in ("none", "off", "0", ""):
        return []
    if value == "all":
        return list(kind.KINDS)
    if value == "classic":
        return [k for k in CLASSIC if k in kind.KINDS]
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    bad = [k for k in kinds if k not in kind.KINDS]
    if bad:
        log("unknown CHAOS_FAULTS kind(s): %s (use %s, classic, all or none)" % (",".join(bad), ",".join(kind.KINDS)))
        return None
    return kinds


def main():
    seed = os.environ.get("CHAOS_SEED") or str(random.SystemRandom().randrange(1, 10**9))
    seconds = env_float("CHAOS_SECONDS", 60)
    mode = os.environ.get("CHAOS_STACK", "processes").strip()
    if mode not in ("processes", "containers"):
        log("unknown CHAOS_STACK %r (processes or containers)" % mode)
        return 2
    kind = ContainerStack if mode == "containers" else Stack
    kinds = fault_kinds(kind)
    if kinds is None:
        return 2
    targets = [t.strip() for t in os.environ.get("CHAOS_TARGETS", ",".join(kind.TARGETS)).split(",") if t.strip()]
    bad = [t for t in targets if t not in kind.TARGETS + TIERS]
    if bad or not targets:
        log("bad CHAOS_TARGETS: %s" % ",".join(bad))
        return 2
    if kinds and not nem.deck(kinds, targets):
        log("CHAOS_FAULTS %s has nothing to hit among CHAOS_TARGETS %s" % (",".join(kinds), ",".join(targets)))
        return 2

    ctx = Context()
    ctx.seed = seed
    ctx.timeout = env_float("CHAOS_TIMEOUT", 5)
    ctx.targets = targets
    ctx.verbose = os.environ.get("CHAOS_VERBOSE", "") not in ("", "0")
    ctx.quiesce_bound = env_float("CHAOS_QUIESCE_SECONDS", 60)
    ctx.stop = threading.Event()
    ctx.lock = threading.Lock()
    ctx.faults = []
    if mode == "containers":
        try:
            project, ctx.port, ctx.token = (os.environ["CHAOS_COMPOSE_PROJECT"], int(os.environ["CHAOS_PORT"]),
                                            os.environ["CHAOS_TOKEN"])
            with open(os.environ.get("CHAOS_INTERNAL_SECRET_FILE",
                                     os.path.join(REPO, "var", "secrets", "internal_secret"))) as f:
                secret = f.readline().strip()
        except (KeyError, ValueError, OSError) as e:
            log("CHAOS_STACK=containers needs CHAOS_COMPOSE_PROJECT, CHAOS_PORT, CHAOS_TOKEN and the internal "
                "secret (CHAOS_INTERNAL_SECRET_FILE): %s" % e)
            return 2
        ctx.stack = ContainerStack(project, ctx.port, ctx.token, secret)
        where = "compose project %s on 127.0.0.1:%d" % (project, ctx.port)
    else:
        bin_dir = os.path.abspath(os.environ.get("CHAOS_BIN") or os.path.join(REPO, ".build", "release"))
        for b in ("bazar-front", "bazar-catalog", "bazar-order"):
            if not os.access(os.path.join(bin_dir, b), os.X_OK):
                log("%s/%s not found: build first (swift build -c release) or set CHAOS_BIN" % (bin_dir, b))
                return 2
        ctx.port = free_port()
        ctx.token = "chaos-" + "%032x" % random.SystemRandom().getrandbits(128)
        var = tempfile.mkdtemp(prefix="bazar-chaos-")
        os.chmod(var, 0o755)  # nginx's workers (nobody) traverse it when run as root
        ctx.stack = Stack(var, ctx.port, ctx.token, bin_dir, disk_mb=env_int("CHAOS_DISK_MB", 256))
        if "disk-full" in kinds and not ctx.stack.mount():
            kinds.remove("disk-full")
        where = "BAZAR_VAR=%s%s BAZAR_PORT=%d BAZAR_BIN=%s" % (
            var, " (a %d MiB tmpfs)" % ctx.stack.disk_mb if ctx.stack.mounted else "", ctx.port, bin_dir)
    ctx.fault_kinds = kinds
    ctx.schedule = nem.schedule(random.Random("%s-nemesis" % seed), kinds, targets, seconds) if kinds else []

    log("seed %s (replay with CHAOS_SEED=%s)  seconds %g  faults %s  targets %s" % (
        seed, seed, seconds, ",".join(kinds) or "none", ",".join(targets)))
    log("stack: " + where)
    log("fault schedule (%d):" % len(ctx.schedule))
    for f in ctx.schedule:
        log("  at %6.2f s  %s" % (f["at"], nem.describe(f)))

    def on_term(signum, frame):
        raise Interrupted("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    threads = []
    try:
        if not ctx.stack.start():
            return 2
        return run(ctx, seconds, threads)
    except (KeyboardInterrupt, Interrupted) as e:
        log("interrupted (%s); cleaning up" % (str(e) or "Ctrl-C"))
        return 130
    finally:
        ctx.stop.set()
        for t in threads:
            t.join(timeout=ctx.timeout + 5)
        ctx.stack.cont_all()
        ctx.stack.finish()


def stock(ctx):
    """The catalog before the run: the books there (one kept low so that out_of_stock races
    happen, the others plenty), CHAOS_BOOKS more added in eight topics of their own. Returns
    an error message, or None."""
    stack = ctx.stack
    answers = stack.internal_get_many(["/catalog-1/info/%d" % b for b in range(1, 100)])
    ids = []
    for b, (status, _) in zip(range(1, 100), answers):
        if status != 200:
            break
        ids.append(b)
    if not ids:
        return "no books on catalog-1"
    ctx.low_book = ids[-1]
    setup = Client(ctx.port, 30)
    auth = {"Authorization": "Bearer " + ctx.token, "Content-Type": "application/json"}
    try:
        for b in ids:
            status, _, body, err = setup.call("PUT", "/update/%d" % b, body={"stock": 5 if b == ctx.low_book else 3000},
                                              headers=auth)
            if status != 200:
                return "setup update of book %d failed: %s %s %s" % (b, status, body, err)
        rng = random.Random("%s-setup" % ctx.seed)
        count = env_int("CHAOS_BOOKS", 200)
        for first in range(0, count, 50):
            batch = [{"title": "chaos %s setup-%d" % (ctx.seed, i), "topic": rng.choice(NEW_TOPICS),
                      "price": round(rng.uniform(5, 60), 2), "stock": rng.randint(100, 1000)}
                     for i in range(first, min(count, first + 50))]
            status, _, body, err = setup.call("POST", "/books", body=batch,
                                              headers=dict(auth, **{"Idempotency-Key": "chaos-%s-setup-%d" % (ctx.seed, first)}))
            if status != 201 or not isinstance(body, dict) or not isinstance(body.get("books"), list):
                return "setup addition failed: %s %s %s" % (status, json.dumps(body)[:200], err)
            ids += [b["id"] for b in body["books"]]
    finally:
        setup.close()
    ok, health = wait_quiescence(ctx, 15)
    if not ok:
        return "stack not level before the run: %s" % json.dumps(health)
    ctx.initial = {}
    for b, (status, body) in zip(ids, stack.internal_get_many(["/catalog-1/info/%d" % b for b in ids])):
        if status != 200:
            return "cannot read book %d: %s %s" % (b, status, body)
        ctx.initial[b] = body
    ctx.book_ids = list(ids)
    ctx.topics = sorted({b["topic"] for b in ctx.initial.values()})
    # A deployment that runs already has orders from before: the checks judge only the orders
    # numbered after them (numbers only grow), those of this run's clients.
    takes, err = read_paged(stack, "/catalog-primary/takes", time.monotonic() + 20)
    if err:
        return "cannot read the takes: %s" % err
    ctx.orders_before = max((t["number"] for t in takes), default=0)
    ctx.acked_orders = []
    return None


def run(ctx, seconds, threads):
    stack = ctx.stack
    problem = stock(ctx)
    if problem:
        log(problem)
        return 2
    readers, buyers = env_int("CHAOS_READERS", 4), env_int("CHAOS_BUYERS", 4)
    admins, adders = env_int("CHAOS_ADMINS", 1), env_int("CHAOS_ADDERS", 1)
    ctx.t_start = time.monotonic()
    ctx.deadline = ctx.t_start + seconds
    ctx.recorder = Recorder(ctx.t_start)

    def guarded(fn, *args):
        def body():
            try:
                fn(*args)
            except Exception:
                traceback.print_exc()
                ctx.thread_errors.append(fn.__name__)
        return body
    ctx.thread_errors = []
    clients = [threading.Thread(target=guarded(fn, ctx, i), daemon=True, name="%s-%d" % (fn.__name__, i))
               for fn, n in ((reader, readers), (buyer, buyers), (admin, admins), (adder, adders)) for i in range(n)]
    nemesis = threading.Thread(target=guarded(nem.nemesis, ctx), daemon=True, name="nemesis") if ctx.schedule else None
    monitor_stop = threading.Event()
    monitor = StrayMonitor(stack, monitor_stop)
    log("running %d readers, %d buyers, %d admin(s), %d adder(s) for %g s over %d books%s" % (
        readers, buyers, admins, adders, seconds, len(ctx.book_ids), ", with the nemesis" if nemesis else ""))
    threads.extend(clients + ([nemesis] if nemesis else []))
    for t in threads:
        t.start()
    monitor.start()
    try:
        return settle_and_check(ctx, clients, nemesis, monitor)
    finally:
        monitor_stop.set()


def settle_and_check(ctx, clients, nemesis, monitor):
    stack = ctx.stack
    next_report = ctx.t_start + 10
    while time.monotonic() < ctx.deadline:
        time.sleep(min(0.5, max(0.0, ctx.deadline - time.monotonic())))
        if time.monotonic() >= next_report:
            next_report += 10
            log("  %3.0f s: %d ops, %d faults" % (time.monotonic() - ctx.t_start, len(ctx.recorder.ops),
                                                  len(ctx.faults)))
    ctx.stop.set()
    if nemesis:
        nemesis.join(timeout=30)
    for t in clients:
        t.join(timeout=ctx.timeout + 5)
    ctx.run_seconds = time.monotonic() - ctx.t_start
    alive = [t.name for t in clients + ([nemesis] if nemesis else []) if t.is_alive()]
    if alive:
        log("threads still running after the run: %s" % ",".join(alive))

    # Healed: nothing paused or cut off, the disk free. Nothing started by the harness yet.
    stack.cont_all()
    bound = env_float("CHAOS_RESTART_SECONDS", 60)
    not_back, start_failed = await_supervision(ctx, bound)
    write_bound = env_float("CHAOS_WRITE_SECONDS", 60)
    write_after = probe_writes(ctx, write_bound)
    log("first write served %s after every process ran again" % (
        "%.2f s" % write_after if write_after is not None else "NEVER within %g s" % write_bound))
    t_q = time.monotonic()
    ctx.quiet, ctx.quiesce_health = wait_quiescence(ctx, ctx.quiesce_bound)
    log("quiescence: %s after %.1f s" % ("reached" if ctx.quiet else "NOT reached", time.monotonic() - t_q))
    monitor.sample()
    ctx.supervision = {"not_back": not_back, "start_failed": start_failed, "bound": bound,
                       "strays": monitor.strays, "pid_files": check_pid_files(ctx),
                       "write_after_heal": write_after, "write_bound": write_bound}

    # A last public read of every book (joins the history: must show every acknowledged write).
    final_client = Client(ctx.port, ctx.timeout)
    for b in list(ctx.book_ids):
        timed_call(final_client, ctx.recorder, "final", "info", "GET", "/info/%d" % b, book=b, bypass=False)
    final_client.close()
    final = final_state(ctx)
    ops = sorted(ctx.recorder.ops, key=lambda op: op["id"])

    checker = Checker(ctx, ops, final)
    checker.run()
    summarize(ctx, ops)
    takes = final.get("takes") or []
    log("final: %d books, %d takes; order-1 %s orders, order-2 %s orders" % (
        len(final["books1"]), len(takes), len(final.get("order-1") or []), len(final.get("order-2") or [])))
    if ctx.thread_errors:
        checker.violation("harness", "client thread(s) crashed: %s" % ",".join(ctx.thread_errors))
    history = os.environ.get("CHAOS_HISTORY")
    if history:
        write_history(ctx, ops, final, history)
    return verdict(checker)


def write_history(ctx, ops, final, path):
    def rel(d):
        return dict(d, t0=d["t0"] - ctx.t_start, t1=d.get("t1", d["t0"]) - ctx.t_start)
    with open(path, "w") as f:
        for op in ops:
            f.write(json.dumps(rel(op)) + "\n")
        for fault in ctx.faults:
            f.write(json.dumps({"fault": rel(fault)}, default=str) + "\n")
        sup = dict(ctx.supervision, strays=[dict(s, at=s["at"] - ctx.t_start) for s in ctx.supervision["strays"]])
        f.write(json.dumps({"initial": ctx.initial, "final": final, "seed": ctx.seed, "quiet": ctx.quiet,
                            "quiesce_health": ctx.quiesce_health, "quiesce_bound": ctx.quiesce_bound,
                            "supervision": sup}) + "\n")
    log("history written to %s" % path)


def recheck(path):
    """Runs the checks again on a history written by CHAOS_HISTORY (times relative to the start)."""
    ctx = Context()
    ctx.t_start, ctx.faults, ops, tail = 0.0, [], [], None
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if "kind" in d:
                ops.append(d)
            elif "fault" in d:
                ctx.faults.append(d["fault"])
            else:
                tail = d
    if tail is None:
        log("%s has no final line (initial state, final state): cannot judge it" % path)
        return 2

    def ints(m):
        return {int(k): v for k, v in m.items()}
    ctx.initial = ints(tail["initial"])
    ctx.book_ids = sorted(ctx.initial)
    ctx.seed, ctx.quiet = tail.get("seed"), tail.get("quiet", True)
    ctx.quiesce_health, ctx.quiesce_bound = tail.get("quiesce_health"), tail.get("quiesce_bound", 0)
    ctx.supervision = tail.get("supervision") or {}
    final = tail["final"]
    final["books1"], final["books2"] = ints(final["books1"]), ints(final["books2"])
    for op in ops:
        op.setdefault("key", None)
    checker = Checker(ctx, ops, final)
    checker.run()
    log("re-checked %d ops and %d faults from %s" % (len(ops), len(ctx.faults), path))
    return verdict(checker)
