# Bazar: build, run and test. The stack itself is driven by nginx/bazarctl.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# swift may live outside the default PATH (e.g. /opt/swift/usr/bin).
export PATH := $(PATH):/opt/swift/usr/bin

BAZARCTL := nginx/bazarctl

.PHONY: all deps build up down status test bench clean fuzz schemathesis cve-check chaos images simulate simulate-test \
	test-containers test-swarm test-machines

all: build

# Install only what is missing (commands and headers), quietly skip otherwise.
deps:
	@missing=""; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v spawn-fcgi >/dev/null 2>&1 || missing="$$missing spawn-fcgi"; \
	command -v cgi-fcgi >/dev/null 2>&1 || missing="$$missing libfcgi-bin"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	[ -f /usr/include/fcgiapp.h ] || missing="$$missing libfcgi-dev"; \
	[ -f /usr/include/sqlite3.h ] || missing="$$missing libsqlite3-dev"; \
	python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
		else echo "make deps: missing:$$missing (run as root or install sudo)" >&2; exit 1; fi; \
		echo "make deps: installing$$missing"; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

build:
	swift build -c release

up: deps build
	@$(BAZARCTL) up

down:
	@$(BAZARCTL) down

status:
	@$(BAZARCTL) status

# First Tests/docs/check (docs/API.md against openapi.yaml, every link in the docs). Then the
# XCTests, two at a time (each integration test starts a stack of its own, in its own temporary
# BAZAR_VAR on its own port, so two never collide; on this 2-core machine the suite took 15 min
# one at a time and 8 min two at a time, every test asserting what holds at any speed). They
# point BAZAR_BIN at .build/debug themselves.
# After the XCTest suites: 10,000 seeds of the protocol's simulation (make simulate-test), the
# OpenAPI spec against a live stack (schemathesis), the libfcgi CVE-2025-23016 probe, a short
# bounded fuzzing run (make fuzz runs longer) and 20 s of chaos;
# last, Tests/leftovers: no test left a stack of its own running. The container tests are
# make test-containers, run by CI after make test (together they take over 15 minutes).
# The last line sums up the XCTest run ("N passed, N failed", from .build/xunit.xml).
test: deps
	python3 Tests/docs/check
	swift build
	swift test --disable-swift-testing --parallel --num-workers 2 --xunit-output .build/xunit.xml 2>&1 | tee .build/swift-test.log
	$(MAKE) simulate-test
	bash Tests/schemathesis/run
	bash Tests/security/cve-2025-23016
	FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) bash fuzz/run
	python3 Tests/chaos/chaos.py --self-test
	CHAOS_SECONDS=$(TEST_CHAOS_SECONDS) CHAOS_FAULTS=$(TEST_CHAOS_FAULTS) CHAOS_BIN=$(CURDIR)/.build/debug BAZAR_FRONTS=2 python3 Tests/chaos/chaos.py
	python3 Tests/leftovers
	@sed -nE 's/.*<testsuite [^>]*tests="([0-9]+)" failures="([0-9]+)".*/\1 \2/p' .build/xunit.xml | head -n 1 | \
		{ read -r executed failed; echo "xctest: $$((executed - failed)) passed, $$failed failed"; }

# The deterministic simulation of the replication protocol (docs/simulation.md), in release for
# speed. make simulate runs SEEDS seeds with every fault (a primary's lost disk included) and
# stops at the first broken promise, printing its seed and schedule; SIMULATE_FLAGS adds flags
# (--long, --hole NAME, --first S, --strict). make simulate-test is make test's share: TEST_SEEDS
# seeds with disks lost on catalog-2 only (docs/simulation.md says why).
SEEDS ?= 100000
SIMULATE_FLAGS ?=
TEST_SEEDS ?= 10000
simulate:
	swift build -c release --product bazar-simulate
	.build/release/bazar-simulate --seeds $(SEEDS) $(SIMULATE_FLAGS)
simulate-test:
	swift build -c release --product bazar-simulate
	.build/release/bazar-simulate --seeds $(TEST_SEEDS) --lose-disks catalog-2

# libFuzzer over the front's routing and parsing (fuzz/FuzzRouting.swift), FUZZ_SECONDS long.
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 20
# make test's fault-injection run (on the debug binaries, with two fronts): every fault kind,
# loss too (a replica gone 8-14 s, its disk lost or not: the backup takes over, promise 7);
# make chaos runs CHAOS_SECONDS.
TEST_CHAOS_SECONDS ?= 20
TEST_CHAOS_FAULTS ?= kill,stop,long-stop,restart,stop+kill,compound,restart-order,disk-loss,loss,disk-full,pile-up,switchover
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run

# openapi.yaml checked by schemathesis against a stack of its own (needs swift build).
schemathesis:
	swift build
	bash Tests/schemathesis/run

# Does the installed libfcgi survive the CVE-2025-23016 record? (needs swift build)
cve-check:
	swift build
	bash Tests/security/cve-2025-23016

bench: deps
	python3 bench/run

# Jepsen-style fault injection (Tests/chaos/chaos.py, docs/chaos.md): a stack of its own under
# client load while a nemesis runs a schedule of faults (kill -9, long and short SIGSTOPs,
# restarts, restart orders, lost and full disks, compound faults) and repairs nothing itself,
# then supervision, availability and every consistency promise of API.md checked against the
# recorded history and the final state. CHAOS_SECONDS long; CHAOS_SEED (printed at start with
# the schedule) replays a run; CHAOS_FAULTS=none runs without faults.
CHAOS_SECONDS ?= 60
# Every fault kind (the same as CHAOS_FAULTS=all).
CHAOS_FAULTS ?= $(TEST_CHAOS_FAULTS)
chaos: deps build
	python3 Tests/chaos/chaos.py --self-test
	CHAOS_SECONDS=$(CHAOS_SECONDS) CHAOS_FAULTS=$(CHAOS_FAULTS) python3 Tests/chaos/chaos.py

clean:
	@if [ -d var/run ]; then BAZAR_VAR="$(CURDIR)/var" $(BAZARCTL) down || true; fi
	rm -rf .build var

# The four container images (bazar-front, -catalog, -order, -nginx) from the Dockerfile:
# installs and starts Docker if needed, makes debian:bookworm-slim from Debian's packages
# when it cannot be pulled, builds static release binaries on the host. See docker/.
images: deps
	bash docker/build-images

# The container deployment (compose.yaml) under test (Tests/containers/run): images built;
# with docker compose, one front then three: the API, consistency and partition tests; then
# the same file on a one-node Docker Swarm: the API. Always taken down afterwards.
test-containers: deps
	bash Tests/containers/run

# Only the one-node swarm part of test-containers.
test-swarm: deps
	bash Tests/containers/run swarm

# The stack on three machines (Docker-in-Docker nodes of one swarm, images pulled from a local
# registry) and whole machines lost under load (Tests/machines/run, docs/machines.md). Slow
# (minutes): not part of `make test`; CI runs it after test-containers.
test-machines: images
	bash Tests/machines/run
