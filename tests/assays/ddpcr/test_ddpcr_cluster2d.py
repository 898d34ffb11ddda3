"""Two-dimensional droplet classification of duplex wells: the analyst's calls in the public files,
simulated wells with crosstalk, rain and unequal clusters (known truth), overlap flagging, reporting."""

from __future__ import annotations

import dataclasses
import glob
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cgtqc.assays.ddpcr import sim
from cgtqc.assays.ddpcr.cluster2d import classify_2d
from cgtqc.assays.ddpcr.engine import poisson_concentration, quantify_amplitudes, quantify_file
from cgtqc.assays.ddpcr.readers_amplitudes import DropletAmplitudes
from cgtqc.cli import app
from cgtqc.errors import InputError

# (λ A only, λ B only, λ linked): unequal clusters, linked targets, a rare and a dense channel
GRID = [
    (0.3, 0.05, 0.0),
    (0.05, 0.3, 0.0),
    (0.02, 0.02, 0.4),
    (0.6, 0.6, 0.0),
    (0.01, 0.8, 0.0),
    (1.2, 0.1, 0.1),
    (0.1, 0.1, 0.05),
    (0.003, 0.3, 0.0),
]


def _agreement(mode: str, **kw):
    """Targets of the public `small` wells whose automatic count lies in the analyst's 95% interval."""
    inside, methods = [], []
    for f in sorted(glob.glob(str(SMALL / "small_*_Amplitude.csv"))):
        ref = quantify_file(f, use_file_calls=True, droplet_volume_nl=0.91)
        auto = quantify_file(f, droplet_volume_nl=0.91, classification=mode, **kw)
        for a, r in zip(auto, ref, strict=True):
            inside.append(r.poisson_ci_low <= a.copies_per_ul <= r.poisson_ci_high)
            methods.append(a.classification_method)
    return inside, methods


SMALL = None


@pytest.fixture
def small(shared):
    global SMALL
    SMALL = shared("ddpcr", "small")
    return SMALL


def test_public_duplex_wells_agree_with_the_analyst(small):
    """5 real duplex wells (10 targets) with QuantaSoft's analyst calls: 1-D thresholds put 4/10 counts
    inside the analyst's 95% Poisson interval, the 2-D default 8/10. The well still outside with both
    methods is C05 (~100 positives; its 11-droplet Ch1+Ch2- cluster is not seeded apart from Ch1+Ch2+)."""
    one_d, m1 = _agreement("1d")
    two_d, m2 = _agreement("auto")
    assert sum(one_d) == 4 and set(m1) == {"1d"}
    assert sum(two_d) >= 8 and set(m2) == {"2d"}
    assert two_d[6:8] == [False, False]  # C05, both targets
    for f in ("small_A01", "small_A05", "small_C01", "small_F05"):
        assert all(w.valid for w in quantify_file(small / f"{f}_Amplitude.csv", droplet_volume_nl=0.91))


def _wells(model, seed0, reps=3):
    for i, (la, lb, lab) in enumerate(GRID):
        for rep in range(reps):
            rng = np.random.default_rng(seed0 + 10 * i + rep)
            w = sim.simulate_well(
                rng, "A01", lambda_a_only=la, lambda_b_only=lb, lambda_linked=lab, model=model
            )
            yield w, DropletAmplitudes("sim", "A01", "quantasoft", w.ch1, w.ch2)


def _inside_truth(model, seed0, **kw):
    hits = {"1d": 0, "auto": 0}
    n = 0
    for w, d in _wells(model, seed0):
        n += 2
        for mode in hits:
            got_wells = quantify_amplitudes(d, classification=mode, inputs=[], **kw)
            for got, true_pos in zip(got_wells, (w.pos1.sum(), w.pos2.sum()), strict=True):
                est = poisson_concentration(int(true_pos), w.n_droplets)
                hits[mode] += est.ci_low <= got.copies_per_ul <= est.ci_high
    return hits, n


