"""Potency engine: 4PL/5PL dose-response fits, relative potency by the parallel model, similarity, bioassay
applications.

Public names of ``engine`` are importable from here; they load on first use."""

from cgtqc._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, "engine")
