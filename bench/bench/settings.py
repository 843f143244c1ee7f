"""The environment's knobs (bench/run's docstring lists them), read and checked once."""

import os
import re
from dataclasses import dataclass

from .common import REPO, HarnessError


@dataclass(frozen=True)
class Settings:
    seconds: int
    warmup: int
    connections: int
    overload_connections: int
    wrk_threads: int
    probe_stock: int
    threads: int
    out: str
    keep: bool
    bin: str
    scratch: str
    containers: bool
    scale: bool
    postgres: bool


def positive(environ, name, default):
    value = environ.get(name, str(default))
    if not re.fullmatch(r"[1-9][0-9]*", value):
        raise HarnessError("%s must be a positive integer (got '%s')" % (name, value))
    return int(value)


def settings_from(environ=os.environ):
    """Settings from the environment; a knob that is not a number as asked raises HarnessError."""
    warmup = environ.get("BENCH_WARMUP", "2")
    if not re.fullmatch(r"[0-9]+", warmup):
        raise HarnessError("BENCH_WARMUP must be a non-negative integer")
    connections = positive(environ, "BENCH_CONNECTIONS", 32)
    default_out = os.path.join(environ.get("BAZAR_VAR") or os.path.join(REPO, "var"), "bench")
    return Settings(
        seconds=positive(environ, "BENCH_SECONDS", 10),
        warmup=int(warmup),
        connections=connections,
        overload_connections=positive(environ, "BENCH_OVERLOAD_CONNECTIONS", 1500),
        # wrk needs a connection per thread.
        wrk_threads=min(positive(environ, "BENCH_WRK_THREADS", 2), connections),
        probe_stock=positive(environ, "BENCH_PROBE_STOCK", 200),
        threads=positive(environ, "BAZAR_THREADS", 64),
        out=os.path.abspath(environ.get("BENCH_OUT") or default_out),
        keep=environ.get("BENCH_KEEP", "0") == "1",
        bin=environ.get("BAZAR_BIN", ""),
        scratch=environ.get("BENCH_SCRATCH", ""),
        containers=environ.get("BENCH_CONTAINERS", "1") != "0",
        scale=environ.get("BENCH_SCALE", "1") != "0",
        postgres=environ.get("BENCH_POSTGRES", "1") != "0",
    )
