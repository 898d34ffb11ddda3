"""Large deletions from long-read amplicon sequencing.

Public names of ``engine`` are importable from here; they load on first use."""

from cgtqc._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, "engine")
