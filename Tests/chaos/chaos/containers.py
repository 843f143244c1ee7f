"""A compose deployment (compose.yaml, brought up by Tests/containers/run) and its faults, all
applied from the host with Docker and the kernel's tools."""

import json
import os
import signal
import subprocess
import sys
import time

from .common import SECRET_HEADER, argv0_of, child_pids, log, nginx_workers_of, signal_pid
from .web import parse_json, public_get


# Run by ContainerStack.internal_calls inside nginx's network namespace (nsenter): requests to
# the internal listener, the secret on stdin's first line and one "METHOD PATH" a line after
# it; prints {"status", "body"} a line for each, in order.
NETNS_CALLS = r"""
import http.client, json, sys
host, port, timeout, header = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
secret = sys.stdin.readline().strip()
for line in sys.stdin.read().splitlines():
    method, path = line.split()
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request(method, path, headers={header: secret})
        answer = conn.getresponse()
        print(json.dumps({"status": answer.status, "body": answer.read().decode("utf-8", "replace")}))
    except (OSError, http.client.HTTPException) as e:
        print(json.dumps({"status": None, "body": str(e)}))
    finally:
        conn.close()
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
    CHAOS_COMPOSE_PROJECT), left running afterwards. Handles are container records (docker
    inspect's), or pids for nginx workers. What each kind does here:
      kill       docker kill -s KILL: the machine gone (Docker's restart policy leaves a killed
                 container alone: the nemesis starts it again a second after the fault, as an
                 operator would a machine);
      crash      kill -9 of the server inside the container (the tier, or an nginx worker): the
                 container's restart policy must bring it back, nothing else does;
      stop, long-stop   docker pause (the cgroup freezer, SIGSTOP for every process);
      restart    docker restart (nginx included);
      restart-order, disk-loss   docker stop and docker start; a disk lost is the data files
                 removed from the container's volume (its mount on the host) while it is stopped;
      partition  iptables rules in the target's network namespace for 1-5 s (partition_rules).
    disk-full is not available (the volumes are the host's disk).
    """

    KINDS = ["kill", "crash", "stop", "long-stop", "restart", "stop+kill", "compound", "restart-order",
             "disk-loss", "loss", "pile-up", "partition", "switchover"]
    # "front": one of the service's containers, however many it scaled to.
    TARGETS = ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-worker"]
    DATA_DIR = "/var/lib/bazar"

    def __init__(self, project, port, token, secret):
        self.project = project
        self.port = port
        self.token = token
        self.secret = secret
        self.paused = set()     # containers paused, and nginx workers stopped (pids)
        self.killed = set()     # containers docker-killed, started again after the fault
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
        return self.internal_get_many([path], timeout)[0]

    def internal_get_many(self, paths, timeout=5.0):
        return self.internal_calls([("GET", path) for path in paths], timeout)

    def internal_calls(self, calls, timeout=5.0):
        """(method, path) requests through nginx's internal listener, with the deployment's
        secret: from inside nginx's network namespace (traffic never leaves the container's own
        address), one process for all of them; (status, parsed body) for each."""
        paths = [path for _, path in calls]
        where = self.nginx()
        if where is None:
            return [(None, "nginx is not running")] * len(paths)
        pid, address = where
        try:
            done = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", NETNS_CALLS, address,
                                   "8081", str(timeout), SECRET_HEADER],
                                  input=self.secret + "\n" + "\n".join("%s %s" % call for call in calls) + "\n",
                                  capture_output=True, text=True, timeout=timeout * len(paths) + 10)
            answers = [json.loads(line) for line in done.stdout.splitlines()]
        except (subprocess.TimeoutExpired, ValueError) as e:
            return [(None, str(e))] * len(paths)
        out = [(None, a["body"]) if a["status"] is None else (a["status"], parse_json(a["body"].encode()))
               for a in answers]
        return out + [(None, "no answer")] * (len(paths) - len(out))

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
        self.cont_all()
        self.start_down()

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

    # -- faults
    def handle_of(self, target, pick=0.0):
        if target == "nginx-worker":
            workers = sorted(self.worker_pids())
            return workers[int(pick * len(workers))] if workers else None
        running = sorted(self.running(target), key=lambda c: c["Name"])
        return running[int(pick * len(running))] if running else None

    @staticmethod
    def describe(handle):
        return str(handle) if isinstance(handle, int) else handle["Name"].lstrip("/")

    def pause(self, h):
        if isinstance(h, int):
            if signal_pid(h, signal.SIGSTOP) is None:
                self.paused.add(h)
        elif self.docker("pause", h["Id"])[0] == 0:
            self.paused.add(h["Id"])

    def resume(self, h):
        if isinstance(h, int):
            signal_pid(h, signal.SIGCONT)
            self.paused.discard(h)
        else:
            self.docker("unpause", h["Id"])
            self.paused.discard(h["Id"])

    def kill(self, h):
        if isinstance(h, int):      # an nginx worker: its master starts another
            return signal_pid(h, signal.SIGKILL) or ""
        if self.docker("kill", "-s", "KILL", h["Id"])[0] != 0:
            return "docker kill failed"
        self.killed.add(h["Id"])
        return ""

    def crash(self, h):
        """kill -9 of the server inside the container: its restart policy must bring it back."""
        if isinstance(h, int):
            return signal_pid(h, signal.SIGKILL) or ""
        pid = self.server_pid(h)
        return (signal_pid(pid, signal.SIGKILL) or "") if pid else "no server process"

    def after_fault(self):
        """The machines docker kill took away come back (an operator's docker start)."""
        for cid in list(self.killed):
            time.sleep(1.0)
            self.docker("start", cid)
            self.killed.discard(cid)

    def restart(self, target):
        c = self.handle_of(target)
        if c is None:
            return "not running"
        rc, out = self.docker("restart", "-t", "10", c["Id"])
        return "" if rc == 0 else "docker restart: " + out

    def service_containers(self, name):
        return [c for c in self.containers() if self.service(c) == name]

    def operator_stop(self, name):
        notes = [out for c in self.service_containers(name) for rc, out in [self.docker("stop", "-t", "10", c["Id"])]
                 if rc != 0]
        return "; ".join(notes)

    def operator_start(self, name):
        notes = [out for c in self.service_containers(name) for rc, out in [self.docker("start", c["Id"])] if rc != 0]
        return "; ".join(notes)

    def switchover(self, primary):
        """What docs/failover.md tells an operator of the containers to do: POST
        /<primary>/switchover on nginx's internal listener."""
        status, body = self.internal_calls([("POST", "/%s/switchover" % primary)], timeout=10.0)[0]
        return "switched over from %s" % primary if status == 200 else "switchover from %s: %s %s" % (primary, status, body)

    def wipe(self, name):
        """The data files removed from the (stopped) replica's volume, through its mount on the host."""
        removed = 0
        for c in self.service_containers(name):
            for m in c.get("Mounts") or []:
                if m.get("Destination") == self.DATA_DIR and m.get("Source"):
                    for entry in os.listdir(m["Source"]):
                        if ".db" in entry:
                            os.unlink(os.path.join(m["Source"], entry))
                            removed += 1
        return "" if removed else "no data files found in the volume"

    def can_fill(self):
        return False

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

    def partition(self, c, target, duration, stop):
        note = self.cut(c, target)
        try:
            stop.wait(duration)
        finally:
            self.heal()
        return note

    def cont_all(self):
        for c in self.containers():
            if c["State"]["Paused"]:
                self.docker("unpause", c["Id"])
        for pid in [p for p in self.paused if isinstance(p, int)]:
            signal_pid(pid, signal.SIGCONT)
        self.paused.clear()
        self.heal()
        self.after_fault()

    def instances(self):
        """Not counted here: Docker runs one container per name (each front's its own)."""
        return None

    def pids(self):
        return {}

    def pid_files(self):
        return {}

    def down(self):
        """The services with a container neither running nor being restarted by its policy."""
        return sorted({self.service(c) for c in self.containers()
                       if not c["State"]["Running"] and not c["State"]["Restarting"]})

    def start_down(self):
        down = [c for c in self.containers() if not c["State"]["Running"] and not c["State"]["Restarting"]]
        for c in down:
            self.docker("start", c["Id"])
        return sorted({self.service(c) for c in down})
