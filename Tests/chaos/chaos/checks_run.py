"""Checks of how the stack ran rather than what it answered: supervision (what died came back,
one instance per role), a full disk stopped no process, failover when the primary was lost,
writes available again after the faults."""

import bisect

# A write answered in this state was served: the stack was available for it.
SERVED = {200, 201, 409}
# After a fault has ended and this long has passed with no other fault, the last
# RECOVERY_PROBE seconds of that quiet time must have served writes (if any were tried).
RECOVERY_SECONDS = 15.0
RECOVERY_PROBE = 3.0
# Promise 7: writes acknowledged again within 5 s of losing the primary (+ 2 s for the
# clients' own pace and the probe of a loss to start).
FAILOVER_SECONDS = 7.0


class RunChecks:
    def check_supervision(self):
        s = getattr(self.ctx, "supervision", None) or {}
        for name in s.get("not_back", []):
            self.violation("not-restarted", "%s died and was not running %g s after the faults ended: the stack's "
                           "supervisor never started it again (the harness started it to read the final state)"
                           % (name, s.get("bound", 0)))
        for name, note in s.get("start_failed", []):
            self.violation("not-restarted", "%s, stopped by an operator action, would not start again: %s"
                           % (name, note))
        for stray in s.get("strays", []):
            self.violation("stray-process", "%s: %d live instances at %.1f s (pids %s), for at least %d samples "
                           "a second apart" % (stray["role"], len(stray["pids"]), self.rel(stray["at"]),
                                               stray["pids"], stray["samples"]))
        for entry in s.get("pid_files", []):
            self.violation("pid-file", "%s: run/%s.pid names %s, the live instance(s): %s"
                           % (entry["role"], entry["role"], entry["pid_file"], entry["instances"]))
        if s.get("write_after_heal", 0) is None:
            self.violation("unavailable", "no write succeeded within %g s once every fault was healed and every "
                           "process ran" % s.get("write_bound", 0))

    def check_disk_full(self):
        """A full disk never stops a process (API.md, Operating it)."""
        for f in self.ctx.faults:
            if f["kind"] != "disk-full" or "pids_after" not in f:
                continue
            died = sorted(n for n, pid in f["pids_before"].items() if pid and f["pids_after"].get(n) != pid)
            if died:
                self.violation("disk-full-crash", "during a full disk [%.1f..%.1f] %s stopped (pids before %s, "
                               "after %s)" % (self.rel(f["t0"]), self.rel(f["t1"]), ", ".join(died),
                                              {n: f["pids_before"][n] for n in died},
                                              {n: f["pids_after"].get(n) for n in died}))

    def check_recovery(self):
        """Writes are served again after a fault: once RECOVERY_SECONDS have passed since a fault
        ended with no other fault begun, writes tried in the last RECOVERY_PROBE seconds of that
        time include a served one (200, 201, 409)."""
        clients = [op for op in self.ops if op["thread"] not in ("final", "probe")]
        if not clients or not self.ctx.faults:
            return
        end = max(op["t1"] for op in clients)
        starts = sorted(f["t0"] for f in self.ctx.faults)
        writes = sorted((op["t0"], op["status"]) for op in clients if op["kind"] in ("purchase", "update", "add"))
        times = [t for t, _ in writes]
        for f in self.ctx.faults:
            healed = f["t1"] + RECOVERY_SECONDS
            if healed > end or bisect.bisect_right(starts, healed) > bisect.bisect_right(starts, f["t1"]):
                continue
            tried = [status for _, status in writes[bisect.bisect_left(times, healed - RECOVERY_PROBE):
                                                    bisect.bisect_left(times, healed)]]
            if tried and not any(status in SERVED for status in tried):
                self.violation("unavailable", "%d writes in [%.1f..%.1f], %g s after %s %s ended with no fault since, "
                               "and none served" % (len(tried), self.rel(healed - RECOVERY_PROBE), self.rel(healed),
                                                    RECOVERY_SECONDS, f["kind"], f["target"]))

    def check_failover(self):
        """Promise 7: while the primary is gone (a loss fault of the replica /health named
        primary), writes are acknowledged again within 5 s, unless /health showed the backup
        not up when the primary went (catching up after its own fault: it cannot prove that it
        holds every acknowledged write, and must not take over)."""
        writes = sorted((op["t0"], op["t1"], op["status"]) for op in self.ops
                        if op["kind"] in ("purchase", "update", "add"))
        for f in self.ctx.faults:
            if f["kind"] != "loss" or f.get("primary") != f["target"] or not f.get("backup_up", True):
                continue
            start, end = f["t0"] + FAILOVER_SECONDS, f["t1"] - 0.5
            if end - start < 1.0:
                continue
            tried = [w for w in writes if start <= w[0] < end]
            if tried and not any(w[2] in (200, 201) for w in tried):
                self.violation("no-failover", "the primary %s was gone [%.1f..%.1f] and no write in [%.1f..%.1f] "
                               "was acknowledged (%d tried): no backup took over within %g s"
                               % (f["target"], self.rel(f["t0"]), self.rel(f["t1"]), self.rel(start), self.rel(end),
                                  len(tried), FAILOVER_SECONDS - 2))
