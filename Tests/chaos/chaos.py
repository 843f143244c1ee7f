#!/usr/bin/env python3
"""make chaos: a Jepsen-style fault-injection test of Bazar's consistency promises.

It starts a stack of its own (nginx/bazarctl up in a temporary BAZAR_VAR, on a free
loopback port), drives it with client threads while a nemesis crashes (kill -9), hangs
(SIGSTOP/SIGCONT) and restarts its processes, records a history of every operation, then
lets the stack settle and checks API.md's "Consistency promises" against the history and
the final state. It exits 1 when it finds a violation, 2 when the harness itself failed.

With CHAOS_STACK=containers it drives a compose deployment that runs already (compose.yaml,
brought up by Tests/containers/run) instead, through its published port, and the nemesis
uses Docker and the kernel from the host: docker kill, a kill -9 of the server inside a
container, docker pause, docker restart, and network partitions (iptables rules in one
container's network namespace; see partition_rules for what each cut means). The same
checks judge the history. The deployment is left running, every container started again.

Run:
    make chaos                                      # builds release, self-test, 60 s with faults
    CHAOS_SECONDS=20 python3 Tests/chaos/chaos.py   # short run (the hook for make test)
    CHAOS_FAULTS=none CHAOS_SECONDS=30 python3 Tests/chaos/chaos.py   # no nemesis: must pass
    CHAOS_STACK=containers CHAOS_COMPOSE_PROJECT=P CHAOS_PORT=N CHAOS_TOKEN=T python3 Tests/chaos/chaos.py
    python3 Tests/chaos/chaos.py --self-test        # the checker on made-up histories, no stack
    python3 Tests/chaos/chaos.py --check FILE       # the checks again on a CHAOS_HISTORY file

Environment:
    CHAOS_SECONDS   length of the load + fault phase (default 60)
    CHAOS_SEED      seed of every random choice (default: random; printed at start so a
                    run can be replayed; thread timing still varies from run to run)
    CHAOS_FAULTS    "all" (default), "none", or a comma list of kill,stop,restart,stop+kill
                    (containers: also crash and partition)
    CHAOS_TARGETS   comma list of processes the nemesis may hit (default: front,catalog-1,
                    catalog-2,order-1,order-2,nginx-worker; restarts then include nginx;
                    with BAZAR_FRONTS=N, front-2 ... front-N too)
    CHAOS_BIN       binaries (default <repo>/.build/release), passed as BAZAR_BIN
    CHAOS_STACK     "processes" (default: a stack of its own) or "containers", which takes
                    CHAOS_COMPOSE_PROJECT (the compose project), CHAOS_PORT (its published
                    port on 127.0.0.1), CHAOS_TOKEN (its admin token) and
                    CHAOS_INTERNAL_SECRET_FILE (default <repo>/var/secrets/internal_secret)
    CHAOS_READERS, CHAOS_BUYERS, CHAOS_ADMINS   client threads (default 4, 4, 1)
    CHAOS_TIMEOUT   client socket timeout in seconds (default 5)
    CHAOS_QUIESCE_SECONDS   bound on the wait for the replicas to level (default 30)
    CHAOS_HISTORY   write the whole history (JSON lines: ops, faults, final state) there
    CHAOS_KEEP=1    keep the temporary BAZAR_VAR (logs, databases) instead of removing it
    CHAOS_VERBOSE=1 print every fault as it happens

Clients: readers GET /info/{id} (some with Cache-Control: no-cache) and /search/{topic};
buyers POST /purchase/{id}, most with an Idempotency-Key that they retry with on 503, 504,
429 and connection errors until the purchase settles or the run ends, some without a key
(never retried); an admin PUTs /update/{id} with price changes and stock_delta restocks
(never retried). Every op records its invocation and completion time (time.monotonic),
request, status, the headers that matter (Idempotency-Key, X-Cache, X-Upstream,
Idempotent-Replayed) and its parsed body.

Nemesis: after a quiet gap of 0.5-2 s, it deals the next (kind, target) from a shuffled deck
of every combination (so a minute hits each about once): kill -9 of a tier or of ONE nginx
worker; SIGSTOP of one for 0.5-4 s then SIGCONT; bazarctl restart NAME (nginx included);
stop+kill: SIGSTOP a catalog or order replica for 0.3-1.5 s so that requests pile up in
flight behind it, kill -9 the target meanwhile, then SIGCONT (writes in flight at a crash).
After each fault every process must run again: the harness waits up to 3 s (for the stack's
own supervisor, if it has one), then runs bazarctl start NAME itself. After the run: SIGCONT
everything, start whatever is down, poll /health until every replica is "up" and applied
numbers are equal pairwise (bounded), read the final state through nginx's internal
listener (catalog-1/-2 books, the primary's takes, both order replicas' orders), check.

Checks (each failure is printed with the ops involved):
    stale-read           an /info read that began after a write of that book was answered
                         200 with version v shows a version < v (promise 2)
    lost-write           a book's final version is below an acknowledged write's (promise 4)
    negative-stock       a book seen (or left) with stock < 0 (promise 1)
    stock-accounting     initial stock + acknowledged stock_deltas (+ some subset of the
                         deltas of unknown outcome) - takes != final stock (promise 1)
    acked-order-missing  a purchase answered 200 whose order is missing from the primary's
                         takes or from order-1 / order-2, or differs there (promise 4)
    replica-orders       the takes and an order replica's orders differ (promise 3)
    double-purchase      a key bought more than once, or answered with two order numbers,
                         or one order number answered to two different purchases
    keyless-overcount    more key-less takes of a book than key-less purchases that could
                         have been applied (a 503 was applied, or one was bought twice)
    503-applied          a purchase answered 503 (409-applied: 409) whose key is among the takes while
                         no attempt under that key could have made it (API.md: a 503 write
                         applied nothing)
    replicas-not-level   after quiescence: /health applied differ, or catalog-1 and
                         catalog-2 answer different JSON for a book (promise 3)
    no-quiescence        the replicas did not level within CHAOS_QUIESCE_SECONDS
    version-mismatch     one version of a book seen with two different prices or stocks
    unexpected-status    a well-formed request answered with a status API.md does not allow
    search-wrong         a /search answer lists other books than those of the topic
A 504 outcome_unknown is allowed. Key-less purchases answered 503 can only be checked when
the stack echoes the Idempotency-Key it made up; otherwise they are counted as unverifiable.

Only the Python 3 standard library is used (and, with containers, the docker, nsenter and
iptables commands). All traffic goes to 127.0.0.1 and the stack's own unix sockets; with
containers, to the published port on 127.0.0.1 and, for reading the final state, from inside
nginx's container to its own internal listener.
"""

import bisect
import collections
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAZARCTL = os.path.join(REPO, "nginx", "bazarctl")
# The header nginx's internal listener checks for the deployment's secret.
SECRET_HEADER = "X-Bazar-Secret"


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


# BAZAR_FRONTS (passed on to bazarctl) runs several fronts: front, front-2 ... front-N.
FRONTS = ["front"] + ["front-%d" % i for i in range(2, env_int("BAZAR_FRONTS", 1) + 1)]
TIERS = FRONTS + ["catalog-1", "catalog-2", "order-1", "order-2"]
ALL = ["nginx"] + TIERS
BINARY = dict({name: "bazar-front" for name in FRONTS}, **{
    "catalog-1": "bazar-catalog", "catalog-2": "bazar-catalog", "order-1": "bazar-order", "order-2": "bazar-order"})
PAIRS = [("catalog-1", "catalog-2"), ("order-1", "order-2")]


def env_float(name, default):
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def log(*args):
    print("chaos:", *args, flush=True)


class Interrupted(Exception):
    pass


