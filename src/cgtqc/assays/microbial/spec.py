"""The microbial engine's declaration: sterility, rapid sterility, mycoplasma (culture), RCL and in vitro
adventitious-virus test records, checked against the compendial conditions.

Imports only pydantic and :mod:`cgtqc.engines`, so listing the engines stays fast; the reader and the rules
load in :mod:`cgtqc.assays.microbial.run` when the engine runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind


class MicrobialParams(EngineParams):
    """Every parameter of a microbial run: which test the records must be and the minimum conditions.

    The defaults are those of :class:`cgtqc.assays.microbial.engine.MicrobialCriteria` (compendial values;
    the rapid-method days are the validated method's).
    """

    test: Literal["any", "sterility", "sterility_rapid", "mycoplasma", "rcl", "adventitious_virus"] = Field(
        "any",
        description="test (CQA id) every record must be; 'any' takes each record's own 'test' field",
    )
    sterility_days: float = Field(
        14.0, gt=0, description="minimum incubation per medium of compendial sterility, days (USP <71>)"
    )
    rapid_days: float = Field(
        7.0, gt=0, description="minimum incubation of every bottle of the rapid sterility method, days"
    )
    rcl_cells_fraction: float = Field(
        0.01, gt=0, le=1, description="RCL: fraction of the lot's cells the co-culture must test (0-1)"
    )
    rcl_max_cells: float = Field(
        1e8, gt=0, description="RCL: cells tested that always suffice, whatever the lot size (cells)"
    )
    rcl_supernatant_fraction: float = Field(
        0.05, gt=0, le=1, description="RCL: fraction of the vector supernatant that must be tested (0-1)"
    )


ENGINE = EngineSpec(
    name="microbial",
    version=__version__,
    summary="Sterility, rapid sterility, mycoplasma culture, RCL co-culture and in vitro adventitious-virus"
    " test records checked against compendial conditions; rapid methods stay pending until final.",
    inputs=(
        InputKind(
            "microbial-record",
            ("*.yaml", "*.yml"),
            "cgtqc.assays.microbial.records:read_record",
            "microbiology test record (YAML, format cgtqc-microbial-record/1): test, method, sample volume,"
            " incubation dates, vessels with media and temperatures, dated readings per vessel, controls",
        ),
    ),
    params=MicrobialParams,
    cqas=("sterility", "sterility_rapid", "mycoplasma", "rcl", "adventitious_virus"),
    methods=("culture", "sterility", "blood-culture", "membrane filtration", "direct inoculation"),
    run="cgtqc.assays.microbial.run:run",
    simulate="cgtqc.assays.microbial.run:simulate",
    cli=None,
)
