"""Standard curves, absolute quantities, LOD95, LOQ and relative expression against known truth."""

import math

import numpy as np
import pytest

from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.cq_tables import CqRecord
from cgtqc.assays.qpcr.quant import (
    curve_from_records,
    fit_standard_curve,
    lod_probit,
    loq_from_standards,
    quantify_samples,
    relative_expression,
    relative_from_records,
)
from cgtqc.errors import InputError


def test_perfect_curve_has_textbook_efficiency():
    q = [1e6, 1e5, 1e4, 1e3, 1e2]
    cq = [40 - 3.3219 * math.log10(x) for x in q]
    c = fit_standard_curve(q, cq, target="T")
    assert c.slope == pytest.approx(-3.3219) and c.intercept == pytest.approx(40)
    assert c.efficiency_pct == pytest.approx(100.0, abs=0.01) and c.r2 == pytest.approx(1.0)
    assert c.accepted
    assert c.quantity(40 - 3.3219 * 3.5)[0] == pytest.approx(10**3.5)


def test_curve_acceptance_fails_outside_90_110_and_low_r2():
    q = [1e6, 1e5, 1e4, 1e3]
    shallow = fit_standard_curve(q, [40 - 2.9 * math.log10(x) for x in q])  # E = 121%
    assert not shallow.accepted
    assert [c.name for c in shallow.checks if not c.passed] == ["standard_curve_efficiency"]
    noisy = fit_standard_curve(q, [20.0, 24.5, 26.0, 33.0])
    assert not {c.name: c.passed for c in noisy.checks}["standard_curve_r2"]


def test_curve_needs_three_levels():
    with pytest.raises(InputError, match="at least 3 quantity levels"):
        fit_standard_curve([10, 10, 100], [30, 30.1, 27])


def test_simulated_plate_quantity_interval_covers_truth():
    layout = qpcr_sim.standard_series("T", top=1e6, levels=5) + qpcr_sim.replicate_layout(
        [("U1", "T", "unkn", 5e3, None), ("U2", "T", "unkn", 2e5, None)], 3
    )
    recs = qpcr_sim.records(qpcr_sim.plate(layout, efficiency={"T": 1.95}, rng=11))
    curve = curve_from_records(recs)
    assert curve.efficiency_pct == pytest.approx(95.0, abs=3.0) and curve.accepted
    got = {s.sample: s for s in quantify_samples(recs, curve)}
    for name, truth in (("U1", 5e3), ("U2", 2e5)):
        s = got[name]
        assert s.ci_low < truth < s.ci_high and s.detected == 3
    assert loq_from_standards(curve, recs) == pytest.approx(1e2)


def test_lod95_probit_recovers_poisson_limit():
    # with single-copy sensitivity the 95% hit rate is at -ln(0.05) = 3.0 copies per reaction
    levels = [0.5, 1, 2, 3, 5, 8, 15]
    data = qpcr_sim.hit_rate_series(levels, replicates=60, rng=5)
    res = lod_probit([d[0] for d in data], [d[1] for d in data], [d[2] for d in data])
    assert res.lod95 == pytest.approx(-math.log(0.05), rel=0.35)
    assert res.ci_low < res.lod95 < res.ci_high
    assert res.checks[0].passed and res.lowest_level_all_detected is not None


def test_lod_refuses_flat_hit_rates_and_bad_counts():
    flat = lod_probit([1, 2, 3], [5, 5, 5], [5, 5, 5])
    assert flat.lod95 is None and not flat.checks[0].passed
    with pytest.raises(InputError):
        lod_probit([1, 2, 3], [6, 5, 5], [5, 5, 5])


def test_livak_is_two_to_minus_ddcq():
    res = relative_expression([25.0, 25.0], [27.0, 27.0], [18.0, 18.0], [18.5, 18.5])
    assert res.method == "livak"
    assert res.ratio == pytest.approx(2**1.5)  # ΔΔCq = (25-18) - (27-18.5) = -1.5
    assert res.ci_low == pytest.approx(res.ratio) == pytest.approx(res.ci_high)


def test_pfaffl_ratio_and_interval_match_monte_carlo():
    gen = np.random.default_rng(1)
    ts, tc, rs, rc = ([m + gen.normal(0, 0.2, 3)] for m in (24.0, 26.0, 18.0, 18.4))
    ts, tc, rs, rc = (list(x[0]) for x in (ts, tc, rs, rc))
    res = relative_expression(
        ts, tc, rs, rc, efficiency_target=1.9, efficiency_reference=1.95, efficiency_target_sd=0.02
    )
    dt, dr = np.mean(tc) - np.mean(ts), np.mean(rc) - np.mean(rs)
    assert res.method == "pfaffl"
    assert res.ratio == pytest.approx(1.9**dt / 1.95**dr)
    # Monte Carlo of the same error model: SD of log ratio agrees with the propagated SD within 10%
    n = 200_000
    sds = [np.std(v, ddof=1) / math.sqrt(3) for v in (ts, tc, rs, rc)]
    m = [np.mean(v) + gen.normal(0, s, n) for v, s in zip((ts, tc, rs, rc), sds, strict=True)]
    et = 1.9 + gen.normal(0, 0.02, n)
    logr = (m[1] - m[0]) * np.log(et) - (m[3] - m[2]) * np.log(1.95)
    z_half = math.log(res.ci_high / res.ratio)
    from scipy import stats

    df = res.provenance.parameters["df"]
    assert z_half / stats.t.ppf(0.975, df) == pytest.approx(np.std(logr), rel=0.1)


def test_relative_from_records_names_missing_groups():
    recs = [
        CqRecord("A1", "s", "T", cq=24.0),
        CqRecord("A2", "c", "T", cq=25.0),
        CqRecord("A3", "s", "R", cq=18.0),
    ]
    with pytest.raises(InputError, match="no wells for target 'R' in sample 'c'"):
        relative_from_records(recs, "T", "R", "s", "c")
    with pytest.raises(InputError, match="amplification factor"):
        relative_expression([24], [25], [18], [18], efficiency_target=95.0)
