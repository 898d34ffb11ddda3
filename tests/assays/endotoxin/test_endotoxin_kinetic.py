"""Kinetic LAL runs from generated reader exports: results vs truth, every validity rule by name."""

import pytest

from cgtqc.assays.endotoxin.engine import EndotoxinCriteria, analyze_kinetic, analyze_mat
from cgtqc.assays.endotoxin.sim import endotoxin_run, onset_seconds
from cgtqc.errors import InputError
from cgtqc.io.plate import read_layout, read_plate


def _analyze(run, **kw):
    plate = read_plate(run.export)
    return analyze_kinetic(plate, read_layout(run.layout, plate_format=plate.plate_format), **kw)


@pytest.mark.parametrize("truth,seed", [(0.8, 1), (0.2, 2), (3.0, 3)])
def test_valid_run_recovers_truth(tmp_path, truth, seed):
    res = _analyze(endotoxin_run(tmp_path, sample_eu_per_ml=truth, seed=seed))
    assert res.valid, res.failed_rules
    s = res.samples[0]
    assert s.eu_per_ml == pytest.approx(truth, rel=0.15)
    assert 50 <= s.ppc_recovery_pct <= 200
    assert abs(res.curve.r) >= 0.980 and res.curve.lowest == 0.005
    m = res.to_measurements()[0]
    assert m.cqa == "endotoxin" and m.unit == "EU/mL" and m.valid and m.loq == pytest.approx(0.05)
    assert len(m.provenance.inputs) == 2


def test_failed_r_is_invalid_and_named(tmp_path):
    res = _analyze(endotoxin_run(tmp_path, fault="r"))
    assert not res.valid
    assert "standard_curve_r" in res.failed_rules
    check = next(c for c in res.checks if c.name == "standard_curve_r")
    assert "0.98" in check.detail
    assert not res.to_measurements()[0].valid


def test_failed_spike_recovery_is_invalid_and_named(tmp_path):
    res = _analyze(endotoxin_run(tmp_path, fault="recovery"))
    assert not res.valid
    assert res.failed_rules == ["ppc_recovery[LOT 1:10]"]
    assert res.samples[0].ppc_recovery_pct < 50
    assert not res.to_measurements()[0].valid


def test_below_lowest_standard_is_reported_as_less_than(tmp_path):
    res = _analyze(endotoxin_run(tmp_path, sample_eu_per_ml=0.02, dilution=10))
    s = res.samples[0]
    assert s.below_lowest_standard and s.reportable == "< 0.05 EU/mL"


def test_above_highest_standard_asks_for_dilution(tmp_path):
    res = _analyze(endotoxin_run(tmp_path, sample_eu_per_ml=2000.0, dilution=10, spike_eu_per_ml=50))
    assert "sample_within_curve[LOT 1:10]" in res.failed_rules


def test_dilution_beyond_mvd_fails(tmp_path):
    res = _analyze(endotoxin_run(tmp_path), mvd=5.0)
    assert "dilution_within_mvd[LOT 1:10]" in res.failed_rules


def test_contaminated_negative_control_fails(tmp_path):
    run = endotoxin_run(tmp_path)
    text = run.export.read_text().replace("No onset", f"{onset_seconds(0.5):.1f}", 1)
    run.export.write_text(text)
    res = _analyze(run)
    assert any(r.startswith("negative_control[") for r in res.failed_rules)


def test_triplicate_rule_is_a_parameter(tmp_path):
    res = _analyze(endotoxin_run(tmp_path), criteria=EndotoxinCriteria(min_standard_replicates=4))
    assert "standard_replicates" in res.failed_rules


def test_rfc_method_expects_rising_reads(tmp_path):
    res = _analyze(endotoxin_run(tmp_path), method="rfc")
    assert "standard_curve_direction" in res.failed_rules


def test_missing_well_is_an_input_error(tmp_path):
    run = endotoxin_run(tmp_path)
    lines = run.export.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("A,"))
    cells = lines[i].split(",")
    cells[5] = ""
    lines[i] = ",".join(cells)
    run.export.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="A5.*no read"):
        _analyze(run)


def test_non_numeric_read_is_an_input_error(tmp_path):
    run = endotoxin_run(tmp_path)
    text = run.export.read_text()
    first = text.splitlines()[4].split(",")[1]
    run.export.write_text(text.replace(first, "12x4", 1))
    with pytest.raises(InputError, match="well A1.*not a number"):
        _analyze(run)


def test_unknown_method_and_role_are_input_errors(tmp_path):
    run = endotoxin_run(tmp_path)
    with pytest.raises(InputError, match="unknown method"):
        _analyze(run, method="gel")
    run.layout.write_text(run.layout.read_text().replace(",nc,", ",water,"))
    with pytest.raises(InputError, match="unknown role"):
        _analyze(run)


def test_mat_method_a_on_a_4pl_standard(tmp_path):
    # MAT: IL-6 OD rises with endotoxin; write a plate by hand from the 4PL truth
    from cgtqc.assays.potency.fit import curve
    from cgtqc.io.plate import LayoutEntry, write_grid, write_layout

    b, c, d, e = -1.1, 0.08, 2.4, 0.25
    entries, reads, k = [], {}, 0
    wells = [f"{r}{col}" for r in "ABCDEFGH" for col in range(1, 13)]

    def put(role, conc, dose=None, dil=1.0, spike=None):
        nonlocal k
        w = wells[k]
        k += 1
        entries.append(LayoutEntry(w, role, "S1" if role in ("sample", "ppc") else "", dose, 1, dil, spike))
        reads[w] = float(curve([conc], b, c, d, e)[0]) if conc > 0 else 0.07

    for s in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
        put("standard", s, s)
        put("standard", s, s)
    put("nc", 0)
    put("nc", 0)
    for _ in range(2):
        put("sample", 0.2, dil=2.0)
        put("ppc", 0.2 + 0.1, dil=2.0, spike=0.1)
    export = write_grid(tmp_path / "mat.csv", reads)
    layout = write_layout(tmp_path / "mat_layout.csv", entries)
    res = analyze_mat(read_plate(export), read_layout(layout, plate_format=96))
    assert res.valid, res.failed_rules
    assert res.samples[0].eu_per_ml == pytest.approx(0.4, rel=0.02)
    assert res.samples[0].ppc_recovery_pct == pytest.approx(100, abs=3)


def test_rfc_rate_run_recovers_truth(tmp_path):
    res = _analyze(endotoxin_run(tmp_path, sample_eu_per_ml=1.5, readout="rate", seed=6), method="rfc")
    assert res.valid, res.failed_rules
    assert res.curve.slope > 0
    assert res.samples[0].eu_per_ml == pytest.approx(1.5, rel=0.15)
    wrong = _analyze(endotoxin_run(tmp_path / "w", readout="rate"), method="kinetic_chromogenic")
    assert "standard_curve_direction" in wrong.failed_rules
