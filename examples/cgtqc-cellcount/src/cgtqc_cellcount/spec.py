"""The engine's declaration: what it reads, its parameters, the CQAs it emits. Imports nothing heavy."""

from __future__ import annotations

from pydantic import Field

from cgtqc.engines import EngineParams, EngineSpec, InputKind


class CellCountParams(EngineParams):
    """Parameters of a dual-fluorescence (AO/PI) cell count."""

    dilution: float = Field(1.0, gt=0, description="dilution of the sample before counting (1 = neat)")
    product_volume_ml: float | None = Field(
        None, gt=0, description="volume of the product (mL) for total viable cells; omit to skip that CQA"
    )
    max_cv_pct: float = Field(10.0, gt=0, description="largest replicate CV (%) of live cells/mL accepted")
    min_replicates: int = Field(2, ge=1, description="fewest replicate counts for a valid result")
    sample: str | None = Field(None, description="sample to report (default: the only sample in the file)")


ENGINE = EngineSpec(
    name="cellcount",
    version="1.0.0",
    summary="Viable cell concentration, viability and total viable cells from AO/PI counter exports.",
    inputs=(
        InputKind(
            "cell-count-csv",
            ("*.csv",),
            reader="cgtqc_cellcount.engine:read_counts",
            description="counter export: sample, replicate, live_cells_per_ml, dead_cells_per_ml",
        ),
    ),
    params=CellCountParams,
    cqas=("viable_cell_concentration", "viability", "viable_cell_count"),
    methods=("AO/PI", "cell count"),
    run="cgtqc_cellcount.engine:run",
    simulate="cgtqc_cellcount.engine:simulate",
)