# ----------------------------------------------------------------------- HTTP
class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (nginx's internal listener)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def parse_json(data):
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


HEADERS_KEPT = ["Idempotency-Key", "X-Cache", "X-Upstream", "Idempotent-Replayed"]


class Client:
    """One keep-alive connection to the public listener; reopened after any error."""

    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        """(status, kept headers, parsed body, error): status None on a connection error."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            self.conn.request(method, path, body=data, headers=headers or {})
            resp = self.conn.getresponse()
            raw = resp.read()
            kept = {h: resp.getheader(h) for h in HEADERS_KEPT if resp.getheader(h) is not None}
            if resp.will_close:
                self.close()
            return resp.status, kept, parse_json(raw), None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, {}, None, "%s: %s" % (type(e).__name__, e)


def get_json(conn, path, headers=None):
    """GET on `conn`: (status, parsed body); (None, error) on failure. Closes the connection."""
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, parse_json(resp.read())
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def public_get(port, path, timeout=5.0):
    return get_json(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout), path)


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


def argv0_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def nginx_workers_of(master):
    """The worker processes of the nginx master `master`."""
    return [pid for pid in child_pids(master) if argv0_of(pid).startswith("nginx: worker")]


# ---------------------------------------------------------------------- stack
class Stack:
    """The single-host stack (nginx/bazarctl in a BAZAR_VAR of its own); faults are signals."""

    KINDS = ["kill", "stop", "restart", "stop+kill"]
    TARGETS = TIERS + ["nginx-worker"]

    def __init__(self, var, port, token, bin_dir):
        self.var = var
        self.port = port
        self.token = token
        self.env = dict(os.environ, BAZAR_VAR=var, BAZAR_PORT=str(port), BAZAR_ADMIN_TOKEN=token,
                        BAZAR_BIN=bin_dir)
        self.ctl_log = os.path.join(var, "bazarctl.out")
        self.lock = threading.Lock()
        self.paused = set()

    def internal_get(self, path, timeout=5.0):
        """GET through nginx's internal listener (with the deployment's secret): (status, parsed
        body); (None, error) on failure."""
        try:
            with open(os.path.join(self.var, "internal.secret")) as f:
                secret = f.readline().strip()
        except OSError as e:
            return None, str(e)
        return get_json(UnixHTTPConnection(os.path.join(self.var, "run", "internal.sock"), timeout), path,
                        {SECRET_HEADER: secret})

    def start(self):
        if self.ctl("up", timeout=120) == 0:
            return True
        log("bazarctl up failed:")
        with open(self.ctl_log, errors="replace") as f:
            sys.stdout.write(f.read()[-4000:])
        return False

    def finish(self):
        self.ctl("down", timeout=120)
        if os.environ.get("CHAOS_KEEP", "") not in ("", "0"):
            log("kept %s" % self.var)
        else:
            shutil.rmtree(self.var, ignore_errors=True)

    def ctl(self, *args, timeout=90):
        with open(self.ctl_log, "ab") as out:
            out.write(("$ bazarctl %s\n" % " ".join(args)).encode())
            out.flush()
            try:
                # A session of its own: a Ctrl-C on the terminal must not cut bazarctl short
                # (the cleanup runs bazarctl down after it).
                return subprocess.run([BAZARCTL, *args], env=self.env, stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=out, timeout=timeout,
                                      start_new_session=True).returncode
            except subprocess.TimeoutExpired:
                return -1

    def pid_file_pid(self, name):
        try:
            with open(os.path.join(self.var, "run", name + ".pid")) as f:
                return int("".join(c for c in f.read() if c.isdigit()))
        except (OSError, ValueError):
            return None

    def running_pid(self, name):
        """The pid of NAME if it runs (as bazarctl's running_pid decides), else None."""
        pid = self.pid_file_pid(name)
        if pid is None:
            return None
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        except (OSError, IndexError):
            return None
        if state in ("Z", "X"):
            return None
        if name == "nginx":
            ok = argv0.startswith("nginx: master") or argv0 == "nginx" or argv0.endswith("/nginx")
        else:
            ok = os.path.basename(argv0) == BINARY[name]
        return pid if ok else None

    def nginx_workers(self):
        master = self.running_pid("nginx")
        return [] if master is None else nginx_workers_of(master)

    def all_pids(self):
        pids = [p for p in (self.pid_file_pid(n) for n in ALL) if p]
        return pids + self.nginx_workers()

    def cont_all(self):
        for pid in list(self.paused) + self.all_pids():
            signal_pid(pid, signal.SIGCONT)
        self.paused.clear()

    def pause(self, pid):
        if signal_pid(pid, signal.SIGSTOP) is None:
            self.paused.add(pid)

    def resume(self, pid):
        signal_pid(pid, signal.SIGCONT)
        self.paused.discard(pid)

    def kill(self, pid):
        err = signal_pid(pid, signal.SIGKILL)
        if err is None:
            wait_dead(pid, 2.0)  # else it may still look alive to ensure_running
        return err or ""

    def handle_of(self, name):
        return self.running_pid(name)

    def pid_of(self, target, rng):
        if target == "nginx-worker":
            workers = self.nginx_workers()
            return rng.choice(workers) if workers else None
        return self.running_pid(target)

    def inject(self, kind, target, rng, stop, fault):
        """One fault (the nemesis records it in `fault`): kill -9, SIGSTOP for a while, bazarctl
        restart, or stop+kill (a replica hung while the target is killed)."""
        pid = fault["pid"] = self.pid_of(target, rng)
        if pid is None and kind != "restart":
            fault["note"] = "not running"
        elif kind == "kill":
            fault["note"] = self.kill(pid)
        elif kind == "stop":
            hang(self, pid, rng, stop, fault)
        elif kind == "stop+kill":
            kill_while_hung(self, target, pid, rng, stop, fault)
        elif kind == "restart":
            with self.lock:
                rc = self.ctl("restart", target)
            if rc != 0:
                fault["note"] = "bazarctl restart exit %d" % rc

    def ensure_running(self, wait=3.0, stop_event=None):
        """Every process runs again: wait up to `wait` s (a supervisor may restart a dead
        one), then bazarctl start whatever is still down. Returns the names started."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if all(self.running_pid(n) for n in ALL):
                return []
            time.sleep(0.1)
        started = []
        for name in ALL:
            if not self.running_pid(name):
                with self.lock:
                    self.ctl("start", name)
                started.append(name)
        return started


# Run by ContainerStack.internal_get inside nginx's network namespace (nsenter): one GET to
# the internal listener, the secret read from stdin; prints {"status", "body"}.
NETNS_GET = r"""
import http.client, json, sys
host, port, path, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
try:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.request("GET", path, headers={sys.argv[5]: sys.stdin.readline().strip()})
    answer = conn.getresponse()
    print(json.dumps({"status": answer.status, "body": answer.read().decode("utf-8", "replace")}))
except (OSError, http.client.HTTPException) as e:
    print(json.dumps({"status": None, "body": str(e)}))
"""


def partition_rules(target, nginx):
    """The iptables rules (chain and match, in the target container's network namespace) that
    cut `target` off. Every link between the tiers runs through nginx: a tier calls the others
    on nginx's internal listener (nginx:8081) and nginx calls it on its FastCGI ports. So:
      front      cut from the primary: its calls to the internal listener (lease renewals,
                 fills, writes) and the primary's invalidations (nginx -> its port 9002) are
                 dropped, while nginx still passes it public requests (9000, 9001): it keeps
                 answering clients, and must stop serving hits once its lease runs out;
      catalog-2  the backup cut from the primary: the primary's pushes (FastCGI records naming
                 /replicate, nginx -> its port 9000) and its own calls to the primary (its
                 /catalog-1/ health probes) are dropped, while fronts' reads still reach it;
      catalog-1, order-1, order-2
                 cut from everything: every packet in or out but loopback (its own health check).
    """
    tcp_from_nginx = ["-p", "tcp", "-s", nginx]
    tcp_to_internal = ["-p", "tcp", "-d", nginx, "--dport", "8081"]
    if target == "front":
        return [["OUTPUT"] + tcp_to_internal + ["-j", "DROP"],
                ["INPUT"] + tcp_from_nginx + ["--dport", "9002", "-j", "DROP"]]
    if target == "catalog-2":
        def naming(text):
            return ["-m", "string", "--algo", "bm", "--string", text, "-j", "DROP"]
        return [["INPUT"] + tcp_from_nginx + ["--dport", "9000"] + naming("/replicate"),
                ["OUTPUT"] + tcp_to_internal + naming("/catalog-1/"),
                ["OUTPUT"] + tcp_to_internal + naming("/catalog-primary/")]
    return [["INPUT", "!", "-i", "lo", "-j", "DROP"], ["OUTPUT", "!", "-o", "lo", "-j", "DROP"]]


class ContainerStack:
    """A compose deployment that Tests/containers/run brought up (compose project
    CHAOS_COMPOSE_PROJECT), left running afterwards. Faults, all applied from the host:
      kill       docker kill -s KILL (Docker's restart policy leaves a killed container alone:
                 the harness starts it again after 3 s, like bazarctl start);
      crash      kill -9 of the server inside the container (the tier, or an nginx worker): the
                 container's restart policy brings a tier back;
      stop       docker pause (the cgroup freezer, like SIGSTOP for every process) for 0.5-4 s
                 (an nginx worker: SIGSTOP);
      restart    docker restart (nginx included);
      stop+kill  a replica paused while the target is killed;
      partition  iptables rules in the target's network namespace for 1-5 s (partition_rules).
    """

    KINDS = ["kill", "crash", "stop", "restart", "stop+kill", "partition"]
    # "front": one of the service's containers, however many it scaled to.
    TARGETS = ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx-worker"]

    def __init__(self, project, port, token, secret):
        self.project = project
        self.port = port
        self.token = token
        self.secret = secret
        self.paused = set()     # containers paused, and nginx workers stopped (pids)
        self.cuts = []          # (container, netns pid, rules) in force

    def docker(self, *args, timeout=60):
        """(exit status, stdout) of a docker command."""
        try:
            done = subprocess.run(["docker", *args], stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=timeout)
            return done.returncode, done.stdout.strip() or done.stderr.strip()
        except subprocess.TimeoutExpired:
            return -1, "docker %s timed out" % args[0]

    def containers(self):
        """Every container of the project (running or not): docker inspect's records."""
        rc, out = self.docker("ps", "-a", "-q", "--no-trunc", "--filter",
                              "label=com.docker.compose.project=" + self.project)
        if rc != 0 or not out:
            return []
        rc, out = self.docker("inspect", *out.split())
        try:
            return json.loads(out) if rc == 0 else []
        except ValueError:
            return []

    @staticmethod
    def service(c):
        return c["Config"]["Labels"].get("com.docker.compose.service", "")

    @staticmethod
    def tiers_address(c):
        for network, settings in (c["NetworkSettings"].get("Networks") or {}).items():
            if network.endswith("_tiers"):
                return settings.get("IPAddress") or None
        return None

    def running(self, service):
        return [c for c in self.containers() if self.service(c) == service and c["State"]["Running"]
                and not c["State"]["Paused"]]

    def nginx(self):
        """(netns pid, address on the tiers network) of the running nginx container, or None."""
        for c in self.running("nginx"):
            if self.tiers_address(c):
                return c["State"]["Pid"], self.tiers_address(c)
        return None

    def internal_get(self, path, timeout=5.0):
        """GET through nginx's internal listener, with the deployment's secret: from inside
        nginx's network namespace (traffic never leaves the container's own address)."""
        where = self.nginx()
        if where is None:
            return None, "nginx is not running"
        pid, address = where
        try:
            done = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", NETNS_GET, address,
                                   "8081", path, str(timeout), SECRET_HEADER], input=self.secret + "\n",
                                  capture_output=True, text=True, timeout=timeout + 10)
            answer = json.loads(done.stdout)
        except (subprocess.TimeoutExpired, ValueError) as e:
            return None, str(e)
        if answer["status"] is None:
            return None, answer["body"]
        return answer["status"], parse_json(answer["body"].encode())

    def start(self):
        """The deployment is there: /health answers 200 within a minute."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if public_get(self.port, "/health", timeout=3)[0] == 200:
                return True
            time.sleep(0.5)
        log("the compose project %s does not answer /health 200 on 127.0.0.1:%d" % (self.project, self.port))
        return False

    def finish(self):
        """Leaves the deployment running, every container up, for the next test."""
        self.ensure_running(wait=10.0)

    def server_pid(self, c):
        """The server inside a tier container: the entrypoint's child running bazar-*."""
        for pid in child_pids(c["State"]["Pid"]):
            if os.path.basename(argv0_of(pid)).startswith("bazar-"):
                return pid
        return None

    def worker_pids(self):
        for c in self.running("nginx"):
            for pid in child_pids(c["State"]["Pid"]):
                if argv0_of(pid).startswith("nginx: master"):
                    return nginx_workers_of(pid)
        return []

    def pause(self, c):
        if self.docker("pause", c["Id"])[0] == 0:
            self.paused.add(c["Id"])

    def resume(self, c):
        self.docker("unpause", c["Id"])
        self.paused.discard(c["Id"])

    def kill(self, c):
        return "" if self.docker("kill", "-s", "KILL", c["Id"])[0] == 0 else "docker kill failed"

    def handle_of(self, service):
        """A running container of `service`, or None."""
        running = self.running(service)
        return running[0] if running else None

    def cut(self, c, target):
        """Applies partition_rules(target) in container c's network namespace."""
        where = self.nginx()
        if where is None:
            return "nginx is not running"
        pid = c["State"]["Pid"]
        rules = partition_rules(target, where[1])
        for rule in rules:
            rc = subprocess.run(["nsenter", "-t", str(pid), "-n", "iptables", "-w", "5", "-A", *rule],
                                capture_output=True, text=True)
            if rc.returncode != 0:
                self.cuts.append((c["Id"], pid, rules))
                return "iptables failed: " + rc.stderr.strip()
        self.cuts.append((c["Id"], pid, rules))
        return ""

    def heal(self):
        """Removes every rule the partitions added (a container restarted meanwhile lost them
        with its old network namespace)."""
        for _, pid, rules in self.cuts:
            for rule in rules:
                subprocess.run(["nsenter", "-t", str(pid), "-n", "iptables", "-w", "5", "-D", *rule],
                               capture_output=True)
        self.cuts = []

    def inject(self, kind, target, rng, stop, fault):
        if target == "nginx-worker":
            workers = self.worker_pids()
            pid = fault["pid"] = rng.choice(workers) if workers else None
            if pid is None:
                fault["note"] = "no nginx worker"
            elif kind == "stop":
                fault["duration"] = rng.uniform(0.5, 4.0)
                signal_pid(pid, signal.SIGSTOP)
                self.paused.add(pid)
                try:
                    stop.wait(fault["duration"])
                finally:
                    signal_pid(pid, signal.SIGCONT)
                    self.paused.discard(pid)
            else:   # kill, crash, stop+kill: the master starts another worker
                fault["note"] = signal_pid(pid, signal.SIGKILL) or ""
            return
        candidates = self.running(target)
        if not candidates:
            fault["note"] = "not running"
            return
        c = rng.choice(candidates)
        fault["container"] = c["Name"].lstrip("/")
        if kind == "kill":
            fault["note"] = self.kill(c)
        elif kind == "crash":
            pid = fault["pid"] = self.server_pid(c)
            fault["note"] = (signal_pid(pid, signal.SIGKILL) or "") if pid else "no server process"
        elif kind == "stop":
            hang(self, c, rng, stop, fault)
        elif kind == "restart":
            rc, out = self.docker("restart", "-t", "10", c["Id"])
            fault["note"] = "" if rc == 0 else "docker restart: " + out
        elif kind == "stop+kill":
            kill_while_hung(self, target, c, rng, stop, fault)
        elif kind == "partition":
            fault["duration"] = rng.uniform(1.0, 5.0)
            fault["note"] = self.cut(c, target)
            try:
                stop.wait(fault["duration"])
            finally:
                self.heal()

    def cont_all(self):
        for c in self.containers():
            if c["State"]["Paused"]:
                self.docker("unpause", c["Id"])
        for pid in [p for p in self.paused if isinstance(p, int)]:
            signal_pid(pid, signal.SIGCONT)
        self.paused.clear()
        self.heal()

    def ensure_running(self, wait=3.0):
        """Every container runs again: wait up to `wait` s (a restart policy may bring a crashed
        one back), then docker start whatever is still stopped. Returns the services started."""
        deadline = time.monotonic() + wait
        while True:
            down = [c for c in self.containers() if not c["State"]["Running"] and not c["State"]["Restarting"]]
            if not down or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        for c in down:
            self.docker("start", c["Id"])
        return [self.service(c) for c in down]


