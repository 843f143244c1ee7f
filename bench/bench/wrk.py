"""wrk runs: a scenario's script (bench/lua/NAME.lua with report.lua appended), the warm-up and
the measured run, and the figures report.lua prints on its BENCH_RESULT line."""

import json
import os
import subprocess

from .common import LUA, HarnessError, log, tail, write_json

RESULT_PREFIX = "BENCH_RESULT "


def result_of(path):
    """The figures of a wrk output file (report.lua's line), None without one."""
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(RESULT_PREFIX):
                return json.loads(line[len(RESULT_PREFIX):])
    return None


def summary(wrk):
    """One line of a run's figures, for the log."""
    errors = wrk["errors"]
    rps = wrk["requests"] / (wrk["duration_us"] / 1e6)
    return "  %10.0f req/s  p50 %.2f ms  p99 %.2f ms  non-2xx %d  socket errors %d" % (
        rps, wrk["p50_us"] / 1000, wrk["p99_us"] / 1000, errors["status"],
        errors["connect"] + errors["read"] + errors["write"] + errors["timeout"])


class Meter:
    """Runs wrk for the scenarios of one bench run; each result in RESULTS/NAME.json."""

    def __init__(self, settings, work, results):
        self.settings, self.scripts, self.results = settings, os.path.join(work, "lua"), results
        os.makedirs(self.scripts, exist_ok=True)

    def script(self, name, lua):
        """WORK/lua/NAME.lua: bench/lua/LUA.lua and report.lua."""
        path = os.path.join(self.scripts, name + ".lua")
        with open(path, "w") as out:
            for part in (lua, "report"):
                with open(os.path.join(LUA, part + ".lua")) as f:
                    out.write(f.read())
        return path

    def start(self, script, url, seconds, output, connections=None, threads=None, timeout="5s", latency=True,
              environment=None):
        """wrk in the background, its output in the file `output` (None: discarded); timeout
        None keeps wrk's own (2 s)."""
        command = ["wrk", "-t%d" % (threads or self.settings.wrk_threads),
                   "-c%d" % (connections or self.settings.connections), "-d%ds" % seconds]
        command += (["--timeout", timeout] if timeout else []) + (["--latency"] if latency else [])
        command += ["-s", script, url]
        out = open(output, "w") if output else subprocess.DEVNULL
        try:
            return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                    env=dict(os.environ, **(environment or {})))
        finally:
            if output:
                out.close()

    def run(self, what, script, url, seconds, output, **options):
        """wrk to its end; HarnessError naming `what` (and the output's last lines) when it fails."""
        if self.start(script, url, seconds, output, **options).wait() != 0:
            raise HarnessError("wrk failed (%s)%s" % (what, ": " + tail(output) if output else ""))

    def measure(self, name, base, path, lua, extra=None, environment=None):
        """A scenario: its warm-up (BENCH_WARMUP), then the measured run (BENCH_SECONDS)."""
        settings = self.settings
        script = self.script(name, lua)
        raw, warm = self.output(name), self.output(name + ".warmup")
        open(warm, "w").close()
        if settings.warmup > 0:
            log("%s: warm-up %ds" % (name, settings.warmup))
            self.run("warm-up of " + name, script, base + path, settings.warmup, warm, environment=environment)
        log("%s: measuring %ds at %d connections" % (name, settings.seconds, settings.connections))
        self.run(name, script, base + path, settings.seconds, raw, environment=environment)
        self.record(name, path, raw, warm, extra)

    def output(self, name):
        return os.path.join(self.results, name + ".txt")

    def record(self, name, path, raw, warm, extra=None):
        """RESULTS/NAME.json from wrk's outputs (the measured run's and the warm-up's), and a
        summary line."""
        wrk = result_of(raw)
        if wrk is None:
            raise HarnessError("no result line in " + raw)
        write_json(os.path.join(self.results, name + ".json"), dict(
            {"name": name, "path": path, "wrk": wrk, "warmup": result_of(warm), "loadavg": os.getloadavg()[0]},
            **(extra or {})))
        log(summary(wrk))
