#!/usr/bin/env python3
"""make chaos: a Jepsen-style fault-injection test of Bazar's consistency promises.

It starts a stack of its own (nginx/bazarctl up in a temporary BAZAR_VAR, on a tmpfs of its
own when disk-full is among the faults, on a free loopback port), adds a few hundred books,
drives it with client threads while a nemesis runs a schedule of faults drawn from the seed,
records a history of every operation, then judges, without repairing anything itself first:
that every process that died was started again by the stack's own supervisor, one instance
per role; that writes are served again once the faults are healed; then lets the replicas
level and checks API.md's "Consistency promises" against the history and the final state.
It exits 1 when it finds a violation, 2 when the harness itself failed. docs/chaos.md says
what each fault and check is for, and which bugs each can find.

With CHAOS_STACK=containers it drives a compose deployment that runs already (compose.yaml,
brought up by Tests/containers/run) through its published port; the nemesis uses Docker and
the kernel from the host (chaos/containers.py). The deployment is left running.

Run:
    make chaos                                      # builds release, self-test, 60 s with faults
    CHAOS_SECONDS=20 python3 Tests/chaos/chaos.py   # short run (the hook for make test)
    CHAOS_FAULTS=none CHAOS_SECONDS=30 python3 Tests/chaos/chaos.py   # no nemesis: must pass
    CHAOS_FAULTS=disk-loss,kill CHAOS_TARGETS=catalog-1,front python3 Tests/chaos/chaos.py
    CHAOS_STACK=containers CHAOS_COMPOSE_PROJECT=P CHAOS_PORT=N CHAOS_TOKEN=T python3 Tests/chaos/chaos.py
    python3 Tests/chaos/chaos.py --self-test        # the checker on made-up histories, no stack
    python3 Tests/chaos/chaos.py --check FILE       # the checks again on a CHAOS_HISTORY file

Environment:
    CHAOS_SECONDS   length of the load + fault phase (default 60)
    CHAOS_SEED      seed of every random choice (default: random; printed at start with the
                    fault schedule it makes, so a run can be replayed; thread timing varies)
    CHAOS_FAULTS    "all" (default: every kind below), "classic" (kill, stop, restart,
                    stop+kill; containers: also crash, partition), "none", or a comma list of
                    kill, stop, long-stop, restart, stop+kill, compound, restart-order,
                    disk-loss, loss, disk-full, pile-up (processes); crash, partition (containers)
    CHAOS_TARGETS   comma list of what the nemesis may hit (default: every tier, nginx,
                    nginx-worker; with BAZAR_FRONTS=N, front-2 ... front-N too)
    CHAOS_BIN       binaries (default <repo>/.build/release), passed as BAZAR_BIN
    CHAOS_STACK     "processes" (default: a stack of its own) or "containers", which takes
                    CHAOS_COMPOSE_PROJECT (the compose project), CHAOS_PORT (its published
                    port on 127.0.0.1), CHAOS_TOKEN (its admin token) and
                    CHAOS_INTERNAL_SECRET_FILE (default <repo>/var/secrets/internal_secret)
    CHAOS_READERS, CHAOS_BUYERS, CHAOS_ADMINS, CHAOS_ADDERS   client threads (4, 4, 1, 1)
    CHAOS_BOOKS     books added before the run, in eight topics of their own (default 200)
    CHAOS_TIMEOUT   client socket timeout in seconds (default 5)
    CHAOS_DISK_MB   size of the tmpfs BAZAR_VAR lives on for disk-full (default 256)
    CHAOS_RESTART_SECONDS   bound on the stack restarting what died, after the run (60)
    CHAOS_WRITE_SECONDS     bound on the first write served once everything runs (60)
    CHAOS_QUIESCE_SECONDS   bound on the wait for the replicas to level (default 60)
                    (the three bounds only stop a hang: each wait ends once it holds)
    CHAOS_HISTORY   write the whole history (JSON lines: ops, faults, final state) there
    CHAOS_KEEP=1    keep the temporary BAZAR_VAR (logs, databases) instead of removing it
    CHAOS_VERBOSE=1 print every fault as it ends

Clients: readers GET /info/{id} (some with Cache-Control: no-cache, some with If-None-Match
naming the last version they saw), /search/{topic} page by page, /orders/{n} of orders answered
200 and /orders?after=N&limit=M pages; buyers POST /purchase/{id}, most under an
Idempotency-Key retried on 503, 504, 429 and connection errors until settled, some without
(never retried); an admin PUTs /update/{id} (prices, stock_delta restocks; never retried); an
adder POSTs /books, most under a key (retried likewise), each addition with a title of its own.

Violations (each printed with the ops involved; docs/chaos.md has the full list):
    stale-read, stale-304, missing-book, search-stale, search-wrong,
    acked-order-unreadable, orders-page-missing, orders-page-wrong, order-read-wrong,
    lost-write, negative-stock, stock-accounting, acked-order-missing, replica-orders,
    double-purchase, double-addition, keyless-overcount, 503-applied, 409-applied,
    replicas-not-level, health-ok-diverged, no-quiescence, version-mismatch,
    unexpected-status, not-restarted, stray-process, pid-file, disk-full-crash, no-failover,
    unavailable, checker-error, harness

Only the Python 3 standard library is used (and mount for the tmpfs; with containers, the
docker, nsenter and iptables commands). All traffic goes to 127.0.0.1 and the stack's own unix
sockets; with containers, to the published port on 127.0.0.1 and, for reading the final
state, from inside nginx's container to its own internal listener.
"""

import sys

from chaos.runner import main, recheck
from chaos.selftest import self_test

if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(recheck(sys.argv[2]))
    if sys.argv[1:]:
        print(__doc__)
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    sys.exit(main())
