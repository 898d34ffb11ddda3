"""Off-target nomination: planted sites found, and exactly the sites a brute-force search finds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.editing.offtarget.engine import nominate, nominate_sequences, read_fasta

IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT",
         "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}
COMP = str.maketrans("ACGTN", "TGCAN")
GUIDE = "GGCCGACCTGTCGCTGACGC"


def rc(s: str) -> str:
    return s.translate(COMP)[::-1]


def brute_force(seq: str, guide: str, pam: str, mm: int, dna: int, rna: int, five: bool = False,
                rules: str = "casoffinder3") -> set:
    """Reference: every PAM position, every bulge placement, columns compared one by one.

    DNA bulge before guide index j, RNA bulge = guide[j:j+b] unpaired (j counted from the PAM-distal end).
    """
    v3 = rules == "casoffinder3"
    dna_js = range(1, len(guide) + 1) if v3 else range(1, len(guide))
    L, P = len(guide), len(pam)
    out = set()
    for strand, s in (("+", seq), ("-", rc(seq))):
        n = len(s)
        for q in range(n - P + 1):
            if not all(s[q + k] in IUPAC[pam[k]] for k in range(P)):
                continue
            options = [("X", 0, guide, L, None)]
            if five:  # j counts from the PAM-distal (3') end: mirror the guide
                options += [("DNA", b, guide[:L - j] + "-" * b + guide[L - j:], L + b, None)
                            for b in range(1, dna + 1) for j in dna_js]
            else:
                options += [("DNA", b, guide[:j] + "-" * b + guide[j:], L + b, None)
                            for b in range(1, dna + 1) for j in dna_js]
            options += [("RNA", b, guide, L - b, j) for b in range(1, rna + 1)
                        for j in range(0 if v3 else 1, L - b)]
            for kind, b, crrna, width, j in options:
                start = q - width if not five else q + P
                if start < 0 or start + width > n:
                    continue
                proto = s[start:start + width]
                if kind == "RNA":
                    proto = proto[:j] + "-" * b + proto[j:] if not five else \
                        proto[:L - j - b] + "-" * b + proto[L - j - b:]
                mism = sum(1 for r, d in zip(crrna, proto, strict=True)
                           if r != "-" and d != "-" and d not in IUPAC[r])
                if mism > mm:
                    continue
                site_start = start if not five else q
                site_end = q + P if not five else start + width
                loc = site_start if strand == "+" else n - site_end
                pam_seq = s[q:q + P]
                full = proto + pam_seq if not five else pam_seq + proto
                out.add((strand, loc, kind, b, mism, full))
    return out


def as_set(sites) -> set:
    return {(s.strand, s.location, s.bulge_type, s.bulge_size, s.mismatches, s.dna.upper()) for s in sites}


def mutate(site: str, positions: list[int]) -> str:
    s = list(site)
    for p in positions:
        s[p] = {"A": "C", "C": "G", "G": "T", "T": "A"}[s[p]]
    return "".join(s)


def planted_genome(seed: int = 7) -> tuple[str, list[tuple]]:
    rng = random.Random(seed)
    parts, truth = [], []

    def filler(n):
        return "".join(rng.choice("ACGT") for _ in range(n))

    plants = [
        ("on-target +", GUIDE + "AGG", "+", 0, "X", 0),
        ("2 mismatches -", mutate(GUIDE, [3, 15]) + "TGG", "-", 2, "X", 0),
        ("DNA bulge 1 +", GUIDE[:8] + "T" + GUIDE[8:] + "CGG", "+", 0, "DNA", 1),
        ("RNA bulge 1 -", GUIDE[:11] + GUIDE[12:] + "GGG", "-", 0, "RNA", 1),
        ("DNA bulge 2 + 1mm", mutate(GUIDE[:5], [1]) + "AA" + GUIDE[5:] + "AGG", "+", 1, "DNA", 2),
        ("3 mismatches + NAG", mutate(GUIDE, [0, 9, 18]) + "TAG", "+", 3, "X", 0),
    ]
    pos = 0
    for label, site, strand, mm, kind, b in plants:
        f = filler(300)
        parts.append(f)
        pos += len(f)
        placed = site if strand == "+" else rc(site)
        truth.append((label, pos, strand, mm, kind, b))
        parts.append(placed)
        pos += len(placed)
    parts.append(filler(300))
    return "".join(parts), truth


@pytest.mark.parametrize("rules", ["casoffinder3", "casoffinder-bulge"])
@pytest.mark.parametrize("pam", ["NGG", "NRG"])
def test_planted_sites_found_and_equal_to_brute_force(tmp_path, pam, rules):
    genome, truth = planted_genome()
    fa = tmp_path / "g.fa"
    lines = "\n".join(genome[i:i + 60] for i in range(0, len(genome), 60))
    fa.write_text(">chrT test genome\n" + lines + "\n")
    res = nominate(fa, GUIDE, pam, max_mismatches=3, max_dna_bulge=2, max_rna_bulge=1, bulge_rules=rules)
    got = as_set(res.sites)
    assert got == brute_force(genome, GUIDE, pam, 3, 2, 1, rules=rules)
    for label, loc, strand, mm, kind, b in truth:
        if label.endswith("NAG") and pam == "NGG":
            assert not any(s.location == loc for s in res.sites), label
            continue
        best = [s for s in res.sites if s.location == loc and s.strand == strand and s.bulge_type == kind
                and s.bulge_size == b]
        assert best and min(s.mismatches for s in best) == mm, label
    assert all(s.chrom == "chrT" for s in res.sites)
    assert res.checks[1].passed  # the on-target site was found
    # lower-case marks = mismatches, and the aligned strings have equal length
    for s in res.sites:
        assert len(s.crrna) == len(s.dna)
        assert sum(c.islower() for c in s.dna) == s.mismatches


def test_random_genomes_many_settings_match_brute_force():
    rng = random.Random(3)
    guide = "ACGTAGCTAGGA"  # short guide so random sequence yields many hits
    for trial in range(4):
        seq = "".join(rng.choice("ACGT") for _ in range(1500))
        for pam, five in (("NGG", False), ("NRG", False), ("TTTV", True)):
            for rules in ("casoffinder3", "casoffinder-bulge"):
                sites = nominate_sequences([("c", seq.encode())], guide, pam, max_mismatches=2,
                                           max_dna_bulge=1, max_rna_bulge=2,
                                           pam_side="5prime" if five else "3prime", bulge_rules=rules)
                expected = brute_force(seq, guide, pam, 2, 1, 2, five, rules)
                assert as_set(sites) == expected, (trial, pam, rules)


def test_casoffinder_layout(tmp_path):
    seq = "TTTT" + GUIDE + "TGG" + "AAAA"
    sites = nominate_sequences([("chr1", seq.encode())], GUIDE, "NGG", max_mismatches=0)
    assert [(s.bulge_type, s.crrna, s.dna, s.location, s.strand) for s in sites] == [
        ("X", GUIDE + "NGG", GUIDE + "TGG", 4, "+")]
    minus = nominate_sequences([("chr1", rc(seq).encode())], GUIDE, "NGG", max_mismatches=0)
    assert [(s.location, s.strand, s.dna) for s in minus] == [(4, "-", GUIDE + "TGG")]


def test_lowercase_and_n_in_genome(tmp_path):
    seq = ("tttt" + GUIDE.lower() + "agg" + "NNNN" + GUIDE[:10] + "N" + GUIDE[11:] + "AGG").encode()
    sites = nominate_sequences([("c", seq)], GUIDE, "NGG", max_mismatches=1)
    assert sorted((s.location, s.mismatches) for s in sites) == [(4, 0), (31, 1)]
    assert [s.dna for s in sites if s.mismatches == 1] == [GUIDE[:10] + "n" + GUIDE[11:] + "AGG"]


@pytest.mark.parametrize(
    ("text", "place"),
    [("ACGT\n>x\nACGT\n", "line 1"), (">x\nACGT\nAC1T\n", "line 3, column 3"), (">\nACGT\n", "line 1"),
     (">a\n>b\nACGT\n", "line 1"), ("", None)],
)
def test_malformed_fasta_names_file_and_line(tmp_path, text, place):
    fa = tmp_path / "bad.fa"
    fa.write_text(text)
    with pytest.raises(InputError) as exc:
        nominate(fa, GUIDE, "NGG")
    assert "bad.fa" in str(exc.value)
    if place:
        assert exc.value.place == place


@pytest.mark.parametrize(
    ("guide", "pam", "place"),
    [(GUIDE, "", "pam"), (GUIDE, "NGX", "pam, position 3"), ("GGCC1ACC", "NGG", "guide, position 5"),
     ("", "NGG", "guide")],
)
def test_bad_guide_or_pam(tmp_path, guide, pam, place):
    fa = tmp_path / "g.fa"
    fa.write_text(">c\n" + "ACGT" * 20 + "\n")
    with pytest.raises(InputError) as exc:
        nominate(fa, guide, pam)
    assert exc.value.place == place


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_fasta_reader_fuzz(tmp_path_factory, data):
    fa = tmp_path_factory.mktemp("fz") / "f.fa"
    fa.write_bytes(data)
    try:
        recs = list(read_fasta(fa))
    except InputError as exc:
        assert "f.fa" in str(exc)
    else:
        assert recs and all(seq for _, seq in recs)
