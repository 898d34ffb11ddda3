"""The engines' progress callbacks (issue 17 item 8): plain callables that hear of every read and never
change a result."""

from __future__ import annotations

import pytest

from cgtqc.seq.editing import pipeline
from cgtqc.seq.editing.engine import clear_cache, quantify
from cgtqc.seq.editing.largedel.engine import call_large_deletions
from cgtqc.seq.editing.largedel.sim import simulate_long_read_amplicons

FANC = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGC"
    "TTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCTACCTGCGCCACATCC"
    "ATCGGCGCTTTGGTCGG"
)


class Recorder:
    def __init__(self) -> None:
        self.done, self.totals = 0, []

    def __call__(self, n: int, total: int | None = None) -> None:
        self.done += n
        if total is not None:
            self.totals.append(total)


@pytest.mark.parametrize("base_editor", [False, True])
def test_quantify_progress_counts_every_read_and_changes_nothing(shared, monkeypatch, base_editor):
    fq = shared("editing", "FANC.Cas9.fastq")
    monkeypatch.setattr(pipeline, "PROGRESS_SLICE", 7)  # many slices
    clear_cache()
    plain = quantify(fq, [FANC], guides=["GGAATCCCTTCTGCAGCACC"], base_editor=base_editor)
    clear_cache()
    rec = Recorder()
    seen = quantify(fq, [FANC], guides=["GGAATCCCTTCTGCAGCACC"], base_editor=base_editor, progress=rec)
    assert rec.done == 250 and rec.totals == [250]
    assert seen.quantification_rows() == plain.quantification_rows()
    assert seen.mapping_row() == plain.mapping_row()
    if base_editor:
        assert (seen.references[0].base_counts == plain.references[0].base_counts).all()


def test_paired_progress(shared):
    rec = Recorder()
    import json

    case = next(c for c in json.loads(shared("editing", "cases.json").read_text())["cases"] if c["r2"])
    amp = case["args"][case["args"].index("-a") + 1]
    r1, r2 = shared("editing", case["r1"]), shared("editing", case["r2"])
    res = quantify(r1, [amp], fastq_r2=r2, progress=rec)
    assert rec.done == res.reads_in_input


def test_largedel_progress(tmp_path):
    s = simulate_long_read_amplicons(tmp_path, n_reads=120, seed=2)
    rec = Recorder()
    res = call_large_deletions(s.reads_fastq, s.reference_fasta, chunk_size=50, progress=rec)
    assert rec.done == res.reads_total == 120
