"""Lentiviral integration sites and clonal dynamics (engine package)."""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module, imported on first use (keeps scipy out of the package import); the function
# `diversity` is not exported here because the submodule of that name would shadow it
_EXPORTS = {
    "AbundanceFit": "abundance",
    "estimate_abundance": "abundance",
    "Diversity": "diversity",
    "chao1": "diversity",
    "Fragments": "fragments",
    "read_fragments": "fragments",
    "Gene": "genes",
    "GeneSet": "genes",
    "GeneAnnotation": "genes",
    "SafetyRules": "safety",
    "assess_sites": "safety",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(_EXPORTS)
