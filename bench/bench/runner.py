"""One bench run: the tools, the stack, every scenario in turn, the report; whatever happens,
what it started is taken down."""

import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile

from . import containers, scale, scenarios
from .baseline import Baseline
from .common import REPO, HarnessError, free_port, log
from .postgres import anchor
from .report import report
from .settings import settings_from
from .stack import Stack
from .tools import ensure_tools, release_binaries
from .wrk import Meter


def output_of(command):
    """A command's output (stdout and stderr), stripped; None when it cannot run."""
    try:
        done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return done.stdout.strip()
    except OSError:
        return None


def meta(settings, nginx_workers, body_bytes, loadavg_start):
    """The run's settings and machine, for the report's header and bench.json."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {
        "date": output_of(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "commit": commit.stdout.strip(),
        "host": platform.node(), "cpus": os.cpu_count(),
        "seconds": settings.seconds, "warmup_seconds": settings.warmup,
        "connections": settings.connections, "wrk_threads": settings.wrk_threads,
        "responder_threads": settings.threads, "nginx_workers": nginx_workers,
        "body_bytes": body_bytes, "wrk": (output_of(["wrk", "-v"]) or "").split("\n")[0],
        "loadavg_start": loadavg_start, "loadavg_end": list(os.getloadavg()),
        "nginx": output_of(["nginx", "-v"]),
    }


class Run:
    """The run's temporary directory, its ports and token, and what it starts."""

    def __init__(self, settings, binaries):
        self.settings = settings
        self.work = tempfile.mkdtemp(prefix="bazar-bench.", dir=os.environ.get("TMPDIR") or "/tmp")
        os.chmod(self.work, 0o755)     # nginx workers (the stack's user) traverse it
        self.results = os.path.join(self.work, "results")
        os.makedirs(self.results)
        port = free_port()
        token = "bench-" + secrets.token_hex(12)
        self.stack = Stack(os.path.join(self.work, "stack"), port, binaries, token, settings.threads)
        self.baseline = Baseline(self.work, free_port({port}), settings.threads)
        self.deployment = None
        self.meter = Meter(settings, self.work, self.results)
        self.finished = False

    def taken_ports(self):
        return {self.stack.port, self.baseline.port}

    def measure(self):
        """Every scenario in turn, then the report."""
        settings, stack, meter = self.settings, self.stack, self.meter
        os.makedirs(settings.out, exist_ok=True)
        with open("/proc/loadavg") as f:
            loadavg_start = [float(x) for x in f.read().split()[:3]]
        log("stack state in %s, port %d; baseline port %d; %d threads per responder; load average %s" % (
            stack.var, stack.port, self.baseline.port, settings.threads, loadavg_start))
        body_bytes = self.start()
        scenarios.measure_baseline(meter, self.baseline, "baseline", body_bytes)
        scenarios.reads(meter, stack, body_bytes)
        scenarios.purchases(meter, stack)
        # The anchor right after Bazar's purchases, while the stack idles, so that the ratios
        # compare minutes of the same machine.
        anchor(settings, self.results)
        scenarios.oversell_probe(meter, stack)
        scenarios.mix(meter, stack)
        scenarios.cache_fill(meter, stack)
        scenarios.overload(meter, stack)
        scenarios.cache_miss(meter, stack, self.work)
        if settings.scale:
            scale.scale(meter, stack, free_port(self.taken_ports()), self.work)
        else:
            log("scale: left out (BENCH_SCALE=0)")
        self.measure_containers()
        # The baseline a second time, last: ratios use the mean of both runs, and their spread
        # shows how steady the machine was.
        scenarios.measure_baseline(meter, self.baseline, "baseline-end", body_bytes)
        report(self.results, settings.out, meta(settings, stack.nginx_workers(), body_bytes, loadavg_start))
        self.finished = True

    def start(self):
        """The stack, then the baseline mimicking its /info/6 (read before any write): that
        body's size."""
        stack = self.stack
        stack.start(os.path.join(self.work, "bazarctl-up.log"), "the stack did not start")
        body_path = os.path.join(self.work, "body.json")
        with open(body_path, "wb") as f:
            f.write(stack.client.get("/info/6"))
        if stack.client.status("GET", "/info/6") != 200:
            raise HarnessError("GET /info/6 is not 200")
        self.baseline.start(stack, body_path)
        return os.path.getsize(body_path)

    def measure_containers(self):
        """The container deployment's scenarios, where Docker runs and BENCH_CONTAINERS is not 0."""
        if not self.settings.containers:
            log("containers: left out (BENCH_CONTAINERS=0)")
        elif not containers.docker_runs():
            log("warning: Docker cannot run here: the container deployment is not measured")
        else:
            self.deployment = containers.Deployment("bazarbench%d" % os.getpid(), free_port(self.taken_ports()),
                                                    self.stack.token, self.settings.threads)
            containers.measure(self.meter, self.deployment, self.work)

    def clean_up(self):
        """Everything started taken down; the temporary directory removed, or kept (and named)
        when the harness failed or BENCH_KEEP=1."""
        self.stack.stop()
        if self.deployment is not None:
            self.deployment.down()
        self.baseline.stop()
        if self.finished and not self.settings.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log("temporary state kept in " + self.work)


def terminated(signum, frame):
    raise SystemExit(143)


def main():
    """bench/run: 0 when the measurement ran (targets met or not), 1 when the harness failed,
    130 or 143 when interrupted."""
    signal.signal(signal.SIGTERM, terminated)
    if os.path.isdir("/opt/swift/usr/bin"):    # swift may live outside the default PATH
        os.environ["PATH"] += ":/opt/swift/usr/bin"
    run = None
    try:
        settings = settings_from()
        ensure_tools()
        run = Run(settings, release_binaries(settings))
        run.measure()
        return 0
    except HarnessError as error:
        print("bench: error: %s" % error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if run is not None:
            run.clean_up()