def test_simulated_crosstalk_and_rain_known_truth():
    """Crosstalk moving the Ch1+ cluster a third of the way up in Ch2, linked and negative rain, unequal
    clusters: counts inside the true count's 95% interval, 1-D vs 2-D (24 wells, 48 targets)."""
    light_rain = dataclasses.replace(sim.DUPLEX_CHALLENGE, rain_fraction=0.004)
    hits, n = _inside_truth(light_rain, 200)
    assert n == 48 and hits["auto"] == 48 and hits["1d"] <= 36
    # heavy rain (3% of positives smeared between clusters): the analyst-like edge rule leaves late
    # droplets negative (within 5% of truth); the midpoint rule counts them and recovers the truth
    hits, _ = _inside_truth(sim.DUPLEX_CHALLENGE, 100, rain_rule="midpoint")
    assert hits["auto"] >= 44 and hits["1d"] <= 24
    for w, d in _wells(sim.DUPLEX_CHALLENGE, 100, reps=1):
        truth = (w.pos1.sum(), w.pos2.sum())
        for got, true_pos in zip(quantify_amplitudes(d, inputs=[]), truth, strict=True):
            assert abs(got.positives - true_pos) <= 0.05 * true_pos + 3
            assert got.classification_method == "2d" and got.valid


def test_crosstalk_cluster_is_not_called_positive():
    """Ch1+Ch2- droplets lifted in Ch2 by crosstalk: the 1-D Ch2 threshold calls them positive, 2-D not."""
    rng = np.random.default_rng(100)
    w = sim.simulate_well(rng, "A01", lambda_a_only=0.3, lambda_b_only=0.05, model=sim.DUPLEX_CHALLENGE)
    d = DropletAmplitudes("sim", "A01", "quantasoft", w.ch1, w.ch2)
    truth = int(w.pos2.sum())
    _, ch2_1d = quantify_amplitudes(d, classification="1d", inputs=[])
    _, ch2_2d = quantify_amplitudes(d, inputs=[])
    assert ch2_1d.positives > 4 * truth
    assert abs(ch2_2d.positives - truth) <= 0.04 * truth
    c = classify_2d(w.ch1, w.ch2)
    assert c.duplex and c.present["ch1+ch2-"] and c.boundaries[2].to_dict()["b"] > 0.1  # tilted line


def test_simulator_makes_crosstalk_rain_and_negative_rain():
    m = sim.DUPLEX_CHALLENGE
    w = sim.simulate_well(np.random.default_rng(5), "A01", lambda_a_only=0.2, lambda_b_only=0.2,
                          lambda_linked=0.2, model=m, n_droplets=20_000)
    pn, nn, pp = w.pos1 & ~w.pos2, ~w.pos1 & ~w.pos2, w.pos1 & w.pos2
    lift = np.median(w.ch2[pn]) - np.median(w.ch2[nn])
    assert lift > 0.3 * (m.pos_ch2 - m.neg_ch2)  # crosstalk proportional to the Ch1 signal
    between = pp & (w.ch1 < m.pos_ch1 - 4 * m.sd_pos) & (w.ch2 < np.median(w.ch2[pp]) - 4 * m.sd_pos)
    assert 0.01 < between.sum() / pp.sum() < 0.06  # diagonal (linked) rain
    assert ((w.ch1[nn] > m.neg_ch1 + 2 * m.sd_neg) & (w.ch1[nn] < m.neg_ch1 + 4 * m.sd_neg)).sum() > 20


