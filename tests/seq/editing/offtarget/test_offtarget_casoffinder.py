"""Nomination agrees with Cas-OFFinder 3.0.0b3 run on the same simulated genomes.

The expected rows below are Cas-OFFinder 3.0.0b3's output (OpenCL on the CPU through pocl), run once on
genomes this test rebuilds from a fixed seed (``benchmarks/offtarget_nominate.py`` repeats the
comparison on 10 Mb when a Cas-OFFinder binary is given). Cas-OFFinder prints minus-strand DNA strings
of bulged sites shifted by the bulge padding (a display bug of that beta) and repeats some rows, so the
1-Mb case compares (type, position, strand, mismatches, bulge size); the small case compares every
column of the plus-strand rows.
"""

from __future__ import annotations

import numpy as np

from cgtqc.seq.editing.offtarget.engine import nominate_sequences

GUIDE = "GGCCGACCTGTCGCTGACGC"

# Cas-OFFinder input: NNNNNNNNNNNNNNNNNNNNNRG 2 1 / GGCCGACCTGTCGCTGACGCNNN 4 (DNA bulge 2, RNA bulge 2)
CASOFFINDER_1MB = (
    "DNA:998+0/2 DNA:998+1/2 DNA:998+2/2 DNA:998+3/2 DNA:998+4/2 DNA:999+0/1 DNA:999+1/1 DNA:999+2/1 "
    "DNA:999+3/1 DNA:999+4/1 RNA:1000+1/1 RNA:1000+2/1 RNA:1000+3/1 RNA:1000+4/1 X:1000+0/0 "
    "RNA:1001+0/1 RNA:1001+1/1 RNA:1001+2/1 RNA:1001+3/1 RNA:1001+4/1 RNA:1002+0/2 RNA:1002+1/2 "
    "RNA:1002+2/2 RNA:1002+3/2 RNA:1002+4/2 DNA:5000+0/1 DNA:5000+1/1 DNA:5000+2/1 DNA:5000+3/1 "
    "DNA:5000+4/1 RNA:5003+3/2 RNA:5003+4/2 RNA:9000+0/1 RNA:9000+1/1 RNA:9000+2/1 RNA:9000+3/1 "
    "RNA:9000+4/1 RNA:67673-4/2 RNA:96558+4/2 RNA:217350-4/2 RNA:224168+4/2 RNA:270241-4/2 "
    "RNA:391346+4/2 RNA:392667+4/2 RNA:426057+4/2 RNA:481937-4/2 RNA:534785-4/2 RNA:539573-4/1 "
    "RNA:543784+4/1 DNA:618211-4/1 RNA:620156-3/2 RNA:620156-4/2 RNA:758894-4/2 RNA:836563-4/2 "
    "RNA:885776-4/2 "
)

# Cas-OFFinder input: NNNNNNNNNNNNNNNNNNNNNGG 1 1 / GGCCGACCTGTCGCTGACGCNNN 1
CASOFFINDER_20KB = [
    ("DNA", "G-GCCGACCTGTCGCTGACGCNNN", "cGGCCGACCTGTCGCTGACGCTGG", 8998, "+", 1, 1),
    ("DNA", "GG-CCGACCTGTCGCTGACGCNNN", "cGGCCGACCTGTCGCTGACGCTGG", 8998, "+", 1, 1),
    ("DNA", "GGCCGACCTGTCGCTGACG-CNNN", "GGCCGACCTGTCGCTGACGCtAGG", 1000, "+", 1, 1),
    ("DNA", "GGCCGACCTGTCGCTGACG-CNNN", "GGCCGACCTGTCGCTGACGCtGGG", 8999, "+", 1, 1),
    ("DNA", "GGCCGACCTGTCGCTGACGC-NNN", "GGCCGACCTGTCGCTGACGCTAGG", 1000, "+", 0, 1),
    ("DNA", "GGCCGACCTGTCGCTGACGC-NNN", "GGCCGACCTGTCGCTGACGCTGGG", 8999, "+", 0, 1),
    ("RNA", "GGCCGACCTGTCGCTGACGCNNN", "-GCCGACCTGTCGCTGACGCTGG", 9000, "+", 0, 1),
    ("RNA", "GGCCGACCTGTCGCTGACGCNNN", "G-CCGACCTGTCGCTGACGCTGG", 9000, "+", 0, 1),
    ("RNA", "GGCCGACCTGTCGCTGACGCNNN", "GGCCGACCTGTCGCTGAC-gCGG", 5000, "+", 1, 1),
    ("RNA", "GGCCGACCTGTCGCTGACGCNNN", "Gc-CGACCTGTCGCTGACGCTGG", 9000, "+", 1, 1),
    ("RNA", "GGCCGACCTGTCGCTGACGCNNN", "GcC-GACCTGTCGCTGACGCTGG", 9000, "+", 1, 1),
    ("X", "GGCCGACCTGTCGCTGACGCNNN", "GGCCGACCTGTCGCTGACGCTGG", 8999, "+", 0, 0),
]


def _genome_1mb() -> str:
    rng = np.random.default_rng(5)
    g = bytes(rng.choice(list(b"ACGT"), 1_000_000).astype(np.uint8)).decode()
    return (g[:1000] + GUIDE + "AGG" + g[1023:5000] + GUIDE[:8] + "T" + GUIDE[8:] + "CGG" + g[5024:9000]
            + GUIDE[:11] + GUIDE[12:] + "GGG" + g[9022:])


def _genome_20kb() -> str:
    rng = np.random.default_rng(9)
    g = bytes(rng.choice(list(b"ACGT"), 20000).astype(np.uint8)).decode()
    return (g[:1000] + GUIDE + "T" + "AGG" + g[1024:5000] + GUIDE[:19] + "CGG" + g[5022:9000] + GUIDE[1:]
            + "TGG" + g[9022:])


def test_same_sites_as_casoffinder_1mb():
    expected = set()
    for item in CASOFFINDER_1MB.split():
        kind, rest = item.split(":")
        strand = "+" if "+" in rest else "-"
        loc, mmb = rest.split(strand)
        mm, b = mmb.split("/")
        expected.add((kind, int(loc), strand, int(mm), int(b)))
    sites = nominate_sequences([("chrA", _genome_1mb().encode())], GUIDE, "NRG", max_mismatches=4,
                               max_dna_bulge=2, max_rna_bulge=2)
    assert {(s.bulge_type, s.location, s.strand, s.mismatches, s.bulge_size) for s in sites} == expected
    assert len(sites) == 84  # Cas-OFFinder printed 85 rows, one of them twice


def test_same_rows_as_casoffinder_20kb():
    sites = nominate_sequences([("c", _genome_20kb().encode())], GUIDE, "NGG", max_mismatches=1,
                               max_dna_bulge=1, max_rna_bulge=1)
    got = sorted((s.bulge_type, s.crrna[:-3] + "NNN", s.dna, s.location, s.strand, s.mismatches, s.bulge_size)
                 for s in sites)
    assert got == sorted(CASOFFINDER_20KB)
