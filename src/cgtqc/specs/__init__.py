"""Specifications: the CQA catalogue, product specifications, rounding and evaluation."""

from cgtqc.specs.evaluate import Evaluation, evaluate
from cgtqc.specs.loader import catalogue, load_specification, parse_specification, templates
from cgtqc.specs.model import Criterion, Specification, SpecLine

__all__ = [
    "Criterion",
    "Evaluation",
    "SpecLine",
    "Specification",
    "catalogue",
    "evaluate",
    "load_specification",
    "parse_specification",
    "templates",
]
