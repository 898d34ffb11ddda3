"""The flow engine's declaration: FCS files gated on FlowKit with a panel's GatingML template into CQAs.

Imports only pydantic and the registry so that ``cgtqc engines`` never loads FlowKit; the work is in
``cgtqc.assays.flow.run`` (which calls ``panels.run_panel``, ``engine.gate_file`` and ``plots``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind


class FlowParams(EngineParams):
    """Every parameter of the flow engine: the panel, its set-up figures and its minimum-event checks.

    A parameter that belongs to another panel than the selected one is refused when it is set to anything
    but its default, so a CD34 set-up figure cannot silently be ignored by a CAR-T run."""

    panel: Literal["cart", "cd34", "msc", "transduction", "gates"] = Field(
        "cart",
        description="Release panel: cart (CAR-T), cd34 (ISHAGE), msc (ISCT identity), transduction (LV), "
        "or gates (gate counts of a supplied GatingML/FlowJo file only, no CQA)",
    )
    sample_id: str | None = Field(
        None,
        description="Sample id reported with each result (a FlowJo workspace's sample); default file name",
    )
    # --- cd34 (ISHAGE single platform) -------------------------------------------------------------
    beads_per_test: float | None = Field(
        None, gt=0, description="cd34: counting beads per tube (beads; required for cd34)"
    )
    volume_ul: float | None = Field(
        None, gt=0, description="cd34: sample volume stained in the tube (uL; required for cd34)"
    )
    dilution: float = Field(
        1.0, gt=0, description="cd34/transduction: dilution of the product (cd34) or vector (titer) (fold)"
    )
    product_volume_ml: float | None = Field(
        None, gt=0, description="cd34: drug product volume for the viable CD34+ per product (mL)"
    )
    weight_kg: float | None = Field(
        None, gt=0, description="cd34: patient weight for the CD34+ dose per kg (kg; needs product_volume_ml)"
    )
    # --- cart ------------------------------------------------------------------------------------
    total_viable_cells: float | None = Field(
        None,
        gt=0,
        description="cart: total viable cells of the product, from the cell count (cells), for the dose",
    )
    # --- transduction ----------------------------------------------------------------------------
    cells_at_transduction: float | None = Field(
        None, gt=0, description="transduction: cells per well at transduction (cells), for the titer TU/mL"
    )
    vector_volume_ml: float | None = Field(
        None, gt=0, description="transduction: vector volume added per well (mL), for the titer TU/mL"
    )
    linear_range_pct: list[float] = Field(
        [2.0, 20.0],
        min_length=2,
        max_length=2,
        description="transduction: low and high transduced % of a well valid for the titer (%)",
    )
    # --- msc (ISCT identity) ---------------------------------------------------------------------
    positive_markers: list[str] = Field(
        ["CD105", "CD73", "CD90"], description="msc: markers expected positive (gate '<marker>pos' of Viable)"
    )
    negative_markers: list[str] = Field(
        ["CD45", "CD34", "CD14", "CD19", "HLA-DR"],
        description="msc: markers expected negative (gate '<marker>pos' of Viable)",
    )
    positive_min_pct: float = Field(
        95.0, description="msc: each positive marker must reach this (% of viable)"
    )
    negative_max_pct: float = Field(
        2.0, description="msc: each negative marker must not exceed this (% of viable)"
    )
    limit_decimals: int = Field(
        0,
        ge=0,
        le=6,
        description="msc: decimals a marker % is rounded to before the limit (USP 7.20) (digits)",
    )
    # --- minimum events (None: the panel's own default) ------------------------------------------
    min_cd45_events: int | None = Field(
        None, ge=0, description="cd34/cart: minimum CD45+ events (events; default 75000 cd34, 10000 cart)"
    )
    min_cd34_events: int | None = Field(
        None, ge=0, description="cd34: minimum viable CD34+ events (events; default 100)"
    )
    min_bead_events: int | None = Field(
        None, ge=0, description="cd34: minimum counting-bead events (events; default 1000)"
    )
    min_cd3_events: int | None = Field(
        None, ge=0, description="cart: minimum viable CD3+ events (events; default 10000)"
    )
    min_subset_events: int | None = Field(
        None, ge=0, description="cart: minimum CD4+ and CD8+ T events for the ratio (events; default 100)"
    )
    min_viable_events: int | None = Field(
        None, ge=0, description="msc/transduction: minimum viable events (events; default 10000)"
    )


ENGINE = EngineSpec(
    name="flow",
    version=__version__,
    summary="Flow cytometry on FlowKit: FCS files gated with a panel's GatingML template into CAR-T, "
    "CD34+ ISHAGE, MSC ISCT identity and LV transduction release CQAs.",
    inputs=(
        InputKind(
            "fcs",
            ("*.fcs",),
            reader="cgtqc.assays.flow.engine:load_fcs",
            description="FCS 2.0/3.0/3.1 file(s), one sample each",
        ),
        InputKind(
            "gating-ml",
            ("*.xml",),
            reader="cgtqc.assays.flow.engine:load_gating",
            description="Lab's GatingML 2.0 file with the panel's gate ids (default: the shipped template)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "flowjo-workspace",
            ("*.wsp",),
            reader="cgtqc.assays.flow.engine:gate_file",
            description="FlowJo 10 workspace used instead of a GatingML file (carries its own compensation)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "compensation-matrix",
            ("*.csv", "*.tsv"),
            reader="cgtqc.assays.flow.engine:read_compensation",
            description="Compensation matrix CSV, detectors ($PnN) as header (default: file's $SPILLOVER)",
            required=False,
            multiple=False,
        ),
    ),
    params=FlowParams,
    cqas=(
        "viability",
        "cd3_pct",
        "car_positive_pct",
        "cd4_cd8_ratio",
        "car_t_dose",
        "cd34_viable_per_ul",
        "cd34_viability",
        "cd34_purity_pct",
        "cd34_dose_per_kg",
        "transduced_cells_pct",
        "functional_titer",
        "msc_identity",
    ),
    methods=("flow cytometry", "flow"),
    run="cgtqc.assays.flow.run:run",
    simulate="cgtqc.assays.flow.run:simulate",
    cli="cgtqc.cli.flow",
)
