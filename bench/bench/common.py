"""The repository's paths, the books the scenarios use, logging, the harness's failure, and small
helpers: commands with a log, free ports, /proc, JSON files, figures."""

import json
import os
import socket
import subprocess
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH)
BAZARCTL = os.path.join(REPO, "nginx", "bazarctl")
LUA = os.path.join(BENCH, "lua")

BIG_STOCK = 1000000
PURCHASE_BOOK = 1
PROBE_BOOK = 3
BOOKS = range(1, 8)
CACHE_CAPACITY = 10000
# The catalog sizes of the scale scenarios.
SCALE_SIZES = (7, 10000, 100000)


class HarnessError(Exception):
    """The harness itself failed (a tool, the stack, a request it needs): bench/run exits 1."""


def log(message):
    print("bench: " + message, file=sys.stderr, flush=True)


def tail(path, lines=3):
    """The last lines of a file, for an error message."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip("\n")
    except OSError:
        return ""


def run_logged(command, log_path, failure, env=None, cwd=None, tail_lines=None):
    """Runs a command with its output in log_path; when it fails, shows the log (its last
    tail_lines, or all of it) on stderr and raises HarnessError(failure)."""
    with open(log_path, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    if done.returncode != 0:
        with open(log_path, errors="replace") as f:
            sys.stderr.write("".join(f.readlines()[-tail_lines:] if tail_lines else f.readlines()))
        raise HarnessError(failure)


def free_port(taken=()):
    """A TCP port of 127.0.0.1 free right now, none of `taken`."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def proc_status_kib(pid, field):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM), None when it cannot be read."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                name, _, value = line.partition(":")
                if name == field:
                    return int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return None


def read_pid(path):
    """The pid in a pid file (digits only, as `tr -dc 0-9` reads it)."""
    with open(path) as f:
        return int("".join(c for c in f.read() if c.isdigit()))


def write_json(path, value):
    with open(path, "w") as f:
        f.write(json.dumps(value) + "\n")


def load_json(path):
    """The JSON in a file, None when there is no such file."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fmt(x, digits=2):
    """A figure for the report, "-" when there is none."""
    return "-" if x is None else f"{x:.{digits}f}"
