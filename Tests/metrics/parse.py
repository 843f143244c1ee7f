#!/usr/bin/env python3
"""Parses Prometheus text exposition on stdin with prometheus_client's own parser and prints
it as JSON: [{"name", "type", "help", "samples": [{"name", "labels", "value"}]}]. A text the
parser rejects exits non-zero."""
import json
import sys

if sys.argv[1:] in (["-h"], ["--help"]):
    print(__doc__)
    sys.exit(0)

from prometheus_client.parser import text_string_to_metric_families

families = [{"name": family.name, "type": family.type, "help": family.documentation,
             "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
            for family in text_string_to_metric_families(sys.stdin.read())]
json.dump(families, sys.stdout)
