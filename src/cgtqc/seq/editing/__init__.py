"""Genome-editing engine: CRISPResso2-exact amplicon quantification, statistics, off-targets, large deletions.

Public names of ``engine`` are importable from here; they load on first use."""

from cgtqc._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, "engine")
