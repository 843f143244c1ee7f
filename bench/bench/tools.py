"""The tools a run needs (installed with apt-get when root and missing), and the release
binaries it measures (BAZAR_BIN, or built with swift)."""

import os
import shutil
import subprocess
import sys

from .common import REPO, HarnessError, log

FCGI_HEADER = "/usr/include/fcgiapp.h"
# Each command, and the Debian packages that bring it.
PACKAGES = (("wrk", ["wrk"]), ("gnuplot", ["gnuplot-nox"]), ("gcc", ["gcc", "libc6-dev"]),
            (FCGI_HEADER, ["libfcgi-dev"]), ("nginx", ["nginx"]), ("spawn-fcgi", ["spawn-fcgi"]),
            ("curl", ["curl"]))
# curl: bazarctl asks the stack's /health with it.
REQUIRED = ("wrk", "gcc", "nginx", "spawn-fcgi", "curl")
TIERS = ("bazar-front", "bazar-catalog", "bazar-order")


def present(tool):
    return os.access(tool, os.R_OK) if tool.startswith("/") else shutil.which(tool) is not None


def apt_install(packages):
    """apt-get update and install, as root where apt-get exists; False when it cannot or fails."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("apt-get update")
    if subprocess.run(["apt-get", "update", "-qq"], stdout=sys.stderr, env=env).returncode != 0:
        return False
    log("apt-get install " + " ".join(packages))
    return subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages,
                          stdout=sys.stderr, env=env).returncode == 0


def ensure_tools():
    """Installs what is missing where it can; raises HarnessError when a required tool still is.
    gnuplot is optional: without it there is no chart."""
    missing = [package for tool, packages in PACKAGES if not present(tool) for package in packages]
    if missing and not apt_install(missing):
        log("could not install: %s (not root, or apt failed)" % " ".join(missing))
    for tool in REQUIRED:
        if not present(tool):
            raise HarnessError("%s is missing (install it, e.g. apt-get install %s)" % (tool, tool))
    if not present(FCGI_HEADER):
        raise HarnessError("libfcgi headers are missing (apt-get install libfcgi-dev)")
    if not present("gnuplot"):
        log("warning: gnuplot is missing; no chart will be drawn")


def release_binaries(settings):
    """The directory of the tiers' release binaries: BAZAR_BIN, or `swift build -c release`'s."""
    if settings.bin:
        directory = os.path.abspath(settings.bin)
        log("using binaries in %s (BAZAR_BIN)" % directory)
    else:
        if shutil.which("swift") is None:
            raise HarnessError("swift is missing (set BAZAR_BIN to prebuilt release binaries)")
        scratch = ["--scratch-path", os.path.abspath(settings.scratch)] if settings.scratch else []
        log("building release binaries (swift build -c release %s)" % " ".join(scratch))
        build = ["swift", "build", "-c", "release"] + scratch
        if subprocess.run(build, cwd=REPO, stdout=sys.stderr).returncode != 0:
            raise HarnessError("swift build -c release failed")
        directory = subprocess.run(build + ["--show-bin-path"], cwd=REPO, capture_output=True,
                                   text=True, check=True).stdout.strip()
    for binary in TIERS:
        if not os.access(os.path.join(directory, binary), os.X_OK):
            raise HarnessError("%s/%s is missing" % (directory, binary))
    return directory
