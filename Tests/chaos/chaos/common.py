"""Constants, the environment, logging and processes as /proc shows them."""

import os
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BAZARCTL = os.path.join(REPO, "nginx", "bazarctl")
# The header nginx's internal listener checks for the deployment's secret.
SECRET_HEADER = "X-Bazar-Secret"


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_float(name, default):
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


# BAZAR_FRONTS (passed on to bazarctl) runs several fronts: front, front-2 ... front-N.
FRONTS = ["front"] + ["front-%d" % i for i in range(2, env_int("BAZAR_FRONTS", 1) + 1)]
REPLICAS = ["catalog-1", "catalog-2", "order-1", "order-2"]
TIERS = FRONTS + REPLICAS
# nginx runs as two instances: "nginx" (the public port) and "nginx-internal" (the tiers'
# internal listener, its own master and workers).
NGINXES = ["nginx", "nginx-internal"]
ALL = NGINXES + TIERS
BINARY = dict({name: "bazar-front" for name in FRONTS}, **{
    "catalog-1": "bazar-catalog", "catalog-2": "bazar-catalog", "order-1": "bazar-order", "order-2": "bazar-order"})
PAIRS = [("catalog-1", "catalog-2"), ("order-1", "order-2")]
PEER = {a: b for x, y in PAIRS for a, b in ((x, y), (y, x))}


def log(*args):
    print("chaos:", *args, flush=True)


class Interrupted(Exception):
    pass


class Context:
    """One run's settings and shared state (the clients, the nemesis and the checker read it)."""


def signal_pid(pid, sig):
    try:
        os.kill(pid, sig)
        return None
    except OSError as e:
        return str(e)


def process_state(pid):
    """The one-letter state of `pid` (R, S, T, Z...), or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def wait_dead(pid, bound):
    """Until `pid` is gone or a zombie (bounded)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if process_state(pid) in (None, "Z", "X"):
            return True
        time.sleep(0.01)
    return False


def child_pids(pid):
    """The pids of `pid`'s children."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            kids.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        return kids


def cmdline_of(pid):
    """The arguments of `pid` (argv[0] first), [] when it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def argv0_of(pid):
    args = cmdline_of(pid)
    return args[0] if args else ""


def nginx_workers_of(master):
    """The worker processes of the nginx master `master`."""
    return [pid for pid in child_pids(master) if argv0_of(pid).startswith("nginx: worker")]


def live_processes():
    """(pid, cmdline) of every process that is not a zombie."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            pid = int(entry)
            args = cmdline_of(pid)
            if args and process_state(pid) not in (None, "Z", "X"):
                out.append((pid, args))
    return out
