"""The infectivity engine's declaration: TCID50 endpoint titers and lentiviral functional titers.

Imports only pydantic and :mod:`cgtqc.engines`, so listing the engines stays fast; the maths loads in
:mod:`cgtqc.assays.infectivity.run` when the engine runs. Each input kind is one application: a
``tcid50-table`` gives ``infectious_titer`` (TCID50/mL), an ``lv-titer-table`` gives ``functional_titer``
(TU/mL); both may be given in one run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind


class InfectivityParams(EngineParams):
    """Every parameter of the infectivity engine: TCID50 method and inoculum, LV transduction set-up."""

    tcid50_method: Literal["spearman_karber", "reed_muench"] = Field(
        "spearman_karber",
        description="TCID50 endpoint: Spearman-Kaerber (with a 95% CI) or Reed-Muench (no CI)",
    )
    inoculum_ml: float = Field(0.1, description="TCID50: inoculum volume per well (mL)")
    readout: Literal["flow", "qpcr"] = Field(
        "flow",
        description="LV titer readout: flow (columns dilution, percent_positive) or qPCR (dilution, vcn)",
    )
    cells_at_transduction: float | None = Field(
        None, description="LV titer: cells per well at transduction (required for an lv-titer table)"
    )
    volume_ml: float | None = Field(
        None,
        description="LV titer: volume of diluted vector added per well (mL; required for an lv-titer table)",
    )
    background_pct: float = Field(0.0, description="LV titer (flow): % positive of untransduced cells")
    linear_range_pct: list[float] = Field(
        [2.0, 20.0],
        min_length=2,
        max_length=2,
        description="LV titer (flow): % transduced counted as linear, low and high (%)",
    )
    linear_range_vcn: list[float] = Field(
        [0.02, 0.3],
        min_length=2,
        max_length=2,
        description="LV titer (qPCR): vector copies per cell counted as linear, low and high",
    )
    max_cv_pct: float = Field(30.0, description="LV titer: maximum CV of TU/mL across dilutions in range (%)")
    sample: str | None = Field(None, description="sample name on the measurements; None: none")


ENGINE = EngineSpec(
    name="infectivity",
    version=__version__,
    summary="Infectious titer (TCID50/mL, Spearman-Kaerber or Reed-Muench) and lentiviral functional titer"
    " (TU/mL, flow or qPCR) from dilution tables.",
    inputs=(
        InputKind(
            "tcid50-table",
            ("*tcid50*.csv", "*tcid*.csv", "*tcid50*.tsv"),
            "cgtqc.io.plate:read_numeric_table",
            "TCID50 CSV: log10_dilution (positive, 10^-3 -> 3), positive, total (wells)",
            required=False,
        ),
        InputKind(
            "lv-titer-table",
            ("*.csv", "*.tsv", "*.txt"),
            "cgtqc.io.plate:read_numeric_table",
            "LV transduction CSV: dilution (fold) and percent_positive (flow) or vcn (qPCR)",
            required=False,
        ),
    ),
    params=InfectivityParams,
    cqas=("functional_titer", "infectious_titer"),
    methods=("TCID50", "transduction", "infectivity"),
    run="cgtqc.assays.infectivity.run:run",
    simulate="cgtqc.assays.infectivity.run:simulate",
    cli="cgtqc.cli.infectivity",
)
