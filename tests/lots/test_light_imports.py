"""Lot commands start fast: reading lots, trending and verdicts must not load scipy.stats or integrate."""

from __future__ import annotations

import subprocess
import sys


def test_lot_commands_do_not_import_scipy_stats():
    code = (
        "import sys, cgtqc.cli.lot, cgtqc.lots.service, cgtqc.lots.disposition, cgtqc.lots.trending;"
        "print(sorted(m for m in ('scipy.stats', 'scipy.integrate', 'scipy.optimize') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_trend_names_still_resolve():
    import cgtqc.trend as trend

    assert trend.tost.__module__ == "cgtqc.trend.comparability"
    assert trend.imr_chart.__module__ == "cgtqc.trend.charts"
    assert set(trend.__all__) <= set(dir(trend))