def test_overlapping_clusters_fail_instead_of_guessing():
    m = sim.AmplitudeModel(pos_ch1=2600.0, sd_neg=250.0, sd_pos=400.0, rain_fraction=0.0)
    w = sim.simulate_well(np.random.default_rng(3), "A01", lambda_a_only=0.5, lambda_b_only=0.3, model=m,
                          n_droplets=20_000)
    d = DropletAmplitudes("sim", "A01", "quantasoft", w.ch1, w.ch2)
    for mode in ("auto", "2d"):
        ch1, _ = quantify_amplitudes(d, classification=mode, inputs=[])
        check = {c.name: c for c in ch1.checks}["clusters_resolved"]
        assert not check.passed and "overlap" in check.detail and not ch1.valid
    # separated enough: resolved and counted right
    m = dataclasses.replace(m, pos_ch1=3600.0)
    w = sim.simulate_well(np.random.default_rng(3), "A01", lambda_a_only=0.5, lambda_b_only=0.3, model=m,
                          n_droplets=20_000)
    ch1, _ = quantify_amplitudes(DropletAmplitudes("sim", "A01", "q", w.ch1, w.ch2), inputs=[])
    assert ch1.valid and ch1.classification_method == "2d" and abs(ch1.positives - w.pos1.sum()) < 40


def test_method_and_boundaries_are_reported(tmp_path):
    rng = np.random.default_rng(8)
    duplex = sim.simulate_well(rng, "A01", lambda_a_only=0.2, lambda_b_only=0.3, model=sim.DUPLEX_CHALLENGE)
    single = sim.simulate_well(rng, "A02", lambda_a_only=0.4)
    p_dup = sim.write_amplitude_file(tmp_path / "p_A01_Amplitude.csv", duplex)
    p_one = sim.write_amplitude_file(tmp_path / "p_A02_Amplitude.csv", single)
    w = quantify_file(p_dup)[0]
    info = w.provenance.parameters["classification"]
    assert w.classification_method == info["method"] == "2d" and info["requested"] == "auto"
    assert set(info["boundaries"]) == {"ch1", "ch2"} and "x ch1" in info["boundaries"]["ch2"]["line"]
    assert set(info["clusters"]) == {"ch1-ch2-", "ch1+ch2-", "ch1-ch2+", "ch1+ch2+"}
    assert info["rain_droplets"] >= 0 and w.threshold.method == "2d"
    json.dumps(w.to_dict())  # JSON-ready (no NaN objects)
    one = quantify_file(p_one)[0]
    assert one.classification_method == "1d" and one.threshold.method in ("valley", "positive_edge")
    assert quantify_file(p_dup, classification="1d")[0].classification_method == "1d"
    assert quantify_file(p_one, classification="2d")[0].classification_method == "2d"
    assert quantify_file(p_dup, threshold_ch1=5000, threshold_ch2=4000)[0].classification_method == "user"
    assert quantify_file(p_dup, use_file_calls=True)[0].classification_method == "file_calls"
    with pytest.raises(InputError, match="unknown classification"):
        quantify_file(p_dup, classification="3d")


def test_engine_parameter_and_cli_option(tmp_path):
    from cgtqc.assays.ddpcr.spec import DdpcrParams

    assert DdpcrParams().classification == "auto"
    with pytest.raises(ValueError):
        DdpcrParams(classification="3d")
    w = sim.simulate_well(np.random.default_rng(9), "B01", lambda_a_only=0.2, lambda_b_only=0.3,
                          model=sim.DUPLEX_CHALLENGE)
    path = sim.write_amplitude_file(tmp_path / "q_B01_Amplitude.csv", w)
    runner = CliRunner()
    for mode, expect in (("auto", "2d"), ("1d", "1d"), ("2d", "2d")):
        res = runner.invoke(app, ["ddpcr", "quantify", str(path), "--classification", mode, "--json"])
        assert res.exit_code == 0, res.output
        rows = json.loads(res.output)
        assert {r["classification_method"] for r in rows} == {expect}
    from cgtqc.assays.ddpcr.run import run

    for mode, expect in (("1d", "1d"), ("auto", "2d")):
        wells = run({"ddpcr-amplitudes": [path]}, DdpcrParams(classification=mode), None).summary["wells"]
        assert {w["classification_method"] for w in wells} == {expect}
