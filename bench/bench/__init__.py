"""The modules of bench/run (make bench): see that file's docstring for what it measures.

common      the repository's paths, the books the scenarios use, logging, processes
settings    the environment's knobs
tools       the tools a run needs, and the release binaries it measures
web         HTTP to a listener: requests, stock and order snapshots, waiting for level replicas
stack       a stack started by nginx/bazarctl
baseline    the C libfcgi responder behind a copy of the stack's nginx configuration
wrk         wrk runs and the figures bench/lua/report.lua prints
scenarios   the single-host scenarios and the write checks' snapshots
postgres    the PostgreSQL anchor (runs bench/postgres)
scale       the catalog at 7, 10,000 and 100,000 books against a 7-book reference stack
containers  the same scenarios against compose.yaml's deployment
rows        the report's rows and their ratios to the baseline
checks      the write checks, the overload, the containers' and the scale rows' verdicts
findings    everything the report says, read from the results directory
targets     the Performance issue's targets, PASS or FAIL
table       the printed table
chart       bench.png (gnuplot)
report      the table, bench.json and bench.png
runner      one run, and its clean-up whatever happens
"""
