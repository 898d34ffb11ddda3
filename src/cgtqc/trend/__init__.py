"""Trending and statistics over tables: control charts and run rules, capability, ICH Q1E stability,
comparability by TOST and ICH Q2(R2) method validation. Pure: arrays in, result objects
(with ``to_dict``) out; nothing here reads the store (the lot services feed it, see ``cgtqc.lots.trending``).

The names below load their module on first use: every lot command reads trending through
``cgtqc.trend.charts``, which must not pull in scipy.stats (~0.5-1 s) for capability and stability.
``cgtqc.trend.capability`` is the module; its function is ``cgtqc.trend.capability.capability``.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "Capability": "capability",
    "CHART_KINDS": "charts",
    "ControlChart": "charts",
    "constants": "charts",
    "cusum_chart": "charts",
    "ewma_chart": "charts",
    "imr_chart": "charts",
    "make_subgroups": "charts",
    "xbar_chart": "charts",
    "ComparabilityReport": "comparability",
    "Equivalence": "comparability",
    "compare_groups": "comparability",
    "tost": "comparability",
    "NELSON_K": "rules",
    "WESTERN_ELECTRIC": "rules",
    "Violation": "rules",
    "apply_rules": "rules",
    "StabilityResult": "stability",
    "shelf_life": "stability",
    "accuracy": "validation",
    "linearity": "validation",
    "lod95": "validation",
    "precision": "validation",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'cgtqc.trend' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cgtqc.trend.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return __all__
