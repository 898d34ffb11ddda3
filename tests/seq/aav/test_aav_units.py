"""Unit checks: Wilson intervals, ITR alignment kernel, LAAVA rules, construct/BED input errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.aav.construct import AAV2_LEFT_FLIP_HAIRPIN, itr_variants, load_construct, read_annotation
from cgtqc.seq.aav.itr import call_itr
from cgtqc.seq.aav.laava import LaavaSetup, laava_call, target_overlap
from cgtqc.seq.aav.sim import AAV2_ITR_LEFT_FLIP, _flop
from cgtqc.seq.align import Hit

LABELS = {"vec": "vector", "hlp": "helper"}


def _itr():
    from cgtqc.seq.aav.construct import Itr

    return Itr(
        "ITR1",
        0,
        len(AAV2_ITR_LEFT_FLIP),
        False,
        itr_variants(AAV2_ITR_LEFT_FLIP, True, AAV2_LEFT_FLIP_HAIRPIN),
    )


def test_itr_variants_name_flip_and_flop():
    names = dict(itr_variants(AAV2_ITR_LEFT_FLIP, True, AAV2_LEFT_FLIP_HAIRPIN))
    assert names["flip"] == AAV2_ITR_LEFT_FLIP
    assert names["flop"] == _flop(AAV2_ITR_LEFT_FLIP)
    assert itr_variants("ACGT" * 30, True, AAV2_LEFT_FLIP_HAIRPIN) == (("unknown", "ACGT" * 30),)


def test_itr_call_flip_flop_intact_and_defects():
    itr = _itr()
    pad = "GATTACAGATTACAGATTACA"
    flip = call_itr(pad + AAV2_ITR_LEFT_FLIP + pad, itr)
    assert (flip.config, flip.defect, flip.coverage) == ("flip", False, 1.0)
    assert flip.margin > 50
    flop = call_itr(pad + _flop(AAV2_ITR_LEFT_FLIP) + pad, itr)
    assert flop.config == "flop" and not flop.defect
    deleted = AAV2_ITR_LEFT_FLIP[:60] + AAV2_ITR_LEFT_FLIP[80:]
    d = call_itr(pad + deleted + pad, itr)
    assert d.defect and d.max_deletion >= 18
    truncated = call_itr(AAV2_ITR_LEFT_FLIP[40:] + pad, itr)
    assert truncated.defect and truncated.max_deletion >= 40 and truncated.coverage < 0.75


def _hit(rs, re, strand, qs, qe, kind="P", ref="vec"):
    return Hit(ref, rs, re, strand, qs, qe, kind, 60, qe - qs, qe - qs)


def test_laava_target_overlap_rules():
    s, e = 1000, 3000
    assert target_overlap(_hit(950, 3050, 1, 0, 2100), s, e) == "full"
    assert target_overlap(_hit(1150, 3000, 1, 0, 1850), s, e) == "right-partial"
    assert target_overlap(_hit(1000, 2000, 1, 0, 1000), s, e) == "left-partial"
    assert target_overlap(_hit(1500, 2500, 1, 0, 1000), s, e) == "partial"
    assert target_overlap(_hit(3200, 4000, 1, 0, 800), s, e) == "backbone"
    assert target_overlap(_hit(500, 3000, 1, 0, 2500), s, e) == "vector+backbone"


def test_laava_read_types():
    ss = LaavaSetup(1000, 3000, "ss", None)
    assert laava_call([_hit(1000, 3000, 1, 0, 2000)], 2000, LABELS, ss) == ("ssAAV", "full", "vector")
    pair = [_hit(1000, 3000, 1, 0, 2000), _hit(1000, 3000, -1, 2000, 4000, "S")]
    assert laava_call(pair, 4000, LABELS, ss)[:2] == ("other-vector", "unresolved-dimer")
    sc = LaavaSetup(1000, 3000, "sc", False)
    assert laava_call(pair, 4000, LABELS, sc)[:2] == ("scAAV", "full")
    tandem = [_hit(1000, 3000, 1, 0, 2000), _hit(1000, 3000, 1, 2000, 4000, "S")]
    assert laava_call(tandem, 4000, LABELS, ss)[:2] == ("other-vector", "tandem")
    chim = [_hit(1000, 3000, 1, 0, 2000), _hit(0, 1000, 1, 2000, 3000, "S", "hlp")]
    assert laava_call(chim, 3000, LABELS, ss) == ("NA", "NA", "chimeric-vector")
    assert laava_call([], 3000, LABELS, ss) == ("NA", "NA", "(unmapped)")


def test_bed_errors_name_file_and_line(tmp_path):
    fa = tmp_path / "v.fa"
    fa.write_text(">v\n" + "ACGT" * 500 + "\n")
    bed = tmp_path / "a.bed"
    bed.write_text("v\t0\t145\tITR\nv\tx\t300\tcds\n")
    with pytest.raises(InputError, match="line 2"):
        load_construct(fa, bed)
    bed.write_text("v\t0\t145\tITR\n")
    with pytest.raises(InputError, match="exactly 2 ITR"):
        load_construct(fa, bed)
    bed.write_text("v\t0\t145\tITR\nv\t1900\t2100\tITR\n")
    with pytest.raises(InputError, match="beyond the vector length"):
        load_construct(fa, bed)
    bad = tmp_path / "bad.fa"
    bad.write_text(">v\nACGT!!\n")
    with pytest.raises(InputError, match="non-nucleotide"):
        load_construct(bad, bed)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="v\t0123456789ITRx \n-", max_size=30), max_size=6))
def test_bed_parser_fuzz_raises_only_input_error(tmp_path_factory, lines):
    bed = tmp_path_factory.mktemp("bed") / "a.bed"
    bed.write_text("\n".join(lines))
    try:
        rows = read_annotation(bed, "v")
    except InputError:
        return
    assert all(isinstance(s, int) and e > s >= 0 for _, s, e in rows)


def test_itr_kernel_is_fast_enough():
    import time

    itr = _itr()
    rng = np.random.default_rng(0)
    wins = ["".join(rng.choice(list("ACGT"), 195)) for _ in range(200)]
    call_itr(wins[0], itr)
    t = time.perf_counter()
    for w in wins:
        call_itr(w, itr)
    assert (time.perf_counter() - t) / len(wins) < 0.005  # < 5 ms per ITR window (typ. ~0.3 ms)


@pytest.mark.parametrize("k,n", [(0, 30), (15, 30), (29, 30), (900, 1000), (100, 1000), (4990, 10000)])
def test_vector_type_confidence_is_the_beta_posterior(tmp_path, k, n):
    """The confidence (from scipy.special) equals P(majority side | reads) under Beta(k+1, n-k+1)."""
    from scipy.stats import beta

    from cgtqc.seq.aav.engine import detect_vector_type
    from cgtqc.seq.aav.sim import simulate_aav
    from cgtqc.seq.aav.stats import SampleStats

    sim = simulate_aav(tmp_path / "sim", n_reads=5, vector_type="ss", seed=1)
    construct = load_construct(sim.vector, sim.annotation)
    stats = SampleStats(construct.length, genome_reads=n, fold_genome_reads=k)
    call = detect_vector_type(stats, construct)
    p_sc = beta.sf(0.5, k + 1, n - k + 1)
    assert call.vector_type == ("sc" if k / n >= 0.5 else "ss")
    expected = round(p_sc if call.vector_type == "sc" else 1 - p_sc, 6)
    assert call.confidence == pytest.approx(expected, abs=1e-12)


def _full_dp_call(window: str, itr):
    """call_itr's reference: every configuration aligned in full (no text shortcut)."""
    from cgtqc.seq.aav import itr as k

    res = []
    for name, seq in itr.variants:
        sc, al, de, ins = k.semiglobal(k.encode(seq), k.encode(window), k.MATCH, k.MISMATCH, k.GAP_OPEN,
                                       k.GAP_EXTEND)
        res.append((int(sc), name, int(al), int(de), int(ins)))
    res.sort(reverse=True)
    return res[0], res[0][0] - res[1][0]


@settings(max_examples=150, deadline=None)
@given(
    which=st.sampled_from(["flip", "flop"]),
    left=st.text("ACGTN", max_size=40),
    right=st.text("ACGTN", max_size=40),
    edits=st.lists(st.tuples(st.integers(0, 144), st.sampled_from("ACGT-")), max_size=3),
    lower=st.booleans(),
)
def test_itr_call_text_shortcut_equals_full_alignment(which, left, right, edits, lower):
    """An ITR found letter for letter skips its alignment; the call must equal aligning every variant."""
    itr = _itr()
    seq = list(dict(itr.variants)[which])
    for pos, base in edits:
        seq[min(pos, len(seq) - 1)] = "" if base == "-" else base
    window = left + "".join(seq) + right
    window = window.lower() if lower else window
    (score, name, aligned, max_del, max_ins), margin = _full_dp_call(window, itr)
    call = call_itr(window, itr)
    got = (call.score, call.margin, call.max_deletion, call.max_insertion)
    assert got == (score, margin, max_del, max_ins)
    assert call.coverage == aligned / itr.length
