"""The container deployment (compose.yaml: one container per component, FastCGI over TCP on a
Docker network, the port published on 127.0.0.1): cache-hit, purchase and cache-miss again,
the single-host stack idling meanwhile."""

import os
import subprocess
import sys
import time

from .common import BIG_STOCK, CACHE_CAPACITY, PURCHASE_BOOK, REPO, HarnessError, log, run_logged
from .web import Client


class Deployment:
    """compose.yaml's deployment as a compose project of this run's own, on `port`."""

    def __init__(self, project, port, token, threads):
        self.project, self.port, self.token, self.threads = project, port, token, threads
        self.cache_capacity = CACHE_CAPACITY
        self.client = Client(port, token)
        self.up = False

    def compose(self, *arguments):
        """The docker/compose command line and environment for this project."""
        env = dict(os.environ, BAZAR_PORT=str(self.port), BAZAR_ADMIN_TOKEN=self.token,
                   BAZAR_THREADS=str(self.threads), BAZAR_CACHE_CAPACITY=str(self.cache_capacity))
        return [os.path.join(REPO, "docker", "compose"), "-p", self.project, "-f", "compose.yaml"] + list(arguments), env

    def run(self, log_path, failure, *arguments):
        command, env = self.compose(*arguments)
        run_logged(command, log_path, failure, env=env, cwd=REPO)

    def down(self):
        if not self.up:
            return
        command, env = self.compose("down", "-v", "--remove-orphans", "--timeout", "5")
        if subprocess.run(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            log("compose down failed (project %s)" % self.project)
        self.up = False


def docker_runs():
    """docker/ensure-docker: whether a Docker engine answers (installed and started if need be)."""
    return subprocess.run([os.path.join(REPO, "docker", "ensure-docker")], stdout=sys.stderr).returncode == 0


def measure(meter, deployment, work):
    """`make images`, the deployment up, its three scenarios, the deployment down."""
    log("containers: make images")
    run_logged(["bash", os.path.join(REPO, "docker", "build-images")], os.path.join(work, "images.log"),
               "make images failed", tail_lines=20)
    client = deployment.client
    log("containers: compose project %s on 127.0.0.1:%d" % (deployment.project, deployment.port))
    deployment.up = True
    deployment.run(os.path.join(work, "compose-up.log"), "compose up failed", "up", "-d")
    if not client.wait_health(120):
        raise HarnessError("the container deployment did not become healthy")
    client.get("/info/6")
    meter.measure("containers-hit", client.base, "/info/6", "static")
    if not client.set_stock(PURCHASE_BOOK, BIG_STOCK):
        raise HarnessError("could not set the stock in the container deployment")
    meter.measure("containers-purchase", client.base, "/purchase/%d" % PURCHASE_BOOK, "purchase")
    log("containers: the front again with BAZAR_CACHE_CAPACITY=0")
    deployment.cache_capacity = 0
    deployment.run(os.path.join(work, "compose-front.log"), "compose up front failed", "up", "-d", "front")
    # The recreated front is up once it answers /stats with its capacity; nginx renders its new
    # address within 2 s.
    for _ in range(120):
        try:
            if client.get_json("/stats")["cache"]["capacity"] == 0:
                break
        except (HarnessError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    if not client.wait_health(60):
        raise HarnessError("the container deployment did not come back without a cache")
    meter.measure("containers-miss", client.base, "/info/6", "static", {"cache_capacity": 0})
    deployment.down()
