"""The baseline: the stack's own nginx configuration in front of bench/baseline.c, a minimal
multi-threaded C libfcgi responder answering a fixed body (the size of /info/6's)."""

import os
import shutil
import signal
import subprocess
import sys
import time

from .common import BENCH, HarnessError, log, read_pid, run_logged
from .web import Client


def nginx_conf_for(conf, stack_var, base, port, baseline_port):
    """The stack's rendered nginx.conf with every path moved to `base`, the front's socket
    swapped for the baseline's and the public listener moved to baseline_port."""
    conf = conf.replace(stack_var + "/", base + "/")
    front = "server unix:" + base + "/run/front.sock;"
    if front not in conf:
        raise HarnessError("the front upstream was not found in the stack's nginx.conf")
    conf = conf.replace(front, "server unix:" + base + "/run/baseline.sock;")
    listen = "listen 127.0.0.1:%d " % port
    if listen not in conf:
        raise HarnessError("the public listener was not found in the stack's nginx.conf")
    return conf.replace(listen, "listen 127.0.0.1:%d " % baseline_port)


def stop_pid(pid, seconds):
    """SIGTERM, then SIGKILL after `seconds` if it is still there."""
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(int(seconds * 10)):
            time.sleep(0.1)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Baseline:
    def __init__(self, work, port, threads):
        self.work, self.base, self.port, self.threads = work, os.path.join(work, "baseline"), port, threads
        self.client = Client(port)
        self.nginx_pid = self.fcgi_pid = None

    def url(self, path=""):
        return self.client.base + path

    def start(self, stack, body_path):
        """Builds the responder, spawns it and starts the copied nginx; checks that it answers
        /info/6 with the very body of the stack's."""
        log("building bench/baseline.c")
        binary = os.path.join(self.work, "bazar-baseline")
        if subprocess.run(["gcc", "-O2", "-Wall", "-o", binary, os.path.join(BENCH, "baseline.c"), "-lfcgi",
                           "-lpthread"], stdout=sys.stderr).returncode != 0:
            raise HarnessError("gcc failed on bench/baseline.c")
        run, nginx = os.path.join(self.base, "run"), os.path.join(self.base, "nginx")
        for directory in (run, os.path.join(self.base, "log"), nginx):
            os.makedirs(directory, exist_ok=True)
        os.chmod(self.base, 0o755)
        os.chmod(nginx, 0o755)
        permissions = ["-M", "0600"]
        # The copied configuration runs nginx's workers as the stack's user (bazarctl's "user"
        # line, when started as root): let that group reach the baseline's socket.
        user = stack.nginx_setting("user")
        group = user[-1] if user else ""
        if os.geteuid() == 0 and group and group != "root":
            shutil.chown(run, "root", group)
            os.chmod(run, 0o750)
            permissions = ["-M", "0660", "-G", group]
        run_logged(["spawn-fcgi", "-s", os.path.join(run, "baseline.sock")] + permissions
                   + ["-P", os.path.join(run, "baseline.pid"), "--", binary, str(self.threads), body_path],
                   os.path.join(self.base, "log", "spawn.log"), "spawn-fcgi failed for the baseline")
        self.fcgi_pid = read_pid(os.path.join(run, "baseline.pid"))
        with open(stack.nginx_conf) as f:
            conf = nginx_conf_for(f.read(), stack.var, self.base, stack.port, self.port)
        conf_path = os.path.join(nginx, "nginx.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        os.chmod(conf_path, 0o644)
        run_logged(["nginx", "-p", nginx + "/", "-c", conf_path], os.path.join(self.base, "log", "nginx-start.log"),
                   "the baseline nginx did not start")
        # bazarctl's configuration keeps nginx's own pid file in nginx/ (not run/).
        pid_file = os.path.join(nginx, "nginx.pid")
        for _ in range(50):
            if os.path.exists(pid_file) and os.path.getsize(pid_file):
                break
            time.sleep(0.1)
        self.nginx_pid = read_pid(pid_file)
        try:
            status, _, body = self.client.request("GET", "/info/6", timeout=5)
        except OSError:
            status, body = 0, b""
        if status != 200:
            raise HarnessError("the baseline answered %d (see %s/log)" % (status, self.base))
        with open(body_path, "rb") as f:
            if f.read() != body:
                raise HarnessError("the baseline body differs from /info/6's")

    def stop(self):
        if self.nginx_pid:
            stop_pid(self.nginx_pid, 5)
        if self.fcgi_pid:
            stop_pid(self.fcgi_pid, 2)
        self.nginx_pid = self.fcgi_pid = None
