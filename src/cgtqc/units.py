"""Units of measure: the closed vocabulary results may be entered in, and conversions between them.

A manual result in ``vg/L`` against a limit in ``vg/mL`` is converted; ``EU/mL`` against ``%`` is refused.
Micro is accepted as ``µ`` (U+00B5), ``μ`` (U+03BC) or ``u``; case does not matter (``eu/ml`` is ``EU/mL``),
and an unknown unit is answered with the closest known ones ("did you mean").
"""

from __future__ import annotations

import difflib

from cgtqc.errors import UnitError

# unit -> (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {
    "%": ("fraction", 1e-2),
    "fraction": ("fraction", 1.0),
    "ratio": ("ratio", 1.0),
    "cells": ("cells", 1.0),
    "x10^6 cells": ("cells", 1e6),
    "x10^8 cells": ("cells", 1e8),
    "cells/mL": ("cells/mL", 1.0),
    "x10^6 cells/mL": ("cells/mL", 1e6),
    "cells/uL": ("cells/mL", 1e3),
    "cells/kg": ("cells/kg", 1.0),
    "x10^6 cells/kg": ("cells/kg", 1e6),
    "EU/mL": ("EU/mL", 1.0),
    "IU/mL": ("EU/mL", 1.0),
    "EU/kg": ("EU/kg", 1.0),
    "copies/uL": ("copies/mL", 1e3),
    "copies/mL": ("copies/mL", 1.0),
    "copies/cell": ("copies/cell", 1.0),
    "copies/diploid genome": ("copies/cell", 1.0),
    "copies/ug gDNA": ("copies/ug", 1.0),
    "vg/mL": ("vg/mL", 1.0),
    "vg/L": ("vg/mL", 1e-3),
    "cp/mL": ("cp/mL", 1.0),
    "TU/mL": ("TU/mL", 1.0),
    "TCID50/mL": ("TCID50/mL", 1.0),
    "ng/mL": ("mass/volume", 1e-9),
    "pg/mL": ("mass/volume", 1e-12),
    "ug/mL": ("mass/volume", 1e-6),
    "ng/dose": ("mass/dose", 1e-9),
    "pg/dose": ("mass/dose", 1e-12),
    "ng": ("mass", 1e-9),
    "pg": ("mass", 1e-12),
    "CFU/mL": ("CFU/mL", 1.0),
    "CFU": ("CFU", 1.0),
    "colonies": ("count", 1.0),
    "count": ("count", 1.0),
    "sites": ("count", 1.0),
    "fold": ("ratio", 1.0),
    "relative potency %": ("fraction", 1e-2),
    "log10": ("log10", 1.0),
    "nm": ("length", 1.0),
    "": ("dimensionless", 1.0),
}


_BY_FOLDED = {k.lower(): k for k in _UNITS}
assert len(_BY_FOLDED) == len(_UNITS), "two units differ only by case"


def normalize_unit(unit: str) -> str:
    """Canonical spelling: micro signs to 'u', spaces around '/' removed, 'x 10^6' to 'x10^6', known units in
    their own case ('eu/ml' -> 'EU/mL')."""
    u = unit.strip().replace("\u00b5", "u").replace("\u03bc", "u").replace("\u00c2u", "u")
    u = " ".join(u.split()).replace(" / ", "/").replace("× ", "x").replace("×", "x").replace("x 10", "x10")
    u = u.replace("X10", "x10")
    return u if u in _UNITS else _BY_FOLDED.get(u.lower(), u)


def is_known(unit: str) -> bool:
    return normalize_unit(unit) in _UNITS


def dimension(unit: str) -> str:
    u = normalize_unit(unit)
    if u not in _UNITS:
        close = difflib.get_close_matches(u.lower(), list(_BY_FOLDED), n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(repr(_BY_FOLDED[c]) for c in close) + "?"
        else:
            hint = f"known: {', '.join(sorted(k for k in _UNITS if k))}"
        raise UnitError(f"unknown unit {unit!r} ({hint})")
    return _UNITS[u][0]


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between two units of the same dimension; refuse mismatched dimensions."""
    f, t = normalize_unit(from_unit), normalize_unit(to_unit)
    if f == t:
        return value
    df, dt = dimension(f), dimension(t)
    if df != dt:
        raise UnitError(f"unit {from_unit!r} cannot be converted to {to_unit!r} ({df} vs {dt})")
    return value * _UNITS[f][1] / _UNITS[t][1]
