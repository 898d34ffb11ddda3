"""qPCR engine: RDML and Cq-table readers, LinRegPCR amplification analysis, standard curves, LOD, NAT release
tests.

Public names of ``engine`` are importable from here; they load on first use."""

from cgtqc._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, "engine")
