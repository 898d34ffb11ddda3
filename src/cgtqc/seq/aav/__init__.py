"""Long-read AAV engine: per-read classification, ITR flip/flop and defects, LAAVA mapping, CQAs, report.

Public names of ``engine`` are importable from here; they load on first use."""

from cgtqc._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, "engine")
