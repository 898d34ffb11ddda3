"""Lazy public names for engine packages and aliases for modules that moved.

An engine package (``cgtqc.assays.ddpcr``) names its public API without importing it: ``from
cgtqc.assays.ddpcr import quantify_amplitudes`` imports the engine module on first use, so reading the
registry (which imports each package's ``spec`` module) never pulls in numba, FlowKit or pysam.

``MOVED`` maps the module paths of release 0.1 (flat ``assays/ddpcr_apps.py``, ``seq/aav_path.py`` ...) to
their place in the engine packages; :class:`MovedModuleFinder` keeps those imports working for one release,
with a ``DeprecationWarning`` naming the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any


def lazy_exports(package: str, module: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that forward public names to ``package.module``."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        target = importlib.import_module(f"{package}.{module}")
        try:
            return getattr(target, name)
        except AttributeError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        target = importlib.import_module(f"{package}.{module}")
        return sorted(n for n in vars(target) if not n.startswith("_"))

    return __getattr__, __dir__


_OLD_TO_NEW = """
assays.ddpcr_apps assays.ddpcr.apps
assays.ddpcr_sim assays.ddpcr.sim
assays.ddpcr_threshold assays.ddpcr.threshold
io.ddpcr assays.ddpcr.readers
io.ddpcr_amplitudes assays.ddpcr.readers_amplitudes
io.ddpcr_tables assays.ddpcr.readers_tables
io.ddpcr_text assays.ddpcr.readers_text
assays.qpcr_melt assays.qpcr.melt
assays.qpcr_nat assays.qpcr.nat
assays.qpcr_quant assays.qpcr.quant
assays.qpcr_sim assays.qpcr.sim
io.rdml assays.qpcr.rdml
io.cq_tables assays.qpcr.cq_tables
assays.flow_panels assays.flow.panels
assays.flow_plots assays.flow.plots
assays.flow_sim assays.flow.sim
assays.potency_apps assays.potency.apps
assays.potency_combine assays.potency.combine
assays.potency_fit assays.potency.fit
assays.potency_similarity assays.potency.similarity
seq.aav_classes seq.aav.classes
seq.aav_construct seq.aav.construct
seq.aav_fullness seq.aav.fullness
seq.aav_itr seq.aav.itr
seq.aav_laava seq.aav.laava
seq.aav_output seq.aav.output
seq.aav_path seq.aav.path
seq.aav_report seq.aav.report
seq.aav_stats seq.aav.stats
seq.simulate seq.aav.sim
seq.editing_align seq.editing.align
seq.editing_batch seq.editing.batch
seq.editing_classify seq.editing.classify
seq.editing_output seq.editing.output
seq.editing_quantify seq.editing.pipeline
seq.editing_results seq.editing.results
seq.editing_sim seq.editing.sim
seq.editing_stats seq.editing.stats
seq.offtarget seq.editing.offtarget.engine
seq.offtarget_sim seq.editing.offtarget.sim
seq.offtarget_verify seq.editing.offtarget.verify
seq.largedel seq.editing.largedel.engine
seq.largedel_sim seq.editing.largedel.sim
lots.demo runner.demo
"""
MOVED: dict[str, str] = {
    f"cgtqc.{old}": f"cgtqc.{new}" for old, new in (line.split() for line in _OLD_TO_NEW.strip().splitlines())
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:  # the target module is already executed
        return None


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Resolves a 0.1 module path to the module's new place, warning once per import."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        new = MOVED.get(fullname)
        if new is None:
            return None
        warnings.warn(
            f"{fullname} moved to {new}; the old path goes away in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
