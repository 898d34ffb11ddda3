"""The potency engine's declaration: plate-reader bioassays to relative potency and other potency CQAs.

Imports only pydantic and :mod:`cgtqc.engines`, so listing the engines never loads numpy, scipy or matplotlib.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind

RELATIVE_POTENCY_CQAS = ("potency_ifng", "potency_expression")
"""Catalogue potency CQAs reported as a relative potency (% of reference) by the parallel 4PL/5PL model."""


class PotencyParams(EngineParams):
    """Every parameter of the potency engine; ``application`` selects the assay."""

    application: Literal[
        "relative_potency", "msc_suppression", "car_t_lysis", "ido_activity", "capsid_elisa", "curve_fit"
    ] = Field(
        "relative_potency",
        description="assay: relative_potency (4PL/5PL parallel model vs reference), msc_suppression "
        "(% T-cell proliferation inhibition), car_t_lysis (% specific lysis), ido_activity (kynurenine, "
        "% of reference), capsid_elisa (capsid titer off a 4PL standard), curve_fit (curves and ED50s only, "
        "no CQA)",
    )
    cqa: Literal["potency_ifng", "potency_expression"] = Field(
        "potency_ifng",
        description="relative_potency: which potency CQA the relative potency (%) reports "
        "(potency_ifng: CAR-T IFN-gamma release; potency_expression: AAV/LV in-vitro transgene expression)",
    )
    reference: str = Field("Reference", description="relative_potency: sample name of the reference standard")
    test: str | None = Field(
        None, description="relative_potency: the test sample to report (default: every non-reference sample)"
    )
    model: Literal["4pl", "5pl"] = Field(
        "4pl", description="dose-response model: 4- or 5-parameter log-logistic"
    )
    zero_dose: Literal["error", "limit"] = Field(
        "error",
        description="dose 0: refuse it (error) or use it as the zero-dose asymptote (limit, as drc does)",
    )
    level: float = Field(0.95, gt=0.5, lt=1.0, description="confidence level of the intervals (fraction)")
    weight_power: float = Field(
        0.0, ge=0.0, description="weight points by 1/mean^(2 p): 1 for a constant CV, 0 unweighted"
    )
    slope_ratio_margin: list[float] = Field(
        [0.67, 1.50],
        min_length=2,
        max_length=2,
        description="similarity: equivalence margins of the test/reference slope ratio (low, high)",
    )
    asymptote_margin: float = Field(
        0.20, gt=0.0, description="similarity: margin of asymptote differences (fraction of reference span)"
    )
    similarity_level: float = Field(
        0.90, gt=0.5, lt=1.0, description="similarity: level of the equivalence intervals (fraction, TOST)"
    )
    rp_range: list[float] = Field(
        [0.5, 2.0],
        min_length=2,
        max_length=2,
        description="suitability: assay range of relative potency (ratio, low, high)",
    )
    min_r_squared: float = Field(
        0.95, ge=0.0, le=1.0, description="suitability: minimum R^2 of the reference fit"
    )
    min_asymptote_ratio: float = Field(
        2.0, gt=0.0, description="suitability: minimum upper/lower asymptote ratio of the reference (fold)"
    )
    max_replicate_cv_pct: float = Field(
        20.0, gt=0.0, description="suitability: largest replicate CV at one dose or ratio (%)"
    )
    et_ratio: float = Field(10.0, gt=0.0, description="car_t_lysis: effector:target ratio reported (E per T)")
    msc_ratio: float = Field(
        0.1, gt=0.0, description="msc_suppression: MSC:PBMC ratio reported (MSC per PBMC)"
    )
    ido_min_r_squared: float = Field(
        0.98, ge=0.0, le=1.0, description="ido_activity: minimum R^2 of the kynurenine standard curve"
    )
    value_column: str | None = Field(
        None, description="long plate exports: the value column (default: the first known one, e.g. OD)"
    )
    dose_column: str = Field("dose", description="dose-response table: the dose column")
    response_column: str = Field("response", description="dose-response table: the response column")
    group_column: str | None = Field(
        None, description="dose-response table: the sample (group) column (default: one sample 'all')"
    )


ENGINE = EngineSpec(
    name="potency",
    version=__version__,
    summary="Potency bioassays from plate-reader exports: 4PL/5PL relative potency with similarity, "
    "MSC suppression, CAR-T lysis, IDO activity and capsid ELISA.",
    inputs=(
        InputKind(
            "plate-layout",
            ("*layout*.csv", "*layout*.tsv", "*layout*.txt"),
            "cgtqc.io.plate:read_layout",
            "layout CSV: Well, Role, Sample, Dose, Replicate, Dilution",
            required=False,
            multiple=False,
        ),
        InputKind(
            "dose-response-table",
            ("*dose_response*.csv", "*dose-response*.csv", "*doseresponse*.csv"),
            "cgtqc.io.plate:read_dose_response",
            "long CSV with dose, response and optionally sample columns (instead of a plate and layout)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "plate-export",
            ("*.csv", "*.tsv", "*.txt"),
            "cgtqc.io.plate:read_plate",
            "plate-reader export (96/384 grid or long Well/value table)",
            required=False,
            multiple=False,
        ),
    ),
    params=PotencyParams,
    cqas=(*RELATIVE_POTENCY_CQAS, "msc_immunosuppression", "cytotoxicity", "ido_activity", "capsid_titer"),
    methods=("co-culture with antigen", "ELISA", "bioassay", "potency", "suppression", "IDO"),
    run="cgtqc.assays.potency.run:run",
    simulate="cgtqc.assays.potency.run:simulate",
    cli="cgtqc.cli.potency",
)
