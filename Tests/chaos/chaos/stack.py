"""The single-host stack: nginx/bazarctl in a BAZAR_VAR of its own; faults are signals and
operator commands (bazarctl stop/start, data files removed, a full disk)."""

import errno
import glob
import os
import shutil
import signal
import subprocess
import sys
import threading

from .common import ALL, BAZARCTL, NGINXES, BINARY, SECRET_HEADER, TIERS, live_processes, log, nginx_workers_of, \
    process_state, signal_pid, cmdline_of, wait_dead
from .web import UnixHTTPConnection, get_json


class Stack:
    """The stack and what the nemesis does to it. Handles are pids."""

    KINDS = ["kill", "stop", "long-stop", "restart", "stop+kill", "compound", "restart-order", "disk-loss",
             "loss", "disk-full", "pile-up", "switchover"]
    TARGETS = TIERS + ["nginx", "nginx-internal", "nginx-worker"]

    def __init__(self, var, port, token, bin_dir, disk_mb=0):
        self.var = var
        self.port = port
        self.token = token
        self.env = dict(os.environ, BAZAR_VAR=var, BAZAR_PORT=str(port), BAZAR_ADMIN_TOKEN=token,
                        BAZAR_BIN=bin_dir)
        self.ctl_log = os.path.join(var, "bazarctl.out")
        self.lock = threading.Lock()
        self.paused = set()
        self.disk_mb = disk_mb
        self.mounted = False
        self.filler = os.path.join(var, "chaos-filler")

    # -- life cycle
    def mount(self):
        """BAZAR_VAR on a tmpfs of disk_mb MiB of its own (for disk-full): False if mount fails."""
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % self.disk_mb, "chaos-disk",
                               self.var], capture_output=True, text=True)
        if done.returncode != 0:
            log("cannot mount a tmpfs on %s (%s): no disk-full faults" % (self.var, done.stderr.strip()))
            return False
        self.mounted = True
        return True

    def start(self):
        if self.ctl("up", timeout=120) == 0:
            return True
        log("bazarctl up failed:")
        with open(self.ctl_log, errors="replace") as f:
            sys.stdout.write(f.read()[-4000:])
        return False

    def finish(self):
        self.unfill()
        self.ctl("down", timeout=120)
        keep = os.environ.get("CHAOS_KEEP", "") not in ("", "0")
        if keep and self.mounted:
            copy = self.var + "-kept"
            shutil.copytree(self.var, copy, symlinks=True, ignore_dangling_symlinks=True, dirs_exist_ok=True)
            log("kept %s (a copy of the tmpfs)" % copy)
        elif keep:
            log("kept %s" % self.var)
        if self.mounted:
            subprocess.run(["umount", self.var], capture_output=True)
        if not keep or self.mounted:
            shutil.rmtree(self.var, ignore_errors=True)

    def ctl(self, *args, timeout=90):
        try:
            out = open(self.ctl_log, "ab")
        except OSError:     # a full disk: bazarctl still runs, its output is lost
            out = open(os.devnull, "wb")
        with out:
            try:
                out.write(("$ bazarctl %s\n" % " ".join(args)).encode())
                out.flush()
            except OSError:
                pass
            try:
                # A session of its own: a Ctrl-C on the terminal must not cut bazarctl short
                # (the cleanup runs bazarctl down after it).
                return subprocess.run([BAZARCTL, *args], env=self.env, stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=out, timeout=timeout,
                                      start_new_session=True).returncode
            except subprocess.TimeoutExpired:
                return -1

    # -- reading
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

    def internal_get_many(self, paths, timeout=5.0):
        return [self.internal_get(p, timeout) for p in paths]

    def pid_file_pid(self, name):
        try:
            with open(os.path.join(self.var, "run", name + ".pid")) as f:
                return int("".join(c for c in f.read() if c.isdigit()))
        except (OSError, ValueError):
            return None

    def is_role(self, name, args):
        """Whether a process with arguments `args` is NAME of this stack (bazarctl's check_running
        decides by argv[0] alone; this also names the role and the stack)."""
        if not args:
            return False
        if name in NGINXES:
            conf = "/nginx/%s.conf" % name
            return args[0].startswith("nginx: master") and (self.var + conf) in args[0]
        return (os.path.basename(args[0]) == BINARY[name] and "--name" in args
                and args[args.index("--name") + 1:args.index("--name") + 2] == [name]
                and any(a.startswith(self.var + "/") for a in args))

    def running_pid(self, name):
        """The pid of NAME if its pid file names a live instance of it, else None."""
        pid = self.pid_file_pid(name)
        if pid is None or process_state(pid) in (None, "Z", "X"):
            return None
        args = cmdline_of(pid)
        if name in NGINXES:
            ok = bool(args) and (args[0].startswith("nginx: master") or args[0] == "nginx"
                                 or args[0].endswith("/nginx"))
        else:
            ok = bool(args) and os.path.basename(args[0]) == BINARY[name]
        return pid if ok else None

    def instances(self):
        """{role: [pids]}: every live process acting as each role of this stack. (Not the
        supervisor: the waiting parents launch() forks share its command line.)"""
        out = {name: [] for name in ALL}
        for pid, args in live_processes():
            for name in out:
                if self.is_role(name, args):
                    out[name].append(pid)
        return out

    def pid_files(self):
        return {name: self.pid_file_pid(name) for name in ALL}

    def nginx_workers(self):
        master = self.running_pid("nginx")
        return [] if master is None else nginx_workers_of(master)

    def pids(self):
        """{name: pid} of the processes running now (the pid files' that run)."""
        return {name: self.running_pid(name) for name in ALL}

    # -- faults
    def handle_of(self, target, pick=0.0):
        if target == "nginx-worker":
            workers = sorted(self.nginx_workers())
            return workers[int(pick * len(workers))] if workers else None
        return self.running_pid(target)

    def describe(self, handle):
        return str(handle)

    def cont_all(self):
        for pid in list(self.paused) + [p for p in self.pid_files().values() if p] + self.nginx_workers():
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
            wait_dead(pid, 2.0)
        return err or ""

    def restart(self, target):
        with self.lock:
            rc = self.ctl("restart", target)
        return "" if rc == 0 else "bazarctl restart exit %d" % rc

    def operator_stop(self, name):
        with self.lock:
            rc = self.ctl("stop", name)
        return "" if rc == 0 else "bazarctl stop exit %d" % rc

    def operator_start(self, name):
        with self.lock:
            rc = self.ctl("start", name)
        return "" if rc == 0 else "bazarctl start exit %d" % rc

    def switchover(self, primary):
        """bazarctl switchover, as an operator would for maintenance: a note of how it went (the
        primary refuses when its backup is not in sync, and hands nothing over)."""
        with self.lock:
            rc = self.ctl("switchover")
        return "switched over from %s" % primary if rc == 0 else "bazarctl switchover exit %d" % rc

    def wipe(self, name):
        """The replica's disk lost: its data files removed (it is stopped)."""
        files = glob.glob(os.path.join(self.var, "data", name + ".db*"))
        for path in files:
            os.unlink(path)
        return "" if files else "no data files"

    def can_fill(self):
        return self.mounted

    def fill_disk(self):
        """Fills BAZAR_VAR's tmpfs to the last byte."""
        chunk = b"\0" * (1 << 20)
        try:
            with open(self.filler, "wb", buffering=0) as f:
                while True:
                    try:
                        f.write(chunk)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            return str(e)
                        if len(chunk) == 1:
                            return ""
                        chunk = chunk[:len(chunk) // 16]
        except OSError as e:
            return str(e)

    def unfill(self):
        try:
            os.unlink(self.filler)
        except OSError:
            pass

    def down(self):
        """The processes not running now."""
        return [name for name in ALL if not self.running_pid(name)]

    def start_down(self):
        """The harness's own repair (only after the supervision check): bazarctl start whatever is
        down. Returns the names it started."""
        started = []
        for name in self.down():
            self.operator_start(name)
            started.append(name)
        return started

    def after_fault(self):
        """Nothing: what died stays dead until the supervisor starts it again."""
