"""Melt-curve peaks against rdmlpython's results for test_mca_1, and on a synthetic two-product curve."""

import csv

import numpy as np
import pytest

from cgtqc.assays.qpcr.melt import melt_peaks, melt_rdml_run
from cgtqc.assays.qpcr.rdml import RdmlDocument, RdmlRun, read_rdml
from cgtqc.errors import InputError


def test_product_tm_matches_rdmlpython_within_half_a_degree(shared):
    res = melt_rdml_run(read_rdml(shared("qpcr", "test_mca_1_raw_data.rdml")))
    with open(shared("qpcr", "test_mca_1_out_results.tsv"), encoding="utf-8") as fh:
        ref = {row[1]: row[8] for row in csv.reader(fh, delimiter="\t")}
    assert len(res) == 50
    diffs = []
    for m in res:
        if ref[m.well] == "":  # rdmlpython: no product at the expected Tm (these wells melt at ~80 °C)
            assert m.product_tm_c is None and "no product with expected melting temperature" in m.notes
            assert any(abs(p - 80.1) < 0.3 for p in m.peaks_c)
        else:
            diffs.append(m.product_tm_c - float(ref[m.well]))
    assert len(diffs) == 40
    assert max(abs(d) for d in diffs) < 0.5  # rdmlpython reports on a ~0.23 °C grid


def _melt(t, tms, widths, amps):
    f = 1000.0 - 5.0 * (t - 60.0)
    for tm, w, a in zip(tms, widths, amps, strict=True):
        f += a / (1.0 + np.exp((t - tm) / w))
    return f


def test_two_products_are_both_found():
    t = np.arange(60.0, 95.0, 0.25)
    gen = np.random.default_rng(0)
    f = _melt(t, [78.0, 86.0], [0.5, 0.6], [800.0, 3000.0]) + gen.normal(0, 1.0, len(t))
    m = melt_peaks(t, f, expected_tm_c=86.2)
    assert m.product_tm_c == pytest.approx(86.0, abs=0.15)
    assert [round(p) for p in m.peaks_c] == [78, 86]
    assert "several products with different melting temperatures detected" in m.notes


def test_melt_needs_points_and_data():
    with pytest.raises(InputError, match="at least 7 points"):
        melt_peaks(np.arange(3.0), np.arange(3.0))
    empty = RdmlDocument(
        path="x.rdml", version="1.4", targets={}, samples={}, runs=[RdmlRun("e", "r", 12, 8)]
    )
    with pytest.raises(InputError, match="no melt data"):
        melt_rdml_run(empty)
