"""Safety flags: dominant clone, adverse-event genes (TSS and body), CIS window rule, rising clones and
sites shared between patients, each by its stated rule and its stable identifier."""

from __future__ import annotations

import numpy as np
import pytest

from cgtqc.errors import InputError
from cgtqc.seq.integration.genes import Gene, GeneSet
from cgtqc.seq.integration.safety import (
    ADVERSE_EVENT_GENES,
    FLAG_IDS,
    SafetyRules,
    assess_sites,
    common_insertion_sites,
    rising_clones,
    shared_sites,
)

# LMO2 on the minus strand of chr11 (TSS = end), a long plus-strand MECOM, one harmless gene
GENES = GeneSet(
    [
        Gene("LMO2", "ENSG00000135363", "chr11", 33_850_000, 33_900_000, "-"),
        Gene("MECOM", "ENSG00000085276", "chr3", 1_000_000, 1_600_000, "+"),
        Gene("SAFE1", "S1", "chr3", 5_000_000, 5_010_000, "+"),
    ]
)


def _ids(flags: list[str]) -> set[str]:
    return {f.split(":", 1)[0] for f in flags}


def test_dominant_clone_threshold_is_inclusive_and_configurable():
    rel = [0.2, 0.19999, 0.5, 0.10001]
    s = assess_sites(["c1", "c2", "c3", "c4"], [1, 1, 1, 1], rel)
    assert [("dominant_clone" in f) for f in s.flags] == [True, False, True, False]
    s = assess_sites(["c1", "c2", "c3", "c4"], [1, 1, 1, 1], rel, rules=SafetyRules(dominant_fraction=0.1))
    assert s.count("dominant_clone") == 4
    assert not s.genes_checked and s.summary()["sites_near_ae_genes"] is None


def test_ae_gene_tss_and_body_flags_are_separate():
    chroms = ["chr11", "chr11", "chr11", "chr3", "chr3", "chr3", "chr7"]
    pos = [
        33_950_000,  # 50 kb upstream of LMO2's TSS (minus strand: upstream is higher)
        33_700_000,  # 150 kb from the LMO2 TSS, 150 kb from its body: no flag
        33_760_000,  # 90 kb below LMO2's body (its 3' end), 140 kb from the TSS: body only
        1_300_000,  # inside MECOM, 300 kb from its TSS: body only
        5_005_000,  # inside SAFE1, not an AE gene
        900_001,  # 99,999 bp upstream of MECOM's TSS: both
        1,
    ]
    s = assess_sites(chroms, pos, [0.01] * 7, GENES)
    assert s.flags[0] == ["ae_gene_tss:LMO2", "ae_gene_body:LMO2"]
    assert s.flags[1] == []
    assert s.flags[2] == ["ae_gene_body:LMO2"]
    assert s.flags[3] == ["ae_gene_body:MECOM"]
    assert s.flags[4] == []
    assert s.flags[5] == ["ae_gene_tss:MECOM", "ae_gene_body:MECOM"]
    assert s.flags[6] == []
    assert s.ae_tss_distance[0] == -50_000 and s.ae_body_distance[3] == 0
    assert np.isnan(s.ae_tss_distance[6])
    # the nearest of ALL genes is given too, with in-gene
    assert s.annotation is not None and s.annotation.body_gene[4] == "SAFE1" and s.annotation.in_gene[4]
    summ = s.summary()
    assert summ["sites_near_ae_genes"] == 4 and summ["flag_counts"]["ae_gene_tss"] == 2
    # a smaller window drops the 90-99.999 kb ones; a custom list drops MECOM
    s = assess_sites(chroms, pos, [0.01] * 7, GENES, SafetyRules(ae_window_bp=60_000))
    assert s.count("ae_gene_body") == 2
    s = assess_sites(chroms, pos, [0.01] * 7, GENES, SafetyRules(ae_genes=("lmo2",)))
    assert s.count("ae_gene_body") == 2 and s.count("ae_gene_tss") == 1


def test_default_list_holds_the_named_genes():
    for g in ("LMO2", "MECOM", "CCND2", "HMGA2", "IKZF1", "PRDM16", "SETBP1"):
        assert g in ADVERSE_EVENT_GENES


def test_cis_window_rule():
    # chrA: 2 sites 30 kb apart (CIS), then 3 sites just outside the pair and triple windows
    # chrB: 4 sites spanning 100 kb with gaps > 30 kb and 3-spans > 50 kb: CIS by the 4-rule only
    chroms = ["chrA", "chrA", "chrA", "chrA", "chrA"] + ["chrB"] * 4 + ["chrC"]
    pos = [1_000, 31_000, 500_000, 531_000, 561_001] + [0, 33_000, 66_000, 100_000] + [5]
    cis, stats = common_insertion_sites(chroms, pos)
    got = {(c.chrom, c.start, c.end, c.members) for c in cis}
    # 500,000, 531,000 and 561,001: gaps of 31 and 30.001 kb, span 61 kb: neither pair nor triple
    assert got == {("chrA", 1_000, 31_000, (0, 1)), ("chrB", 0, 100_000, (5, 6, 7, 8))}
    assert [s["windows"] for s in stats] == [1, 0, 1]
    # the flags name the CIS
    s = assess_sites(chroms, pos, [0.1] * 10)
    assert s.flags[0] == ["cis:chrA:1000-31000"] and s.flags[9] == [] and s.count("cis") == 6
    # strands do not matter and overlapping windows merge; order of input does not matter
    cis, _ = common_insertion_sites(["x"] * 4, [90_000, 0, 20_000, 45_000])
    assert [(c.start, c.end, c.members) for c in cis] == [(0, 90_000, (0, 1, 2, 3))]


