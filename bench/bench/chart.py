"""bench.png: the rows as horizontal bars, throughput over the baseline and p99 latency,
drawn by gnuplot (none without it)."""

import os
import shutil
import subprocess

from .checks import OVERLOAD_LIMIT_MS
from .common import log
from .rows import BASELINES, SCENARIOS
from .targets import RSS_LIMIT_MIB

GREY, GREEN, RED, BLUE = 0x888888, 0x228833, 0xcc3311, 0x4477aa
SPREAD_WARNING = 0.10


def panel_targets(rows, base, overload, hwm_mib):
    """Per scenario, what each panel of the chart can show of its target: the throughput
    target as a ratio to the baseline and the p99 target in ms (None: not one of this panel),
    each with whether it is met; and a note for a target neither panel shows."""
    ratio_targets, p99_targets, notes = {}, {}, {}
    if "cache-hit" in rows:
        r = rows["cache-hit"]
        ratio_targets["cache-hit"] = (0.9, "0.9x", r["ratio"] is not None and r["ratio"] >= 0.9)
        p99_targets["cache-hit"] = (5.0, "5 ms", r["p99_ms"] <= 5.0)
    if "cache-miss" in rows:
        r = rows["cache-miss"]
        ratio_targets["cache-miss"] = (0.4, "0.4x", r["ratio"] is not None and r["ratio"] >= 0.4)
    if "purchase" in rows and base:
        r = rows["purchase"]
        ratio_targets["purchase"] = (1500.0 / base, "1500 ok/s", r["ok_rps"] >= 1500)
        p99_targets["purchase"] = (50.0, "50 ms", r["p99_ms"] <= 50.0)
    if overload:
        p99_targets["overload-probe"] = (OVERLOAD_LIMIT_MS, "2 s", overload["probe_p99_ms"] <= OVERLOAD_LIMIT_MS)
        notes["overload"] = "%.0f%% refused on purpose (no ratio)" % (100 * overload["refused_share"])
        notes["overload-probe"] = "%.1f%% of probes served 200" % (100 * overload["probe_served"])
    if "cache-fill" in rows and hwm_mib is not None:
        notes["cache-fill"] = "target: front RSS %.0f MiB < %.0f: %s" % (
            hwm_mib, RSS_LIMIT_MIB, "met" if hwm_mib < RSS_LIMIT_MIB else "MISSED")
    return ratio_targets, p99_targets, notes


