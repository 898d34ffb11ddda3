"""Simulated gzipped reads are byte-reproducible: no timestamp in the gzip header, since their SHA-256 is
provenance (a bug once made the editing demo's hashes differ between seconds)."""

import time

from cgtqc.results import sha256_file
from cgtqc.seq.editing.sim import simulate_reads
from cgtqc.seq.reads import iter_fastx, open_text_output

AMPLICON = "ACGTTGCAAGGCTTAACCGGTTAACCGGATCGATCGGCTAGCTAGGATCCAAGGTTCCAAGGCTAGCTAGGCTAAGCTTAGCCGATCGA"


def test_same_content_same_bytes_across_seconds(tmp_path):
    paths = []
    for i in range(2):
        p = tmp_path / f"r{i}.fastq.gz"
        with open_text_output(p) as fh:
            fh.write("@r1\nACGT\n+\nIIII\n")
        paths.append(p)
        time.sleep(1.1)  # a gzip header with a timestamp would differ now
    assert sha256_file(paths[0]) == sha256_file(paths[1])
    assert [r.seq for r in iter_fastx(paths[1])] == ["ACGT"]


def test_editing_simulator_output_is_reproducible(tmp_path):
    hashes = []
    for i in range(2):
        sample = simulate_reads(AMPLICON, 50, cut_site=45, indel_fraction=0.5, n_indel_alleles=3, seed=1)
        hashes.append(sha256_file(sample.write_fastq(tmp_path / f"s{i}.fastq.gz")[0]))
        time.sleep(1.1)
    assert hashes[0] == hashes[1]
