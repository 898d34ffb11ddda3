"""Control chart + run rules + capability for 10,000 lots: computation time (imports and data excluded).

Usage: .venv/bin/python benchmarks/trend_bench.py [--lots 10000] [--repeats 20]

Times, for one CQA's history of N lots (the generator's drift, shift and a planted out-of-trend lot):
the I-MR chart with all 8 Nelson rules; capability (Cp, Cpk, Pp, Ppk with intervals and Anderson-Darling);
both together; the same with an X-bar-R chart of 5 replicates per lot; EWMA and CUSUM. Median and best of
the repeats, after one warm-up call (first calls load scipy/statsmodels code paths).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from cgtqc.trend.capability import capability
from cgtqc.trend.charts import cusum_chart, ewma_chart, imr_chart, make_subgroups, xbar_chart
from cgtqc.trend.simulate import lot_history


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lots", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    n = a.lots
    h = lot_history(
        n, mean=100, sd=2, drift=(n // 2, 0.0005), shift=(3 * n // 4, 0.5), oot_lot=n - 10, seed=1
    )
    x = np.array(h.column("value"))
    reps = lot_history(n, mean=100, sd=2, replicates=5, seed=2)
    rv = np.array(reps.column("value"))
    keys = reps.column("lot")

    def chart_rules():
        return imr_chart(x, baseline=n // 5)

    def cap():
        return capability(x, 85, 115)

    def both():
        c = imr_chart(x, baseline=n // 5)
        return c, capability(x, 85, 115)

    def xbar():
        sub = make_subgroups(rv, keys)
        return xbar_chart(sub, "r"), capability(rv, 85, 115, groups=np.asarray(keys, dtype=object))

    rows = [
        ("I-MR chart + Nelson rules 1-8", chart_rules),
        ("capability (Cp/Cpk/Pp/Ppk, CIs, Anderson-Darling)", cap),
        ("I-MR + rules + capability", both),
        (f"X-bar-R ({n:,} lots x 5) + rules + capability", xbar),
        ("EWMA (lambda 0.2)", lambda: ewma_chart(x)),
        ("CUSUM (k 0.5, h 4)", lambda: cusum_chart(x)),
    ]
    print(
        f"{n:,} lots, {a.repeats} repeats, Python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.processor() or platform.machine()}"
    )
    print("| computation | median ms | best ms |\n|---|---:|---:|")
    for name, fn in rows:
        med, best = timed(fn, a.repeats)
        print(f"| {name} | {med * 1e3:.1f} | {best * 1e3:.1f} |")
    c, _ = both()
    print(
        f"violations found: {len(c.violations)} (planted lot {n - 10} flagged by rule 1: "
        f"{any(v.index == n - 10 and v.rule == 1 for v in c.violations)})"
    )


if __name__ == "__main__":
    main()
