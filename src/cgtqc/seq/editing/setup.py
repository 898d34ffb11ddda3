"""What a run of the editing engine decides once, as plain data: the context every chunk of reads carries.

The lot runner ships this context to every worker (pickled, often several at once), so it holds strings and
numbers only and this module imports nothing: unpickling it loads neither numpy, scipy nor mappy. The
heavy objects built from it (the compiled aligners of the references, the minimap2 index of the amplicon)
are made once per process by :func:`cgtqc.seq.editing.engine.quantify_reads` and
:func:`cgtqc.seq.editing.largedel.engine.call_reads`, keyed by ``key`` / ``digest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Quantification:
    """A quantification's design and options (``parameters``: the provenance's, which rebuild the references).

    ``key`` is a digest of ``parameters``: a process keeps the references' aligners under it.
    """

    parameters: dict[str, Any]
    key: str


@dataclass(frozen=True)
class DeletionSetup:
    """The amplicon and options of a large-deletion run, checked once.

    The minimap2 index is built from the reference file once per process, keyed by the amplicon's digest
    and the preset, never shipped.
    """

    reference: str
    digest: str  # SHA-256 of the amplicon sequence
    ref_name: str
    ref_len: int
    min_size: int = 50
    merge_distance: int = 10
    end_tolerance: int = 100
    preset: str = "map-ont"
    min_spanning_reads: int = 100
    rescue_clip: int = 100
