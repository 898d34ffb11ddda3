"""Reader, maths and simulator of the AO/PI cell count engine.

The counter reports live (AO+ PI-) and dead (PI+) cells per mL of the counted suspension for each
replicate chamber. Per replicate, concentration = live x dilution and viability = live / (live + dead);
the reportable values are replicate means with a Student-t 95% interval. The replicate CV of live cells/mL
and the number of replicates are validity checks.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from scipy import stats

from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import Measurement, Provenance, ValidityCheck, file_input

from .spec import ENGINE, CellCountParams

COLUMNS = ("sample", "replicate", "live_cells_per_ml", "dead_cells_per_ml")


def read_counts(path: Path) -> dict[str, list[tuple[float, float]]]:
    """(live, dead) cells/mL per replicate, by sample; InputError naming file and line on any defect."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a text CSV file", file=path) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise InputError("empty file", file=path)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)} (found: {', '.join(header)})", file=path)
    idx = {c: header.index(c) for c in COLUMNS}
    out: dict[str, list[tuple[float, float]]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise InputError(f"{len(row)} fields, expected {len(header)}", file=path, place=f"line {line}")
        values = []
        for col in ("live_cells_per_ml", "dead_cells_per_ml"):
            cell, place = row[idx[col]].strip(), f"line {line}, column {col!r}"
            try:
                v = float(cell)
            except ValueError:
                raise InputError(f"{cell!r} is not a number", file=path, place=place) from None
            if not math.isfinite(v) or v < 0:
                raise InputError(f"{cell!r} must be a count >= 0", file=path, place=place)
            values.append(v)
        out.setdefault(row[idx["sample"]].strip(), []).append((values[0], values[1]))
    if not out:
        raise InputError("no count rows", file=path)
    return out


def _mean_ci(values: np.ndarray) -> tuple[float, float | None, float | None]:
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def run(inputs: dict[str, list[Path]], params: CellCountParams, out_dir: Path | None) -> EngineResult:
    """The count's CQAs for one sample of one export."""
    path = inputs["cell-count-csv"][0]
    by_sample = read_counts(path)
    sample = params.sample or (next(iter(by_sample)) if len(by_sample) == 1 else None)
    if sample is None or sample not in by_sample:
        raise InputError(f"choose a sample with --sample (samples: {', '.join(by_sample)})", file=path)
    counts = np.array(by_sample[sample])
    live = counts[:, 0] * params.dilution / 1e6  # x10^6 cells/mL of the product
    total = counts.sum(axis=1)
    if np.any(total == 0):
        raise InputError(f"sample {sample!r}: a replicate with no cells counted", file=path)
    viability = 100.0 * counts[:, 0] / total
    cv = float(100 * live.std(ddof=1) / live.mean()) if len(live) > 1 and live.mean() > 0 else math.nan
    checks = [
        ValidityCheck("min_replicates", len(live) >= params.min_replicates, f"{len(live)} replicates"),
        ValidityCheck("replicate_cv", len(live) > 1 and cv <= params.max_cv_pct, f"CV {cv:.1f}%"),
    ]
    prov = Provenance(ENGINE.name, ENGINE.version, params.model_dump(), [file_input(path)])
    conc, c_lo, c_hi = _mean_ci(live)
    via, v_lo, v_hi = _mean_ci(viability)
    ms = [
        Measurement(
            "viable_cell_concentration", conc, "x10^6 cells/mL", prov, checks, c_lo, c_hi, sample=sample
        ),
        Measurement("viability", via, "%", prov, checks, v_lo, v_hi, sample=sample),
    ]
    if params.product_volume_ml is not None:
        v = params.product_volume_ml
        ms.append(
            Measurement(
                "viable_cell_count", conc * v, "x10^6 cells", prov, checks,
                None if c_lo is None else c_lo * v, None if c_hi is None else c_hi * v, sample=sample,
            )
        )
    artefacts = []
    if out_dir is not None:
        table = Path(out_dir) / "cell_counts.csv"
        with open(table, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["replicate", "viable_1e6_per_ml", "viability_pct"])
            for i, (a, b) in enumerate(zip(live, viability, strict=True)):
                w.writerow([i + 1, f"{a:.6g}", f"{b:.4f}"])
        artefacts.append(Artefact(str(table), "table", "Replicate counts"))
    return EngineResult(ENGINE.name, ENGINE.version, ms, artefacts, {"sample": sample, "cv_pct": cv})


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """A counter export with Poisson chamber counts; truth keys: concentration (x10^6/mL), viability (%)."""
    rng = np.random.default_rng(seed)
    conc = float(truth.get("concentration", rng.uniform(2.0, 8.0)))
    viability = float(truth.get("viability", rng.uniform(85.0, 97.0)))
    dilution, chamber_ul = 10.0, 0.5  # counted at 1:10, cells per mL from a 0.5 µL chamber
    path = Path(out_dir) / "cell_count.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for rep in range(1, 4):
            live_mean = conc * 1e6 / dilution * chamber_ul / 1000
            dead_mean = live_mean * (100 - viability) / viability
            live, dead = rng.poisson(live_mean), rng.poisson(dead_mean)
            w.writerow(["LOT final product", rep, live / chamber_ul * 1000, dead / chamber_ul * 1000])
    params = {"dilution": dilution, "product_volume_ml": 50.0}
    return Simulated(
        cqas=ENGINE.cqas, inputs={"cell-count-csv": [str(path)]}, params=params,
        truth={"viable_cell_concentration": conc, "viability": viability, "viable_cell_count": conc * 50.0},
    )
