"""What the harness watches besides the answers: every role acted by one live process at a
time (sampled each second through the run), every process that died back within a bound
without the harness's help, and writes served again once the faults are healed."""

import os
import threading
import time

from .common import log
from .history import timed_call
from .web import Client

STRAY_SAMPLES = 3   # a role with two live instances in this many samples in a row is a violation


class StrayMonitor(threading.Thread):
    """Samples stack.instances() every second: a role acted by more than one live process for
    STRAY_SAMPLES samples in a row (a restart's old process on its way out is not one) is
    recorded once per set of pids."""

    def __init__(self, stack, stop):
        super().__init__(daemon=True, name="stray-monitor")
        self.stack = stack
        self.stop = stop
        self.streak = {}
        self.strays = []
        self.reported = set()

    def sample(self):
        instances = self.stack.instances()
        if instances is None:
            return
        for role, pids in instances.items():
            if len(pids) <= 1:
                self.streak.pop(role, None)
                continue
            first, count = self.streak.get(role, (time.monotonic(), 0))
            self.streak[role] = (first, count + 1)
            key = (role, tuple(sorted(pids)))
            if count + 1 >= STRAY_SAMPLES and key not in self.reported:
                self.reported.add(key)
                self.strays.append({"role": role, "pids": sorted(pids), "at": first, "samples": count + 1})

    def run(self):
        while not self.stop.wait(1.0):
            self.sample()


def await_supervision(ctx, bound):
    """After the faults: what the nemesis stopped as an operator is started by it (bazarctl
    start); what died otherwise must run again within `bound` s by the stack's own means.
    Returns (not back, start failures); then starts what is still down so that the final state
    can be read."""
    stack = ctx.stack
    stopped = [n for n in stack.down() if operator_stopped(ctx, n)]
    start_failed = []
    for name in stopped:
        note = stack.operator_start(name)
        if note:
            start_failed.append((name, note))
    deadline = time.monotonic() + bound
    while stack.down() and time.monotonic() < deadline:
        time.sleep(0.25)
    not_back = [n for n in stack.down() if n not in dict(start_failed)]
    if not_back:
        log("not running %g s after the faults: %s; the harness starts them now" % (bound, ",".join(not_back)))
    started = stack.start_down()
    if started:
        time.sleep(1.0)
    return not_back, start_failed


def operator_stopped(ctx, name):
    """Whether `name` is down because an operator command stopped it (bazarctl leaves
    run/NAME.stopped; the supervisor leaves such a process alone)."""
    var = getattr(ctx.stack, "var", None)
    return var is not None and os.path.exists(os.path.join(var, "run", name + ".stopped"))


def check_pid_files(ctx):
    """At the end, twice a second apart: the pid file of each role names its one live instance."""
    stack = ctx.stack
    found = []
    for _ in range(2):
        instances = stack.instances()
        if instances is None:
            return []
        files = stack.pid_files()
        found = [{"role": role, "pid_file": files.get(role), "instances": pids}
                 for role, pids in sorted(instances.items()) if pids != [files.get(role)]]
        if not found:
            return []
        time.sleep(1.0)
    return found


def probe_writes(ctx, bound):
    """Once everything runs: an update (stock_delta 1, recorded in the history) every quarter
    second until one is answered 200. Returns the seconds it took, or None past `bound`."""
    client = Client(ctx.port, ctx.timeout)
    auth = {"Authorization": "Bearer " + ctx.token, "Content-Type": "application/json"}
    t0 = time.monotonic()
    book = ctx.low_book
    try:
        while time.monotonic() - t0 < bound:
            op = timed_call(client, ctx.recorder, "probe", "update", "PUT", "/update/%d" % book,
                            body={"stock_delta": 1}, headers=auth, book=book)
            if op["status"] == 200:
                return round(time.monotonic() - t0, 2)
            time.sleep(0.25)
        return None
    finally:
        client.close()
