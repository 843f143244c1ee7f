"""The report of a run: the table on stdout, OUT/bench.json and OUT/bench.png."""

import json
import os

from .chart import draw
from .findings import Findings
from .rows import MIB, POSTGRES, PURCHASE_SPREAD, SCENARIOS
from .table import print_notes, print_table
from .targets import RSS_LIMIT_MIB, all_met, judge


def figures_json(f):
    """bench.json's content."""
    rows, extra, rss, rss_nocache = f.rows, f.extra, f.rss, f.rss_nocache
    return {
        "meta": f.meta,
        "baseline_rps": f.base,
        "baseline_spread": f.base_spread,
        "scenarios": [rows[n] for n in SCENARIOS if n in rows],
        "checks": {"purchase": f.purchase, "oversell_probe": f.probe, "mix": f.mix, "overload": f.overload,
                   "purchase_spread": f.spread},
        "purchases_and_postgres": [extra[n] for n in (PURCHASE_SPREAD,) + POSTGRES if n in extra],
        "postgres": f.postgres,
        "containers": f.crossing,
        "front_rss": {
            "peak_mib": f.hwm_mib,
            "now_mib": (rss.get("vm_rss_kib") or 0) / MIB if rss else None,
            "cache": rss["stats"]["cache"] if rss else None,
            "peak_mib_without_cache": rss_nocache["vm_hwm_kib"] / MIB if rss_nocache and rss_nocache.get("vm_hwm_kib") else None,
            "limit_mib": RSS_LIMIT_MIB,
            "pass": f.hwm_mib is not None and f.hwm_mib < RSS_LIMIT_MIB,
        },
        "scale": f.scale,
        "targets_met": all_met(f),
    }


def report(results, out, meta):
    """Judges what the run left in RESULTS, prints the table and writes OUT's files."""
    os.makedirs(out, exist_ok=True)
    f = Findings(results, meta)
    judge(f)
    print_table(f)
    print_notes(f)
    figures = figures_json(f)
    json_path = os.path.join(out, "bench.json")
    with open(json_path + ".tmp", "w") as file:
        json.dump(figures, file, indent=2)
        file.write("\n")
    os.replace(json_path + ".tmp", json_path)
    chart = draw(f, out)
    print()
    print("figures: " + json_path)
    print("chart:   " + (chart or "(none)"))
    print("targets met: " + ("all" if figures["targets_met"] else "no (see FAIL rows)"))