# -------------------------------------------------------------------- history
class Recorder:
    def __init__(self, start):
        self.start = start
        self.lock = threading.Lock()
        self.ops = []
        self.next_id = 0

    def add(self, op):
        with self.lock:
            op["id"] = self.next_id
            self.next_id += 1
            self.ops.append(op)
        return op


def timed_call(client, recorder, thread, kind, method, path, body=None, headers=None, **extra):
    t0 = time.monotonic()
    status, kept, parsed, error = client.call(method, path, body=body, headers=headers)
    t1 = time.monotonic()
    if status == 200 and kind == "search" and isinstance(parsed, dict) and isinstance(parsed.get("items"), list):
        # Only the ids matter (titles never change here): keeps a minute of history small.
        parsed = {"items": [{"id": i.get("id")} if isinstance(i, dict) else i for i in parsed["items"]]}
    elif status == 200 and kind == "info" and isinstance(parsed, dict):
        parsed = {k: parsed[k] for k in ("id", "price", "stock", "version") if k in parsed}
    op = {"kind": kind, "thread": thread, "t0": t0, "t1": t1, "method": method, "path": path,
          "req": body, "status": status, "headers": kept, "body": parsed, "error": error}
    op.update(extra)
    return recorder.add(op)


def reader(ctx, index):
    rng = random.Random("%s-reader-%d" % (ctx.seed, index))
    client = Client(ctx.port, ctx.timeout)
    name = "reader-%d" % index
    topics = sorted({b["topic"] for b in ctx.initial.values()})
    while not ctx.stop.is_set() and time.monotonic() < ctx.deadline:
        if rng.random() < 0.85:
            book = rng.choice(ctx.book_ids)
            headers = {"Cache-Control": "no-cache"} if rng.random() < 0.1 else {}
            timed_call(client, ctx.recorder, name, "info", "GET", "/info/%d" % book, headers=headers,
                       book=book, bypass=bool(headers))
        else:
            topic = rng.choice(topics + ["no such topic"]) if rng.random() < 0.95 else rng.choice(topics).upper()
            timed_call(client, ctx.recorder, name, "search", "GET", "/search/" + urlquote(topic), topic=topic)
        time.sleep(rng.uniform(0, 0.006))
    client.close()


def urlquote(text):
    import urllib.parse
    return urllib.parse.quote(text, safe="")


def buyer(ctx, index):
    rng = random.Random("%s-buyer-%d" % (ctx.seed, index))
    client = Client(ctx.port, ctx.timeout)
    name = "buyer-%d" % index
    n = 0
    while not ctx.stop.is_set() and time.monotonic() < ctx.deadline:
        n += 1
        book = ctx.low_book if rng.random() < 0.2 else rng.choice(ctx.book_ids)
        logical = "%s-%d" % (name, n)
        if rng.random() < 0.75:
            key = "chaos-%s-%d-%d" % (ctx.seed, index, n)
            attempt = 0
            while True:
                attempt += 1
                op = timed_call(client, ctx.recorder, name, "purchase", "POST", "/purchase/%d" % book,
                                headers={"Idempotency-Key": key}, book=book, key=key, logical=logical,
                                attempt=attempt)
                if op["status"] not in (None, 503, 504, 429):
                    break
                if ctx.stop.is_set() or time.monotonic() >= ctx.deadline:
                    break
                time.sleep(rng.uniform(0.05, 0.3))
        else:
            timed_call(client, ctx.recorder, name, "purchase", "POST", "/purchase/%d" % book,
                       book=book, key=None, logical=logical, attempt=1)
        time.sleep(rng.uniform(0.002, 0.015))
    client.close()