def write_chart(rows, base, base_runs, base_spread, overload, hwm_mib, meta, png_path, dat_path, gp_path):
    """bench.png: one row per scenario, two panels of horizontal bars sharing the rows:
    throughput as a ratio to the mean baseline (the baselines' spread shaded, flagged when
    over SPREAD_WARNING) and p99 latency (log scale). A bar is green or red only when its own
    panel shows the target (a black tick), else blue; baselines grey."""
    names = [n for n in SCENARIOS if n in rows]
    ratio_targets, p99_targets, notes = panel_targets(rows, base, overload, hwm_mib)

    def colour(name, targets):
        if name in BASELINES:
            return GREY
        return BLUE if name not in targets else (GREEN if targets[name][2] else RED)

    def text(value):
        return '"%s"' % value.replace('"', "'")

    with open(dat_path, "w") as f:
        f.write("# row scenario ratio ratio_colour ratio_target ratio_label p99_ms p99_colour p99_target p99_label"
                " ratio_label_x p99_label_x\n")
        for index, name in enumerate(names):
            r = rows[name]
            ratio = r["ratio"]
            ratio_label = (" %.2fx  %.0f/s" % (ratio, r["rps"])) if ratio is not None else " " + notes.get(name, "no ratio")
            if ratio is not None and name in notes:
                ratio_label += "  (%s)" % notes[name]
            p99 = r["p99_ms"] if r["requests"] else None
            # Labels start after the bar and after the target's tick.
            ratio_x = max([ratio or 0.0] + ([ratio_targets[name][0]] if name in ratio_targets else []))
            p99_x = max([p99 or 0.1] + ([p99_targets[name][0]] if name in p99_targets else []))
            f.write("%d %s %s %d %s %s %s %d %s %s %.4f %.3f\n" % (
                index, text(name), "NaN" if ratio is None else "%.4f" % ratio, colour(name, ratio_targets),
                "%.4f" % ratio_targets[name][0] if name in ratio_targets else "NaN",
                text(ratio_label + ("  target %s" % ratio_targets[name][1] if name in ratio_targets else "")),
                "NaN" if p99 is None else "%.3f" % p99, colour(name, p99_targets),
                "%.3f" % p99_targets[name][0] if name in p99_targets else "NaN",
                text((" %.1f ms" % p99 if p99 is not None else " -")
                     + ("  target %s" % p99_targets[name][1] if name in p99_targets else "")), ratio_x, p99_x))

    ratios = [rows[n]["ratio"] for n in names if rows[n]["ratio"] is not None]
    ratio_max = max(ratios + [t[0] for t in ratio_targets.values()] + [1.0]) * 1.55
    p99s = [rows[n]["p99_ms"] for n in names if rows[n]["requests"]]
    p99_max = max(p99s + [t[0] for t in p99_targets.values()] + [1.0]) * 40
    band = ""
    spread_text = ""
    if base and len(base_runs) > 1:
        low, high = min(base_runs) / base, max(base_runs) / base
        band = "set object 1 rect from %.4f, graph 0 to %.4f, graph 1 behind fc rgb '#e8e8e8' fs solid noborder\n" % (low, high)
        spread_text = "baselines %s req/s: %.0f%% apart%s" % (
            " and ".join("%.0f" % x for x in base_runs), 100 * base_spread,
            " - ratios are uncertain by about as much" if base_spread > SPREAD_WARNING else "")
    spread_colour = "#cc3311" if base_spread is not None and base_spread > SPREAD_WARNING else "#333333"
    height = 170 + 30 * len(names)
    with open(gp_path, "w") as f:
        f.write("""set terminal pngcairo size 1400,%(height)d noenhanced font ',10'
set output '%(png)s'
set style fill solid 0.85 border -1
set key off
set yrange [%(rows)g:-0.7]
set ytics scale 0 nomirror
set grid xtics lc rgb '#dddddd'
set tmargin at screen %(top)g
set bmargin at screen %(bottom)g
set multiplot title '%(title)s'
set label 1 '%(spread)s' at screen 0.5, screen %(spread_y)g center tc rgb '%(spread_colour)s'
set label 2 'grey: baseline (shaded: the two baselines); green/red: the target drawn on this panel (black tick) met/missed; blue: no target here' at screen 0.13, screen 0.018 left font ',9'
# Panel 1: throughput as a ratio to the mean baseline.
set lmargin at screen 0.13
set rmargin at screen 0.55
set title 'req/s / mean baseline (%(base)s req/s)'
set xrange [0:%(ratio_max)g]
set xtics nomirror
%(band)sset arrow 1 from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb '#555555'
plot '%(dat)s' using ($3/2):1:(0):3:($1-0.35):($1+0.35):4:ytic(2) with boxxyerror lc rgb variable, \\
     '' using 5:($1-0.45):(0):(0.9) with vectors nohead lw 3 lc rgb 'black', \\
     '' using 11:1:6 with labels left offset 0.3,0 font ',9'
# Panel 2: p99 latency, log scale.
unset object 1
unset arrow 1
unset label 1
unset label 2
set lmargin at screen 0.58
set rmargin at screen 0.98
set title 'p99 latency, ms (log scale)'
set logscale x
set xrange [0.1:%(p99_max)g]
set format y ''
plot '%(dat)s' using (sqrt(0.1*$7)):1:(0.1):7:($1-0.35):($1+0.35):8:ytic('') with boxxyerror lc rgb variable, \\
     '' using 9:($1-0.45):(0):(0.9) with vectors nohead lw 3 lc rgb 'black', \\
     '' using 12:1:10 with labels left offset 0.3,0 font ',9'
unset multiplot
""" % {"height": height, "png": png_path, "rows": len(names) - 0.3, "top": 1 - 95.0 / height, "bottom": 60.0 / height,
       "title": "Bazar: %s connections, %s s per scenario, commit %s" % (meta.get("connections"), meta.get("seconds"),
                                                                         meta.get("commit")),
       "spread": spread_text, "spread_y": 1 - 45.0 / height, "spread_colour": spread_colour,
       "base": "%.0f" % base if base else "-", "ratio_max": ratio_max, "band": band, "dat": dat_path,
       "p99_max": p99_max})


def draw(f, out):
    """Writes bench.dat and bench.gp into OUT and runs gnuplot: the chart's path, None when
    there is none."""
    png_path = os.path.join(out, "bench.png")
    gp_path = os.path.join(out, "bench.gp")
    write_chart(f.rows, f.base, f.base_runs, f.base_spread, f.overload, f.hwm_mib, f.meta, png_path,
                os.path.join(out, "bench.dat"), gp_path)
    chart = None
    if shutil.which("gnuplot"):
        done = subprocess.run(["gnuplot", gp_path], capture_output=True, text=True)
        if done.returncode == 0 and os.path.exists(png_path):
            chart = png_path
        else:
            log("gnuplot failed: " + done.stderr.strip())
    else:
        log("gnuplot is missing: no chart")
    return chart
