"""Trending and statistics over tables: control charts and run rules, capability, ICH Q1E stability,
comparability by TOST and ICH Q2(R2) method validation. Pure: arrays in, result objects
(with ``to_dict``) out; nothing here reads the store (the lot services feed it, see ``cgtqc.lots.trending``).
"""

from cgtqc.trend.capability import Capability, capability
from cgtqc.trend.charts import (
    CHART_KINDS,
    ControlChart,
    constants,
    cusum_chart,
    ewma_chart,
    imr_chart,
    make_subgroups,
    xbar_chart,
)
from cgtqc.trend.comparability import ComparabilityReport, Equivalence, compare_groups, tost
from cgtqc.trend.rules import NELSON_K, WESTERN_ELECTRIC, Violation, apply_rules
from cgtqc.trend.stability import StabilityResult, shelf_life
from cgtqc.trend.validation import accuracy, linearity, lod95, precision

__all__ = [
    "CHART_KINDS",
    "NELSON_K",
    "WESTERN_ELECTRIC",
    "Capability",
    "ComparabilityReport",
    "ControlChart",
    "Equivalence",
    "StabilityResult",
    "Violation",
    "accuracy",
    "apply_rules",
    "capability",
    "compare_groups",
    "constants",
    "cusum_chart",
    "ewma_chart",
    "imr_chart",
    "linearity",
    "lod95",
    "make_subgroups",
    "precision",
    "shelf_life",
    "tost",
    "xbar_chart",
]