def test_cis_expected_by_chance_grows_with_the_number_of_sites():
    rng = np.random.default_rng(3)
    n = 20_000
    pos = rng.integers(1, 3_100_000_000, n)
    _, stats = common_insertion_sites(["g"] * n, pos)
    # uniform sites: the Poisson expectation is close to what is found
    for st in stats:
        assert st["windows"] == pytest.approx(st["expected_by_chance"], rel=0.1), st
    _, few = common_insertion_sites(["g"] * 10, pos[:10])
    assert few[0]["expected_by_chance"] < 1e-3


def test_rising_clone_rule():
    series = {
        "m3": {"a": 0.01, "b": 0.05, "c": 0.001, "d": 0.02},
        "m6": {"a": 0.02, "b": 0.04, "c": 0.002, "d": 0.02},
        "m12": {"a": 0.03, "b": 0.06, "c": 0.003, "d": 0.03},
        "m24": {"b": 0.07, "c": 0.004, "d": 0.04},
    }
    got = {r.site: (r.timepoints, r.relative) for r in rising_clones(series)}
    # a: rises m3-m12 (3 timepoints) then vanishes; b: 3 rising (m6-m24); c: under the 1 % floor;
    # d: flat m3-m6, then rises m6-m24 (3 timepoints)
    assert got == {
        "a": (("m3", "m6", "m12"), (0.01, 0.02, 0.03)),
        "b": (("m6", "m12", "m24"), (0.04, 0.06, 0.07)),
        "d": (("m6", "m12", "m24"), (0.02, 0.03, 0.04)),
    }
    assert {r.site for r in rising_clones(series, SafetyRules(rising_timepoints=4))} == set()
    assert "c" in {r.site for r in rising_clones(series, SafetyRules(rising_floor=0.0))}
    assert rising_clones({"only": {"a": 0.5}}) == []


def test_shared_sites_between_patients():
    pts = {
        "P1": [("chr1+100", "chr1", "+", 100), ("chr2-500", "chr2", "-", 500)],
        "P2": [
            ("chr1+100", "chr1", "+", 100),
            ("chr2+500", "chr2", "+", 500),
            ("chr1+103", "chr1", "+", 103),
        ],
        "P3": [("chr1+100", "chr1", "+", 100)],
    }
    got = {(s.patient_a, s.site_a, s.patient_b, s.site_b, s.distance) for s in shared_sites(pts)}
    # opposite strands are never shared; P2's own two close sites are not a cross-patient match
    assert got == {
        ("P1", "chr1+100", "P2", "chr1+100", 0),
        ("P1", "chr1+100", "P3", "chr1+100", 0),
        ("P2", "chr1+100", "P3", "chr1+100", 0),
    }
    near = shared_sites(pts, SafetyRules(shared_window_bp=5))
    assert ("P1", "chr1+100", "P2", "chr1+103", 3) in {
        (s.patient_a, s.site_a, s.patient_b, s.site_b, s.distance) for s in near
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dominant_fraction": 0}, "dominant fraction"),
        ({"dominant_fraction": 1.5}, "dominant fraction"),
        ({"ae_window_bp": -1}, "windows must not be negative"),
        ({"cis_windows": ((1, 100),)}, "CIS windows"),
        ({"rising_timepoints": 1}, "rising timepoints"),
        ({"rising_floor": 2}, "rising floor"),
        ({"genome_size": 0}, "genome size"),
    ],
)
def test_bad_rules(kwargs, match):
    with pytest.raises(InputError, match=match):
        SafetyRules(**kwargs)


def test_bad_site_arrays():
    with pytest.raises(InputError, match="differ"):
        assess_sites(["a"], [1, 2], [0.5, 0.5])
    with pytest.raises(InputError, match="finite"):
        assess_sites(["a", "b"], [1, 2], [0.5, float("nan")])
    with pytest.raises(InputError, match="not negative"):
        assess_sites(["a"], [1], [-0.1])


def test_flag_ids_are_stable():
    assert FLAG_IDS == ("dominant_clone", "ae_gene_tss", "ae_gene_body", "cis", "rising_clone", "shared_site")
    s = assess_sites(["chr11"], [33_950_000], [0.9], GENES)
    assert s.flag_text(0) == "dominant_clone;ae_gene_tss:LMO2;ae_gene_body:LMO2"
    assert _ids(s.flags[0]) <= set(FLAG_IDS)
