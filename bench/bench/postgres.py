"""The anchor: bench/postgres, the same two purchases as PostgreSQL 15 transactions committed
with a synchronous standby, at the same concurrency (its rows: RESULTS/postgres-*.json)."""

import os
import subprocess

from .common import BENCH, HarnessError, log


def anchor(settings, results):
    """Runs bench/postgres with this run's seconds, warm-up and concurrency; BENCH_POSTGRES=0
    leaves it out."""
    if not settings.postgres:
        log("postgres: left out (BENCH_POSTGRES=0)")
        return
    env = dict(os.environ, BENCH_SECONDS=str(settings.seconds), BENCH_WARMUP=str(settings.warmup),
               BENCH_CONNECTIONS=str(settings.connections), BENCH_WRK_THREADS=str(settings.wrk_threads))
    if subprocess.run(["bash", os.path.join(BENCH, "postgres"), results], env=env).returncode != 0:
        raise HarnessError("the PostgreSQL anchor failed")
