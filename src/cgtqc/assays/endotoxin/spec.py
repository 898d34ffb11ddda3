"""The endotoxin engine's declaration: kinetic LAL / rFC and MAT plates, gel-clot series, limit and MVD.

Imports only pydantic and :mod:`cgtqc.engines`, so listing the engines stays fast; the maths loads in
:mod:`cgtqc.assays.endotoxin.run` when the engine runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind


class EndotoxinParams(EngineParams):
    """Every parameter of an endotoxin run: method, validity criteria, endotoxin limit / MVD, gel clot."""

    method: Literal["kinetic_chromogenic", "kinetic_turbidimetric", "rfc", "mat_a", "gel_clot"] = Field(
        "kinetic_chromogenic",
        description="assay: kinetic LAL (onset time, s), rFC (rate, RFU/min), MAT method A (cytokine OD, 4PL)"
        " or gel clot (replicate series table)",
    )
    value_column: str | None = Field(
        None, description="column holding the reading in a long (Well, value) export; None: the only one"
    )
    min_abs_r: float = Field(0.980, description="minimum |r| of the log-log standard curve (USP <85>)")
    min_standards: int = Field(3, description="minimum number of standard concentrations")
    min_standard_replicates: int = Field(3, description="minimum replicate wells per standard")
    ppc_recovery_min_pct: float = Field(50.0, description="lowest accepted spike recovery of the PPC (%)")
    ppc_recovery_max_pct: float = Field(200.0, description="highest accepted spike recovery of the PPC (%)")
    max_replicate_cv_pct: float = Field(10.0, description="maximum CV of replicate readings (%)")
    mat_min_r_squared: float = Field(0.95, description="MAT method A: minimum R^2 of the 4PL standard curve")
    mvd: float | None = Field(
        None,
        description="maximum valid dilution (fold) each dilution is checked against; None: from the"
        " endotoxin limit when a maximum dose is given, else not checked",
    )
    route: Literal["parenteral", "intrathecal"] = Field(
        "parenteral", description="route of administration, sets K (5 or 0.2 EU/kg) of the limit K/M"
    )
    max_dose_per_kg_per_h: float | None = Field(
        None, description="maximum dose per kg per hour (e.g. mL/kg/h) for the endotoxin limit K/M"
    )
    max_dose_per_m2_per_h: float | None = Field(
        None, description="maximum dose per m2 per hour (1.80 m2, 70 kg adult) for the endotoxin limit K/M"
    )
    k_eu_per_kg: float | None = Field(None, description="override K of the endotoxin limit (EU/kg)")
    sample_concentration: float = Field(
        1.0, description="sample concentration for the MVD (1 when the limit is per mL)"
    )
    gel_clot_lambda: float | None = Field(
        None, description="gel clot: labelled lysate sensitivity lambda (EU/mL); required for gel_clot"
    )
    positive_control_clotted: bool | None = Field(
        None, description="gel clot: the 2 lambda positive control in water clotted (required for gel_clot)"
    )
    ppc_clotted: bool | None = Field(
        None, description="gel clot: the sample spiked at 2 lambda clotted (required for gel_clot)"
    )
    negative_control_clotted: bool | None = Field(
        None, description="gel clot: LAL reagent water alone clotted (required for gel_clot)"
    )
    gel_clot_sample: str | None = Field(
        None, description="gel clot: sample name on the measurement; None: the table's file name"
    )


ENGINE = EngineSpec(
    name="endotoxin",
    version=__version__,
    summary="Bacterial endotoxins (EU/mL) from kinetic LAL/rFC or MAT plates and gel-clot series, with every"
    " USP <85> validity rule by name.",
    inputs=(
        InputKind(
            "plate-layout",
            ("*layout*.csv", "*layout*.tsv", "*layout*.txt"),
            "cgtqc.io.plate:read_layout",
            "layout CSV: Well, Role (standard, nc, sample, ppc), Sample, Dose, Dilution, Spike",
            required=False,
            multiple=False,
        ),
        InputKind(
            "gel-clot-table",
            ("*gel*clot*.csv", "*gelclot*.csv"),
            "cgtqc.io.plate:read_numeric_table",
            "gel-clot series CSV: replicate, dilution (fold), clotted (1/0)",
            required=False,
        ),
        InputKind(
            "plate-export",
            ("*.csv", "*.tsv", "*.txt"),
            "cgtqc.io.plate:read_plate",
            "kinetic reader export (grid or Well/value table): onset time, rate or OD per well",
            required=False,
            multiple=False,
        ),
    ),
    params=EndotoxinParams,
    cqas=("endotoxin",),
    methods=("LAL", "endotoxin", "rFC", "MAT", "gel clot"),
    run="cgtqc.assays.endotoxin.run:run",
    simulate="cgtqc.assays.endotoxin.run:simulate",
    cli="cgtqc.cli.endotoxin",
)
