"""Orthogonal % full capsids: titer ratio, A260/A280 (Sommer et al. 2003), AUC / mass photometry peaks."""

from __future__ import annotations

import numpy as np
import pytest

from cgtqc.errors import InputError
from cgtqc.seq.aav.fullness import (
    AUC_WINDOWS_S,
    AVOGADRO,
    beside_sequencing,
    from_absorbance,
    from_distribution,
    from_titers,
    mass_photometry_windows,
    read_distribution,
)


def test_titer_ratio_and_ci():
    e = from_titers(2e13, 4e13, vg_cv=0.1, capsid_cv=0.1)
    assert e.full_pct == pytest.approx(50.0)
    lo, hi = e.ci95
    assert lo < 50 < hi and hi / 50 == pytest.approx(np.exp(1.96 * np.hypot(0.1, 0.1)))
    with pytest.raises(InputError):
        from_titers(0, 1e13)


@pytest.mark.parametrize("full_fraction", [0.1, 0.5, 0.9])
def test_absorbance_recovers_known_mixture(full_fraction):
    # forward model: capsids 1e13/mL, a fraction with a 4.7-kb genome
    genome_nt, cap_per_ml = 4700, 1e13
    cap_m = cap_per_ml * 1000 / AVOGADRO
    dna_m = cap_m * full_fraction
    dna_e260 = 0.020 * 1000 * genome_nt * 330
    a260 = dna_e260 * dna_m + 2.19e6 * cap_m
    a280 = dna_e260 * 0.52 * dna_m + 3.72e6 * cap_m
    e = from_absorbance(a260, a280, genome_nt)
    assert e.full_pct == pytest.approx(100 * full_fraction, rel=1e-9)
    assert e.details["capsids_per_ml"] == pytest.approx(cap_per_ml, rel=1e-9)
    # empty capsids read A260/A280 = 0.59; full ones well above 1.3
    assert from_absorbance(0.59 * a280, a280, genome_nt).full_pct == pytest.approx(0.0, abs=0.5)
    with pytest.raises(InputError):
        from_absorbance(0.3, 1.0, genome_nt)


def test_auc_and_mass_photometry_peaks(tmp_path):
    s = np.linspace(40, 130, 901)
    signal = (
        30 * np.exp(-((s - 64) ** 2) / 8)
        + 10 * np.exp(-((s - 80) ** 2) / 8)
        + 60 * np.exp(-((s - 95) ** 2) / 8)
    )
    p = tmp_path / "auc.csv"
    p.write_text("s,c(s)\n" + "".join(f"{a},{b}\n" for a, b in zip(s, signal, strict=True)))
    x, y = read_distribution(p)
    e = from_distribution(x, y, AUC_WINDOWS_S, "AUC c(s)")
    assert e.full_pct == pytest.approx(60.0, abs=0.5)
    assert e.empty_pct == pytest.approx(30.0, abs=0.5)
    weighted = from_distribution(
        x, y, AUC_WINDOWS_S, "AUC c(s) A260", {"empty": 1.0, "partial": 2.0, "full": 3.0}
    )
    assert weighted.full_pct == pytest.approx(100 * 20 / (30 + 5 + 20), abs=0.5)
    w = mass_photometry_windows(4700)
    m = np.linspace(3000, 6500, 3501)
    counts = 40 * np.exp(-((m - 3740) ** 2) / 5000) + 60 * np.exp(-((m - 3740 - 1551) ** 2) / 5000)
    mp = from_distribution(m, counts, w, "mass photometry")
    assert mp.full_pct == pytest.approx(60.0, abs=1.0)
    rows = beside_sequencing([e], 80.0)
    assert rows[0]["denominator"].startswith("DNA-bearing") and rows[2]["full_pct"] == pytest.approx(
        e.full_pct * 0.8
    )


def test_distribution_input_errors(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("s,c\n1,2\n2,abc\n")
    with pytest.raises(InputError, match="line 3"):
        read_distribution(p)
    p.write_text("s,c\n1,2\n")
    with pytest.raises(InputError, match="fewer than 3"):
        read_distribution(p)
    with pytest.raises(InputError, match="not found"):
        read_distribution(tmp_path / "none.csv")
