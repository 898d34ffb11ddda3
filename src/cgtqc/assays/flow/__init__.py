"""Flow cytometry engine on FlowKit: FCS loading, compensation, GatingML gating, release panels (CD34 ISHAGE,
CAR-T, MSC ISCT, LV transduction).

Public names of ``engine`` are importable from here; they load on first use."""

from cgtqc._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, "engine")
