"""Everything the report says, read from what a run left in RESULTS: the rows, the baseline,
the checks and the front's memory."""

from .checks import containers_check, mix_check, overload_check, probe_check, purchase_check, scale_check
from .rows import MIB, PURCHASE_SPREAD, baselines, load, load_rows, set_ratios


class Findings:
    def __init__(self, results, meta):
        self.meta = meta
        self.rows, self.extra = load_rows(results)
        self.base_runs, self.base, self.base_spread = baselines(self.rows)
        set_ratios(self.rows, self.extra, self.base)
        self.purchase = purchase_check(results)
        self.probe = probe_check(results)
        self.mix = mix_check(results)
        self.spread = mix_check(results, PURCHASE_SPREAD)
        self.rss = load(results, "rss.json")
        self.rss_nocache = load(results, "rss-nocache.json")
        self.hwm_mib = self.rss["vm_hwm_kib"] / MIB if self.rss else None
        self.entries = self.rss["stats"]["cache"]["entries"] if self.rss else None
        self.capacity = self.rss["stats"]["cache"]["capacity"] if self.rss else None
        self.overload = overload_check(self.rows)
        self.crossing = containers_check(self.rows)
        self.scale = scale_check(results)
        self.postgres = load(results, "postgres.json")