def admin(ctx, index):
    rng = random.Random("%s-admin-%d" % (ctx.seed, index))
    client = Client(ctx.port, ctx.timeout)
    name = "admin-%d" % index
    auth = {"Authorization": "Bearer " + ctx.token, "Content-Type": "application/json"}
    while not ctx.stop.is_set() and time.monotonic() < ctx.deadline:
        book = rng.choice(ctx.book_ids)
        r = rng.random()
        if r < 0.5:
            body = {"stock_delta": rng.randint(1, 20)}
        elif r < 0.8:
            body = {"stock_delta": rng.randint(1, 20), "price": round(rng.uniform(5, 60), 2)}
        else:
            body = {"price": round(rng.uniform(5, 60), 2)}
        timed_call(client, ctx.recorder, name, "update", "PUT", "/update/%d" % book, body=body,
                   headers=auth, book=book)
        time.sleep(rng.uniform(0.03, 0.12))
    client.close()


# -------------------------------------------------------------------- nemesis
def wait_dead(pid, bound):
    """Until `pid` is gone or a zombie (bounded)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except (OSError, IndexError):
            return True
        time.sleep(0.01)
    return False


def fault_deck(kinds, targets):
    """Every (kind, target) the nemesis may deal: it deals them from a shuffled deck, so
    that a run of a minute hits every combination about once."""
    hittable = [t for t in targets if t != "nginx"]
    deck = []
    for kind in kinds:
        if kind == "restart":
            names = [t for t in targets if t in TIERS]
            if "nginx" in targets or "nginx-worker" in targets:
                names.append("nginx")
        elif kind == "partition":
            names = [t for t in targets if t in TIERS]   # the cuts are a tier's links to nginx
        else:
            names = hittable
        deck += [(kind, t) for t in names]
    return deck


def hang(stack, handle, rng, stop, fault):
    """stop: the stack pauses `handle` (a process, a container) for 0.5-4 s."""
    fault["duration"] = rng.uniform(0.5, 4.0)
    stack.pause(handle)
    try:
        stop.wait(fault["duration"])
    finally:
        stack.resume(handle)


def kill_while_hung(stack, target, victim, rng, stop, fault):
    """stop+kill: hang a replica so that requests pile up in flight behind it, then kill -9 the
    target (`victim`) while they wait, then let the replica go on: writes in flight at a crash."""
    hung = rng.choice([t for t in ["catalog-1", "catalog-2", "order-1", "order-2"] if t != target])
    held = stack.handle_of(hung)
    fault["hung"] = hung
    fault["duration"] = rng.uniform(0.3, 1.5)
    if held:
        stack.pause(held)
    try:
        stop.wait(fault["duration"])
        fault["note"] = stack.kill(victim)
        stop.wait(rng.uniform(0.0, 0.3))
    finally:
        if held:
            stack.resume(held)


def signal_pid(pid, sig):
    try:
        os.kill(pid, sig)
        return None
    except OSError as e:
        return str(e)


def nemesis(ctx):
    rng = random.Random("%s-nemesis" % ctx.seed)
    stack = ctx.stack
    deck = []
    while not ctx.stop.is_set():
        if ctx.stop.wait(rng.uniform(0.5, 2.0)) or time.monotonic() >= ctx.deadline - 1:
            break
        if not deck:
            deck = fault_deck(ctx.fault_kinds, ctx.targets)
            rng.shuffle(deck)
        kind, target = deck.pop()
        fault = {"kind": kind, "target": target, "t0": time.monotonic(), "note": ""}
        stack.inject(kind, target, rng, ctx.stop, fault)
        started = stack.ensure_running()
        fault["t1"] = time.monotonic()
        if started:
            fault["started"] = started
        ctx.faults.append(fault)
        if ctx.verbose:
            log("fault %6.2f-%6.2f %-9s %-12s %-14s %s%s%s" % (
                fault["t0"] - ctx.t_start, fault["t1"] - ctx.t_start, kind, target,
                fault.get("pid") or fault.get("container") or "",
                ("while %s hangs " % fault["hung"]) if "hung" in fault else "",
                ("%.1fs " % fault["duration"]) if "duration" in fault else "",
                ("then started " + ",".join(started)) if started else fault["note"]))


# ---------------------------------------------------------------- final state
def health_level(port):
    status, body = public_get(port, "/health", timeout=3)
    if status != 200 or not isinstance(body, dict):
        return False, body
    reps = {r.get("name"): r for r in body.get("replicas", [])}
    if not all(reps.get(n, {}).get("status") == "up" for n in ["catalog-1", "catalog-2", "order-1", "order-2"]):
        return False, body
    for a, b in PAIRS:
        if reps[a].get("applied") != reps[b].get("applied"):
            return False, body
    return True, body


def wait_quiescence(ctx, bound):
    deadline = time.monotonic() + bound
    last = None
    streak = 0
    while time.monotonic() < deadline:
        ok, last = health_level(ctx.port)
        streak = streak + 1 if ok else 0
        if streak >= 2:
            return True, last
        time.sleep(0.25)
    return False, last


def get_retrying(stack, path, until):
    """An internal GET, retried on 503 / errors until `until` (monotonic)."""
    while True:
        status, body = stack.internal_get(path)
        if status == 200 or time.monotonic() >= until:
            return status, body
        time.sleep(0.2)


def read_paged(stack, base, until, limit=None, after=0):
    """Every order of a list on the internal listener, {"orders": [...]}: follows `next` when
    the answer has one; without `next`, an answer with `limit` asked is today's unpaged whole
    list, and one without (the takes, pages of 1000) goes on after the last number until empty."""
    out = []
    while True:
        path = "%s?after=%d%s" % (base, after, "&limit=%d" % limit if limit else "")
        status, body = get_retrying(stack, path, until)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("orders"), list):
            return None, "%s -> %s %s" % (path, status, json.dumps(body)[:200])
        page = body["orders"]
        out.extend(page)
        if "next" in body:
            if body["next"] is None or not page:
                return out, None
            after = int(body["next"])
        elif limit or not page:
            return out, None
        else:
            after = max(int(o["number"]) for o in page)
        if len(out) > 5_000_000:
            return out, "more than 5,000,000 orders"


def final_state(ctx):
    """The final state, read until two reads in a row agree: a write whose client gave up (an
    unknown outcome) may still land a moment after quiescence, between one replica's read and
    the next, and the checks must judge one state, not a mix of two."""
    previous = None
    for attempt in range(10):
        state = read_final_state(ctx)
        comparable = (state["books1"], state["books2"], len(state["takes"] or []), state["errors"])
        if comparable == previous:
            return state
        if previous is not None:
            log("final state: read %d differs from the one before (%s): a late write landed"
                % (attempt + 1, describe_change(previous, comparable)))
        previous = comparable
        time.sleep(1)
    return state


def describe_change(before, after):
    """What changed between two final-state reads, in a few words."""
    changes = []
    for (label, one, two) in (("catalog-1", before[0], after[0]), ("catalog-2", before[1], after[1])):
        books = sorted(b for b in set(one) | set(two) if one.get(b) != two.get(b))
        if books:
            changes.append("%s books %s" % (label, ",".join(map(str, books))))
    if before[2] != after[2]:
        changes.append("takes %d -> %d" % (before[2], after[2]))
    if before[3] != after[3]:
        changes.append("errors %d -> %d" % (len(before[3]), len(after[3])))
    return "; ".join(changes) or "no difference named"


def read_final_state(ctx):
    stack = ctx.stack
    until = time.monotonic() + 20
    state = {"books1": {}, "books2": {}, "errors": []}
    for b in ctx.book_ids:
        for rep, key in (("catalog-1", "books1"), ("catalog-2", "books2")):
            status, body = get_retrying(stack, "/%s/info/%d" % (rep, b), until)
            if status == 200:
                state[key][b] = body
            else:
                state["errors"].append("%s /info/%d: %s %s" % (rep, b, status, body))
    takes, err = read_paged(stack, "/catalog-primary/takes", until, after=ctx.orders_before)
    state["takes"] = takes
    if err:
        state["errors"].append("takes: " + err)
    for rep in ("order-1", "order-2"):
        orders, err = read_paged(stack, "/%s/orders" % rep, until, limit=1000, after=ctx.orders_before)
        state[rep] = orders
        if err:
            state["errors"].append(rep + ": " + err)
    state["health"] = public_get(ctx.port, "/health")[1]
    return state


# ---------------------------------------------------------------------- checks
class Checker:
    def __init__(self, ctx, ops, final):
        self.ctx = ctx
        self.ops = ops
        self.final = final
        self.violations = []
        self.notes = collections.Counter()
        self.note_examples = {}

    def violation(self, kind, message, ops=()):
        self.violations.append((kind, message, list(ops)))

    def note(self, kind, message=None):
        self.notes[kind] += 1
        if message and kind not in self.note_examples:
            self.note_examples[kind] = message

    def rel(self, t):
        return t - self.ctx.t_start

    def describe(self, op):
        h = " ".join("%s=%s" % (k, v) for k, v in sorted(op["headers"].items()))
        body = op["body"]
        if op["kind"] == "purchase" and isinstance(body, dict) and "order" in body:
            b = body.get("book") or {}
            body = "order %s book %s v%s stock %s" % ((body.get("order") or {}).get("number"),
                                                      b.get("id"), b.get("version"), b.get("stock"))
        elif isinstance(body, dict) and "version" in body:
            body = "book %s v%s stock %s price %s" % (body.get("id"), body.get("version"),
                                                      body.get("stock"), body.get("price"))
        else:
            body = json.dumps(body)[:160] if body is not None else op.get("error")
        extra = ""
        if op.get("key"):
            extra += " key=%s#%d" % (op["key"], op.get("attempt", 1))
        if op.get("req") is not None:
            extra += " req=%s" % json.dumps(op["req"])
        return "op %d %s [%.3f..%.3f] %s %s%s -> %s %s | %s" % (
            op["id"], op["thread"], self.rel(op["t0"]), self.rel(op["t1"]), op["method"], op["path"], extra,
            op["status"], h, body)

    def faults_near(self, t0, t1, before=5.0):
        out = []
        for f in self.ctx.faults:
            if f["t0"] <= t1 and f.get("t1", f["t0"]) >= t0 - before:
                out.append("%s %s [%.2f..%.2f]%s" % (f["kind"], f["target"], self.rel(f["t0"]),
                                                     self.rel(f.get("t1", f["t0"])),
                                                     " %.1fs" % f["duration"] if "duration" in f else ""))
        return out

    # -- helpers
    @staticmethod
    def book_of(op):
        body = op["body"]
        if op["status"] != 200 or not isinstance(body, dict):
            return None
        if op["kind"] == "purchase":
            return body.get("book") if isinstance(body.get("book"), dict) else None
        if op["kind"] in ("update", "info"):
            return body
        return None

    def run(self):
        ops = self.ops
        self.check_statuses()
        self.check_reads()
        self.check_search()
        if self.final is None:
            return
        self.check_final_versions()
        self.check_orders()
        self.check_accounting()
        self.check_replicas()

    def check_statuses(self):
        allowed = {"info": {200, 429, 503}, "search": {200, 429, 503},
                   "purchase": {200, 409, 429, 503, 504}, "update": {200, 429, 503, 504}}
        for op in self.ops:
            if op["status"] is not None and op["status"] not in allowed[op["kind"]]:
                self.violation("unexpected-status", "%s answered %s" % (op["path"], op["status"]), [op])
            if op["status"] == 200 and self.book_of(op) is None and op["kind"] != "search":
                self.violation("unexpected-status", "200 without a book in its body", [op])

    def check_reads(self):
        # Acknowledged writes per book: (completion time, version), prefix max over time.
        writes = collections.defaultdict(list)
        for op in self.ops:
            if op["kind"] in ("purchase", "update") and op["status"] == 200:
                book = self.book_of(op)
                if book and isinstance(book.get("version"), int):
                    writes[book.get("id")].append((op["t1"], book["version"], op))
        index = {}
        for b, ws in writes.items():
            ws.sort(key=lambda w: w[0])
            times, best = [], []
            cur = None
            for t, v, op in ws:
                if cur is None or v > cur[0]:
                    cur = (v, op)
                times.append(t)
                best.append(cur)
            index[b] = (times, best)
        seen = {}  # (book, version) -> (price, stock, first op showing it)
        for op in self.ops:
            book = self.book_of(op)
            if book is None:
                continue
            key, state = (book.get("id"), book.get("version")), (book.get("price"), book.get("stock"))
            first = seen.setdefault(key, state + (op,))
            if first[:2] != state:
                # API.md: two replicas that agree on the version agree on the whole book.
                self.violation("version-mismatch", "book %s version %s seen as price %s stock %s and as price %s stock %s"
                               % (key + first[:2] + state), [first[2], op])
            if isinstance(book.get("stock"), int) and book["stock"] < 0:
                self.violation("negative-stock", "book %s seen with stock %s" % (book.get("id"), book["stock"]), [op])
            if op["kind"] != "info":
                continue
            b = book.get("id")
            if b != op["book"]:
                self.violation("unexpected-status", "/info/%s answered book %s" % (op["book"], b), [op])
                continue
            if b not in index:
                continue
            times, best = index[b]
            i = bisect.bisect_left(times, op["t0"]) - 1  # writes completed strictly before the read began
            if i < 0:
                continue
            v, wop = best[i]
            if book.get("version", -1) < v:
                self.violation(
                    "stale-read",
                    "read of book %s began %.3f s after a write answered with version %d, saw version %s "
                    "(faults nearby: %s)" % (b, op["t0"] - wop["t1"], v, book.get("version"),
                                            "; ".join(self.faults_near(wop["t0"], op["t1"])) or "none"),
                    [wop, op])

    def check_search(self):
        by_topic = collections.defaultdict(set)
        for b, book in self.ctx.initial.items():
            by_topic[book["topic"].lower()].add(b)
        for op in self.ops:
            if op["kind"] != "search" or op["status"] != 200:
                continue
            body = op["body"]
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                self.violation("search-wrong", "malformed search answer", [op])
                continue
            got = {i.get("id") for i in items if isinstance(i, dict)}
            want = by_topic.get(op["topic"].lower(), set())
            # Books are only ever added by POST /books, which this test never sends.
            if got != want:
                self.violation("search-wrong", "topic %r listed %s, expected %s" % (op["topic"], sorted(got), sorted(want)), [op])

    def check_final_versions(self):
        books = self.final["books1"]
        for b in self.ctx.book_ids:
            fb = books.get(b)
            if fb is None:
                continue
            if fb.get("stock", 0) < 0:
                self.violation("negative-stock", "book %d final stock %s" % (b, fb.get("stock")))
            best = None
            for op in self.ops:
                if op["kind"] in ("purchase", "update") and op["status"] == 200:
                    book = self.book_of(op)
                    if book and book.get("id") == b and (best is None or book["version"] > self.book_of(best)["version"]):
                        best = op
            if best is not None and fb.get("version", -1) < self.book_of(best)["version"]:
                self.violation("lost-write", "book %d final version %s on catalog-1 is below acknowledged version %s"
                               % (b, fb.get("version"), self.book_of(best)["version"]), [best])

    def check_orders(self):
        final = self.final
        takes = final.get("takes")
        if takes is None:
            return
        take_by_number = {}
        takes_by_key = collections.defaultdict(list)
        for t in takes:
            if t["number"] in take_by_number:
                self.violation("double-purchase", "order number %s appears twice in the takes" % t["number"])
            take_by_number[t["number"]] = t
            takes_by_key[t.get("key")].append(t)
        replicas = {}
        for rep in ("order-1", "order-2"):
            orders = final.get(rep)
            if orders is None:
                continue
            replicas[rep] = {o["number"]: o for o in orders}
            missing = sorted(set(take_by_number) - set(replicas[rep]))
            extra = sorted(set(replicas[rep]) - set(take_by_number))
            for n in missing:
                self.violation("replica-orders", "order %d (book %s) is in the primary's takes but not on %s"
                               % (n, take_by_number[n]["book_id"], rep))
            for n in extra:
                self.violation("replica-orders", "order %d (book %s) is on %s but not in the primary's takes"
                               % (n, replicas[rep][n].get("book_id"), rep))
            for n in set(take_by_number) & set(replicas[rep]):
                if replicas[rep][n].get("book_id") != take_by_number[n]["book_id"]:
                    self.violation("replica-orders", "order %d is of book %s on %s but of book %s in the takes"
                                   % (n, replicas[rep][n].get("book_id"), rep, take_by_number[n]["book_id"]))

        purchases = [op for op in self.ops if op["kind"] == "purchase"]
        # Every 200: in the takes (with the right key) and on both order replicas.
        answered = collections.defaultdict(list)  # order number -> ops answered with it
        for op in purchases:
            if op["status"] != 200 or not isinstance(op["body"], dict):
                continue
            order = op["body"].get("order") or {}
            n, b = order.get("number"), order.get("book_id")
            answered[n].append(op)
            t = take_by_number.get(n)
            if t is None:
                self.violation("acked-order-missing", "order %s answered 200 is not in the primary's takes" % n, [op])
            else:
                if t["book_id"] != b or b != op["book"]:
                    self.violation("acked-order-missing", "order %s answered for book %s (asked %s) is of book %s in the takes"
                                   % (n, b, op["book"], t["book_id"]), [op])
                if op["key"] is not None and t.get("key") != op["key"]:
                    self.violation("acked-order-missing", "order %s answered to key %s is recorded under key %s"
                                   % (n, op["key"], t.get("key")), [op])
            for rep, orders in replicas.items():
                o = orders.get(n)
                if o is None:
                    self.violation("acked-order-missing", "order %s answered 200 is missing on %s" % (n, rep), [op])
                elif o.get("book_id") != b:
                    self.violation("acked-order-missing", "order %s is of book %s on %s, answered for book %s"
                                   % (n, o.get("book_id"), rep, b), [op])
        for n, ops in answered.items():
            owners = {op["key"] if op["key"] is not None else ("nokey", op["id"]) for op in ops}
            if len(owners) > 1:
                self.violation("double-purchase", "order %s was answered to %d different purchases" % (n, len(owners)), ops)

        # Keyed purchases: group attempts by key.
        by_key = collections.defaultdict(list)
        for op in purchases:
            if op["key"] is not None:
                by_key[op["key"]].append(op)
        for key, attempts in by_key.items():
            recorded = takes_by_key.get(key, [])
            numbers = {(op["body"].get("order") or {}).get("number") for op in attempts
                       if op["status"] == 200 and isinstance(op["body"], dict)}
            if len(recorded) > 1:
                self.violation("double-purchase", "key %s bought %d times (orders %s)"
                               % (key, len(recorded), [t["number"] for t in recorded]), attempts)
            if len(numbers) > 1:
                self.violation("double-purchase", "key %s answered with orders %s" % (key, sorted(numbers)), attempts)
            if not recorded:
                continue
            fresh = [op for op in attempts if op["status"] == 200 and op["headers"].get("Idempotent-Replayed") != "true"]
            unknown = [op for op in attempts if op["status"] not in (200, 409, 503)]
            if fresh:
                if len(fresh) > 1:
                    self.note("200 twice for one key without Idempotent-Replayed",
                              "key %s: ops %s" % (key, [op["id"] for op in fresh]))
                continue
            refused = [op for op in attempts if op["status"] in (409, 503)]
            # After an unknown outcome the key's last answer is the client's final word: a
            # retry answered 503 or 409 says nothing was bought, so it must not be.
            if unknown and attempts[-1]["status"] not in (409, 503):
                self.note("key applied, outcome never settled (ambiguous)")
                continue
            codes = sorted({op["status"] for op in refused})
            last = refused[-1] if unknown else refused[0]
            self.violation("503-applied" if 503 in codes else "409-applied",
                           "key %s answered %s%s but order %s was taken (faults nearby: %s)"
                           % (key, "/".join(map(str, codes)),
                              " last, after %d unknown outcome(s)" % len(unknown) if unknown else " only (and replays)",
                              recorded[0]["number"],
                              "; ".join(self.faults_near(last["t0"], last["t1"], before=1.0)) or "none"),
                           attempts)

        # Key-less purchases.
        keyless = [op for op in purchases if op["key"] is None]
        # A take under one of our keys is a keyed purchase's; any other (one the stack made up)
        # is a key-less purchase's.
        ours = set(by_key)
        generated = collections.Counter(t["book_id"] for t in takes if t.get("key") not in ours)
        take_keys = set(takes_by_key)
        unverifiable = 0
        for op in keyless:
            if op["status"] != 503:
                continue
            echoed = op["headers"].get("Idempotency-Key")
            if not echoed:
                unverifiable += 1
                continue
            hits = [k for k in take_keys if k and (k == echoed or k.endswith(":" + echoed))]
            if hits:
                self.violation("503-applied", "key-less purchase answered 503 under key %s was taken (order %s)"
                               % (echoed, takes_by_key[hits[0]][0]["number"]), [op])
        if unverifiable:
            self.note("key-less 503s unverifiable (no Idempotency-Key echoed)", None)
            self.notes["key-less 503s unverifiable (no Idempotency-Key echoed)"] = unverifiable
        for b in self.ctx.book_ids:
            mine = [op for op in keyless if op["book"] == b]
            possible = sum(1 for op in mine if op["status"] not in (409, 503) and not
                           (op["status"] is not None and 400 <= op["status"] < 500 and op["status"] != 429))
            refused503 = sum(1 for op in mine if op["status"] == 503)
            if generated[b] > possible:
                self.violation("keyless-overcount",
                               "book %d: %d takes without a client key, but only %d key-less purchases could have "
                               "been applied (%d more answered 503)" % (b, generated[b], possible, refused503))

    def check_accounting(self):
        takes = self.final.get("takes")
        if takes is None:
            return
        taken = collections.Counter(t["book_id"] for t in takes)
        for b in self.ctx.book_ids:
            fb = self.final["books1"].get(b)
            if fb is None:
                continue
            init = self.ctx.initial[b]["stock"]
            acked, unknown, refused, applied = 0, [], [], []
            for op in self.ops:
                if op["kind"] != "update" or op["book"] != b or "stock_delta" not in op["req"]:
                    continue
                d = op["req"]["stock_delta"]
                if op["status"] == 200:
                    acked += d
                    applied.append(op)
                elif op["status"] == 503:
                    refused.append(op)
                elif op["status"] is None or op["status"] in (504, 429):
                    unknown.append(d)
                    applied.append(op)
            need = fb["stock"] - init - acked + taken[b]
            reach = 1  # bit s set: the unknown-outcome deltas can add up to s
            for d in unknown:
                reach |= reach << d
            if need >= 0 and (reach >> need) & 1:
                continue

            def explains(d):
                return need - d >= 0 and (reach >> (need - d)) & 1

            # Which single update would explain the difference: one answered 503 that was
            # applied after all, or one (acknowledged or unknown) applied twice?
            suspects = [op for op in refused if explains(op["req"]["stock_delta"])]
            doubled = [op for op in applied if explains(op["req"]["stock_delta"])]
            hints = []
            if suspects:
                hints.append("one of the %d update(s) answered 503 below was applied" % len(suspects))
            if doubled:
                hints.append("one of the %d update(s) %sbelow was applied twice"
                             % (len(doubled), "further " if suspects else ""))
            self.violation("stock-accounting",
                           "book %d: final stock %d != initial %d + acknowledged deltas %d + some of the %d "
                           "unknown-outcome deltas (sum %d) - %d takes: %+d left to explain%s"
                           % (b, fb["stock"], init, acked, len(unknown), sum(unknown), taken[b], need,
                              (" (explained if " + ", or if ".join(hints) + ")") if hints else ""),
                           suspects + doubled)

    def check_replicas(self):
        final = self.final
        if not self.ctx.quiet:
            self.violation("no-quiescence", "replicas did not level within %d s after the faults stopped: /health %s"
                           % (self.ctx.quiesce_bound, json.dumps(self.ctx.quiesce_health)))
        health = final.get("health")
        if isinstance(health, dict):
            reps = {r.get("name"): r for r in health.get("replicas", [])}
            for a, b in PAIRS:
                if reps.get(a, {}).get("applied") != reps.get(b, {}).get("applied"):
                    self.violation("replicas-not-level", "/health: %s applied %s, %s applied %s"
                                   % (a, reps.get(a, {}).get("applied"), b, reps.get(b, {}).get("applied")))
        for b in self.ctx.book_ids:
            one, two = final["books1"].get(b), final["books2"].get(b)
            if one is not None and two is not None and one != two:
                self.violation("replicas-not-level", "book %d: catalog-1 %s, catalog-2 %s"
                               % (b, json.dumps(one), json.dumps(two)))
        for err in final["errors"]:
            self.violation("replicas-not-level", "final state unreadable: " + err)


# ------------------------------------------------------------------------ main
class Context:
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summarize(ctx, ops):
    by = collections.Counter()
    for op in ops:
        kind = op["kind"]
        if kind == "purchase":
            kind = "purchase(key)" if op["key"] else "purchase(no key)"
        outcome = str(op["status"]) if op["status"] is not None else "conn-error/timeout"
        by[(kind, outcome)] += 1
    kinds = sorted({k for k, _ in by})
    log("ops: %d in %.1f s" % (len(ops), ctx.run_seconds))
    for k in kinds:
        outs = sorted(((o, n) for (kk, o), n in by.items() if kk == k), key=lambda x: x[0])
        log("  %-17s %6d  %s" % (k, sum(n for _, n in outs), "  ".join("%s=%d" % (o, n) for o, n in outs)))
    keyed = collections.defaultdict(list)
    for op in ops:
        if op["kind"] == "purchase" and op["key"]:
            keyed[op["key"]].append(op)
    settled = collections.Counter(str(v[-1]["status"]) if v[-1]["status"] is not None else "unsettled"
                                  for v in keyed.values())
    log("  keyed purchases by final outcome: %s (%d keys, %d retried)" % (
        "  ".join("%s=%d" % kv for kv in sorted(settled.items())), len(keyed),
        sum(1 for v in keyed.values() if len(v) > 1)))
    cache = collections.Counter(op["headers"].get("X-Cache", "-") for op in ops if op["kind"] in ("info", "search") and op["status"] == 200)
    log("  reads by X-Cache: %s" % "  ".join("%s=%d" % kv for kv in sorted(cache.items())))
    faults = collections.Counter("%s %s" % (f["kind"], f["target"]) for f in ctx.faults)
    log("faults: %d%s" % (len(ctx.faults), "" if ctx.fault_kinds else " (nemesis disabled)"))
    for k in sorted(faults):
        log("  %-22s %d" % (k, faults[k]))
    started = sum(len(f.get("started", [])) for f in ctx.faults)
    if ctx.faults:
        log("  processes the nemesis had to start itself after 3 s: %d" % started)


def main():
    seed = os.environ.get("CHAOS_SEED") or str(random.SystemRandom().randrange(1, 10**9))
    seconds = env_float("CHAOS_SECONDS", 60)
    mode = os.environ.get("CHAOS_STACK", "processes").strip()
    if mode not in ("processes", "containers"):
        log("unknown CHAOS_STACK %r (processes or containers)" % mode)
        return 2
    kind = ContainerStack if mode == "containers" else Stack
    faults_env = os.environ.get("CHAOS_FAULTS", "all").strip().lower()
    if faults_env in ("none", "off", "0", ""):
        fault_kinds = []
    elif faults_env == "all":
        fault_kinds = list(kind.KINDS)
    else:
        fault_kinds = [k.strip() for k in faults_env.split(",") if k.strip()]
        bad = [k for k in fault_kinds if k not in kind.KINDS]
        if bad:
            log("unknown CHAOS_FAULTS kind(s) for %s: %s (use %s, all or none)" % (
                mode, ",".join(bad), ",".join(kind.KINDS)))
            return 2
    targets = [t.strip() for t in os.environ.get("CHAOS_TARGETS", ",".join(kind.TARGETS)).split(",") if t.strip()]
    bad = [t for t in targets if t not in TIERS + ["nginx-worker", "nginx"]]
    if bad or not targets:
        log("bad CHAOS_TARGETS: %s" % ",".join(bad))
        return 2
    if fault_kinds and not fault_deck(fault_kinds, targets):
        log("CHAOS_FAULTS %s has nothing to hit among CHAOS_TARGETS %s" % (",".join(fault_kinds), ",".join(targets)))
        return 2

    ctx = Context()
    ctx.seed = seed
    ctx.timeout = env_float("CHAOS_TIMEOUT", 5)
    ctx.fault_kinds = fault_kinds
    ctx.targets = targets
    ctx.verbose = os.environ.get("CHAOS_VERBOSE", "") not in ("", "0")
    ctx.quiesce_bound = env_float("CHAOS_QUIESCE_SECONDS", 30)
    ctx.stop = threading.Event()
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
        ctx.stack = Stack(var, ctx.port, ctx.token, bin_dir)
        where = "BAZAR_VAR=%s BAZAR_PORT=%d BAZAR_BIN=%s" % (var, ctx.port, bin_dir)

    log("seed %s (replay with CHAOS_SEED=%s)  seconds %g  faults %s  targets %s" % (
        seed, seed, seconds, ",".join(fault_kinds) or "none", ",".join(targets)))
    log("stack: " + where)

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


def run(ctx, seconds, threads):
    stack = ctx.stack
    # Initial state: known stocks, one book kept low so that out_of_stock races happen.
    ids = []
    for b in range(1, 100):
        status, body = stack.internal_get("/catalog-1/info/%d" % b)
        if status != 200:
            break
        ids.append(b)
    if not ids:
        log("no books on catalog-1")
        return 2
    ctx.book_ids = ids
    ctx.low_book = ids[-1]
    setup = Client(ctx.port, 10)
    for b in ids:
        stock = 5 if b == ctx.low_book else 3000
        status, _, body, err = setup.call("PUT", "/update/%d" % b, body={"stock": stock},
                                          headers={"Authorization": "Bearer " + ctx.token})
        if status != 200:
            log("setup update of book %d failed: %s %s %s" % (b, status, body, err))
            return 2
    setup.close()
    ok, health = wait_quiescence(ctx, 15)
    if not ok:
        log("stack not level before the run: %s" % json.dumps(health))
        return 2
    ctx.initial = {}
    for b in ids:
        status, body = stack.internal_get("/catalog-1/info/%d" % b)
        if status != 200:
            log("cannot read book %d: %s %s" % (b, status, body))
            return 2
        ctx.initial[b] = body
    # A deployment that runs already has orders from before: the checks judge only the orders
    # numbered after them (numbers only grow), those of this run's clients.
    takes, err = read_paged(stack, "/catalog-primary/takes", time.monotonic() + 20)
    if err:
        log("cannot read the takes: %s" % err)
        return 2
    ctx.orders_before = max((t["number"] for t in takes), default=0)

    readers = env_int("CHAOS_READERS", 4)
    buyers = env_int("CHAOS_BUYERS", 4)
    admins = env_int("CHAOS_ADMINS", 1)
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
    clients = [threading.Thread(target=guarded(reader, ctx, i), daemon=True, name="reader-%d" % i) for i in range(readers)]
    clients += [threading.Thread(target=guarded(buyer, ctx, i), daemon=True, name="buyer-%d" % i) for i in range(buyers)]
    clients += [threading.Thread(target=guarded(admin, ctx, i), daemon=True, name="admin-%d" % i) for i in range(admins)]
    nem = threading.Thread(target=guarded(nemesis, ctx), daemon=True, name="nemesis") if ctx.fault_kinds else None
    log("running %d readers, %d buyers, %d admin(s) for %g s%s" % (readers, buyers, admins, seconds,
                                                                     ", with the nemesis" if nem else ""))
    threads.extend(clients)
    if nem:
        threads.append(nem)
    for t in threads:
        t.start()
    next_report = ctx.t_start + 10
    while time.monotonic() < ctx.deadline:
        time.sleep(min(0.5, max(0.0, ctx.deadline - time.monotonic())))
        if time.monotonic() >= next_report:
            next_report += 10
            log("  %3.0f s: %d ops, %d faults" % (time.monotonic() - ctx.t_start, len(ctx.recorder.ops), len(ctx.faults)))
    ctx.stop.set()
    if nem:
        nem.join(timeout=10)
    for t in clients:
        t.join(timeout=ctx.timeout + 5)
    ctx.run_seconds = time.monotonic() - ctx.t_start
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        log("threads still running after the run: %s" % ",".join(alive))

    # Settle: nothing paused or cut off, everything running, replicas level.
    stack.cont_all()
    started = stack.ensure_running(wait=3.0)
    if started:
        log("after the run, started: %s" % ",".join(started))
    t_q = time.monotonic()
    ctx.quiet, ctx.quiesce_health = wait_quiescence(ctx, ctx.quiesce_bound)
    log("quiescence: %s after %.1f s" % ("reached" if ctx.quiet else "NOT reached", time.monotonic() - t_q))

    # A last public read of every book (joins the history: must show every acknowledged write).
    final_client = Client(ctx.port, ctx.timeout)
    for b in ctx.book_ids:
        timed_call(final_client, ctx.recorder, "final", "info", "GET", "/info/%d" % b, book=b, bypass=False)
    final_client.close()
    final = final_state(ctx)
    ops = sorted(ctx.recorder.ops, key=lambda op: op["id"])

    checker = Checker(ctx, ops, final)
    checker.run()
    summarize(ctx, ops)
    takes = final.get("takes") or []
    log("final: %d takes; order-1 %s orders, order-2 %s orders; stock %s" % (
        len(takes), len(final.get("order-1") or []), len(final.get("order-2") or []),
        " ".join("%d:%s" % (b, (final["books1"].get(b) or {}).get("stock")) for b in ctx.book_ids)))
    for kind, n in sorted(checker.notes.items()):
        example = checker.note_examples.get(kind)
        log("note (not a violation): %s: %d%s" % (kind, n, ("\n      e.g. " + example) if example else ""))
    if ctx.thread_errors:
        checker.violation("harness", "client thread(s) crashed: %s" % ",".join(ctx.thread_errors))

    history = os.environ.get("CHAOS_HISTORY")
    if history:
        with open(history, "w") as f:
            for op in ops:
                f.write(json.dumps(dict(op, t0=op["t0"] - ctx.t_start, t1=op["t1"] - ctx.t_start)) + "\n")
            for fault in ctx.faults:
                f.write(json.dumps({"fault": dict(fault, t0=fault["t0"] - ctx.t_start,
                                                  t1=fault.get("t1", fault["t0"]) - ctx.t_start)}) + "\n")
            f.write(json.dumps({"initial": ctx.initial, "final": final, "seed": ctx.seed, "quiet": ctx.quiet,
                                "quiesce_health": ctx.quiesce_health,
                                "quiesce_bound": ctx.quiesce_bound}) + "\n")
        log("history written to %s" % history)

    return report(checker)


def report(checker):
    ctx = checker.ctx
    v = checker.violations
    if not v:
        log("OK: 0 violations (seed %s)" % ctx.seed)
        return 0
    counts = collections.Counter(k for k, _, _ in v)
    log("VIOLATIONS: %d  (%s)" % (len(v), ", ".join("%s=%d" % kv for kv in sorted(counts.items()))))
    shown = 0
    for kind, message, vops in v:
        if shown >= 20:
            break
        shown += 1
        print("  [%s] %s" % (kind, message))
        shown_ops = vops if len(vops) <= 6 else vops[:3] + [None] + vops[-3:]
        for op in shown_ops:
            print("      " + (checker.describe(op) if op else "... %d more ops" % (len(vops) - 6)))
    if len(v) > shown:
        print("  ... %d more violations (CHAOS_HISTORY=file writes the whole history)" % (len(v) - shown))
    log("FAILED (seed %s)" % ctx.seed)
    return 1


def recheck(path):
    """Runs the checks again on a history written by CHAOS_HISTORY (times relative to the start)."""
    ctx = Context()
    ctx.t_start, ctx.faults, ops = 0.0, [], []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if "kind" in d:
                ops.append(d)
            elif "fault" in d:
                ctx.faults.append(d["fault"])
            else:
                tail = d
    def ints(m):
        return {int(k): v for k, v in m.items()}
    ctx.initial = ints(tail["initial"])
    ctx.book_ids = sorted(ctx.initial)
    ctx.seed, ctx.quiet = tail.get("seed"), tail.get("quiet", True)
    ctx.quiesce_health, ctx.quiesce_bound = tail.get("quiesce_health"), tail.get("quiesce_bound", 0)
    final = tail["final"]
    final["books1"], final["books2"] = ints(final["books1"]), ints(final["books2"])
    checker = Checker(ctx, ops, final)
    checker.run()
    log("re-checked %d ops and %d faults from %s" % (len(ops), len(ctx.faults), path))
    return report(checker)


# ------------------------------------------------------------------ self-test
def self_test():
    """The checker against small made-up histories: a clean one must pass, and each
    planted anomaly must be reported under its kind (and only where it was planted)."""
    import copy

    def book(v, stock, price=10.0):
        return {"id": 1, "title": "T", "topic": "t", "price": price, "stock": stock, "version": v}

    def op(kind, t0, t1, status, body, **extra):
        o = {"kind": kind, "thread": "test", "t0": t0, "t1": t1, "method": "GET", "path": "/x",
             "req": None, "status": status, "headers": {}, "body": body, "error": None}
        o.update(extra)
        return o

    ctx = Context()
    ctx.t_start, ctx.faults, ctx.book_ids, ctx.quiet = 0.0, [], [1], True
    ctx.quiesce_bound, ctx.quiesce_health = 30, None
    ctx.initial = {1: book(0, 10)}
    clean_ops = [
        op("update", 1.0, 1.1, 200, book(1, 15), req={"stock_delta": 5}, book=1),
        op("update", 1.2, 1.3, 504, None, req={"stock_delta": 3}, book=1),  # not applied: allowed
        op("update", 1.4, 1.5, 503, None, req={"stock_delta": 7}, book=1),  # not applied: right
        op("purchase", 2.0, 2.1, 200, {"order": {"number": 1, "book_id": 1}, "book": book(2, 14)},
           book=1, key="K1", attempt=1),
        op("purchase", 2.2, 2.3, 503, None, book=1, key="K2", attempt=1),
        op("purchase", 2.4, 2.5, None, None, book=1, key="K2", attempt=2),  # unknown: K2 may apply
        op("purchase", 2.6, 2.7, 200, {"order": {"number": 2, "book_id": 1}, "book": book(3, 13)},
           book=1, key="K2", attempt=3, headers={"Idempotent-Replayed": "true"}),
        op("purchase", 2.8, 2.9, 503, None, book=1, key=None, attempt=1),
        op("info", 1.05, 1.6, 200, book(0, 10), book=1),   # overlaps the update: may be old
        op("info", 2.15, 2.2, 200, book(2, 14), book=1),
        op("info", 3.0, 3.1, 200, book(3, 13), book=1),
        op("search", 3.0, 3.1, 200, {"items": [{"id": 1, "title": "T"}]}, topic="T"),
    ]
    for i, o in enumerate(clean_ops):
        o["id"] = i
    clean_final = {
        "books1": {1: book(3, 13)}, "books2": {1: book(3, 13)}, "errors": [],
        "takes": [{"number": 1, "book_id": 1, "key": "K1"}, {"number": 2, "book_id": 1, "key": "K2"}],
        "order-1": [{"number": 1, "book_id": 1}, {"number": 2, "book_id": 1}],
        "order-2": [{"number": 1, "book_id": 1}, {"number": 2, "book_id": 1}],
        "health": {"replicas": [{"name": "catalog-1", "applied": 3}, {"name": "catalog-2", "applied": 3},
                                {"name": "order-1", "applied": 2}, {"name": "order-2", "applied": 2}]},
    }

    def plant(fn):
        ops, final = copy.deepcopy(clean_ops), copy.deepcopy(clean_final)
        fn(ops, final)
        for i, o in enumerate(ops):
            o["id"] = i
        c = Checker(ctx, ops, final)
        c.run()
        return sorted({k for k, _, _ in c.violations}), c

    def add(ops, o):
        ops.append(o)

    def stale(ops, final):
        add(ops, op("info", 2.5, 2.6, 200, book(1, 15), book=1))

    def applied_503(ops, final):  # K3 only ever answered 503, yet taken
        add(ops, op("purchase", 3.0, 3.1, 503, None, book=1, key="K3", attempt=1))
        final["takes"].append({"number": 3, "book_id": 1, "key": "K3"})
        for r in ("order-1", "order-2"):
            final[r].append({"number": 3, "book_id": 1})
        final["books1"][1] = final["books2"][1] = book(4, 12)

    def refused_after_unknown(ops, final):  # K3: unknown, then a retry answered 503, yet taken
        add(ops, op("purchase", 3.0, 3.1, 504, None, book=1, key="K3", attempt=1))
        add(ops, op("purchase", 3.2, 3.3, 503, None, book=1, key="K3", attempt=2))
        applied_503([], final)

    def twice(ops, final):  # K1 taken twice
        final["takes"].append({"number": 3, "book_id": 1, "key": "K1"})
        for r in ("order-1", "order-2"):
            final[r].append({"number": 3, "book_id": 1})
        final["books1"][1] = final["books2"][1] = book(4, 12)

    def keyless_twice(ops, final):  # one key-less purchase (answered 503) but a generated take
        final["takes"].append({"number": 3, "book_id": 1, "key": "generated:x"})
        for r in ("order-1", "order-2"):
            final[r].append({"number": 3, "book_id": 1})
        final["books1"][1] = final["books2"][1] = book(4, 12)
        ops[7]["status"] = 503

    def keyless_unknown(ops, final):  # the same, but its outcome was unknown: may be taken
        keyless_twice(ops, final)
        ops[7]["status"] = None

    def keyless_overcount(ops, final):  # two takes for one key-less purchase of unknown outcome
        keyless_unknown(ops, final)
        final["takes"].append({"number": 4, "book_id": 1, "key": "generated:y"})
        for r in ("order-1", "order-2"):
            final[r].append({"number": 4, "book_id": 1})
        final["books1"][1] = final["books2"][1] = book(5, 11)

    def missing(ops, final):
        final["order-2"] = final["order-2"][1:]

    def accounting(ops, final):  # the 503 restock of 7 was applied
        final["books1"][1] = final["books2"][1] = book(4, 20)

    def doubled(ops, final):  # the acknowledged restock of 5 applied twice
        final["books1"][1] = final["books2"][1] = book(4, 18)

    def level(ops, final):
        final["books2"][1] = book(2, 14)

    def lost(ops, final):
        final["books1"][1] = final["books2"][1] = book(1, 13)

    def negative(ops, final):
        add(ops, op("info", 3.0, 3.1, 200, book(4, -1), book=1))

    def mismatch(ops, final):
        add(ops, op("info", 3.0, 3.1, 200, book(3, 12), book=1))

    def search(ops, final):
        add(ops, op("search", 3.0, 3.1, 200, {"items": []}, topic="t"))

    cases = [("clean", lambda o, f: None, []),
             ("stale read", stale, ["stale-read"]),
             ("503 applied", applied_503, ["503-applied"]),
             ("retry 503 after an unknown outcome, taken", refused_after_unknown, ["503-applied"]),
             ("key bought twice", twice, ["double-purchase"]),
             ("key-less 503 taken", keyless_twice, ["keyless-overcount"]),
             ("key-less unknown outcome taken", keyless_unknown, []),
             ("key-less bought twice", keyless_overcount, ["keyless-overcount"]),
             ("order missing on a replica", missing, ["acked-order-missing", "replica-orders"]),
             ("503 restock applied", accounting, ["stock-accounting"]),
             ("restock applied twice", doubled, ["stock-accounting"]),
             ("catalogs differ", level, ["replicas-not-level"]),
             ("lost write", lost, ["lost-write"]),
             ("negative stock seen", negative, ["negative-stock"]),
             ("one version, two stocks", mismatch, ["version-mismatch"]),
             ("search lists nothing", search, ["search-wrong"])]
    # The clean history's search asks topic "T": same as "t", case ignored.
    failed = 0
    for name, fn, want in cases:
        got, c = plant(fn)
        ok = got == sorted(want)
        failed += not ok
        print("self-test %-42s %s%s" % (name, "ok" if ok else "FAILED", "" if ok else
                                         " (wanted %s, got %s: %s)" % (want, got, [m for _, m, _ in c.violations])))
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(recheck(sys.argv[2]))
    if sys.argv[1:]:
        print(__doc__)
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    sys.exit(main())
