"""A Bazar stack started by nginx/bazarctl in a directory of the run's own, on a free port."""

import os
import re
import subprocess

from .common import BAZARCTL, CACHE_CAPACITY, log, read_pid, run_logged
from .web import Client


class Stack:
    def __init__(self, var, port, binaries, token, threads, cache_capacity=CACHE_CAPACITY):
        self.var, self.port, self.binaries, self.token, self.threads = var, port, binaries, token, threads
        self.cache_capacity = cache_capacity
        self.client = Client(port, token)
        self.up = False

    def environment(self):
        return dict(os.environ, BAZAR_VAR=self.var, BAZAR_PORT=str(self.port), BAZAR_BIN=self.binaries,
                    BAZAR_ADMIN_TOKEN=self.token, BAZAR_THREADS=str(self.threads),
                    BAZAR_CACHE_CAPACITY=str(self.cache_capacity))

    def bazarctl(self, *arguments, log_path, failure):
        """bazarctl with this stack's environment, its output in log_path (shown on failure)."""
        run_logged([BAZARCTL] + list(arguments), log_path, failure, env=self.environment())

    def quiet(self, *arguments):
        """bazarctl with its output discarded; whether it succeeded."""
        return subprocess.run([BAZARCTL] + list(arguments), env=self.environment(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0

    def start(self, log_path, failure):
        self.up = True
        self.bazarctl("up", log_path=log_path, failure=failure)

    def stop(self):
        """bazarctl down, once; the state stays where it is when it fails."""
        if self.up and not self.quiet("down"):
            log("bazarctl down failed (state in %s)" % self.var)
        self.up = False

    def url(self, path=""):
        return self.client.base + path

    def pid(self, name):
        return read_pid(os.path.join(self.var, "run", name + ".pid"))

    @property
    def nginx_conf(self):
        return os.path.join(self.var, "nginx", "nginx.conf")

    def nginx_setting(self, name):
        """The arguments of a top-level directive of the rendered nginx.conf ([] without one)."""
        with open(self.nginx_conf) as f:
            for line in f:
                words = line.replace(";", " ").split()
                if words and words[0] == name:
                    return words[1:]
        return []

    def nginx_workers(self):
        workers = self.nginx_setting("worker_processes")
        return int(workers[0]) if workers and re.fullmatch(r"[0-9]+", workers[0]) else 0
