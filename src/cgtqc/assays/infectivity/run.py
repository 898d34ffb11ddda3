"""``run`` and ``simulate`` of the infectivity engine: dilution tables in, titer Measurements out.

A ``tcid50-table`` (log10_dilution, positive, total) goes through ``engine.spearman_karber`` or
``engine.reed_muench`` to ``infectious_titer`` (TCID50/mL); an ``lv-titer-table`` (dilution with
percent_positive or vcn) goes through ``engine.lv_titer_flow`` or ``engine.lv_titer_qpcr`` to
``functional_titer`` (TU/mL). Tables are read with :func:`cgtqc.io.plate.read_numeric_table`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.assays.infectivity.engine import (
    DilutionWells,
    FunctionalTiter,
    Tcid50Result,
    lv_titer_flow,
    lv_titer_qpcr,
    reed_muench,
    simulate_lv_transduction,
    spearman_karber,
)
from cgtqc.assays.infectivity.sim import (
    DEFAULT_LOG10_DILUTIONS,
    tcid50_wells,
    write_lv_titer_table,
    write_tcid50_table,
)
from cgtqc.assays.infectivity.spec import ENGINE, InfectivityParams
from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.io.plate import read_numeric_table
from cgtqc.results import Provenance, file_input, to_json


def _named(path: Path, exc: InputError) -> InputError:
    """An engine error about a table's content, re-raised naming the table."""
    return exc if exc.file else InputError(exc.message, file=path, place=exc.place)


def _tcid50(path: Path, params: InfectivityParams) -> Tcid50Result:
    levels = []
    for row in read_numeric_table(path, ("log10_dilution", "positive", "total")):
        for col in ("positive", "total"):
            if row[col] != int(row[col]):
                raise InputError(
                    f"{col} must be a whole number of wells, got {row[col]:g}",
                    file=path,
                    place=f"line {int(row['_line'])}, column {col!r}",
                )
        levels.append(DilutionWells(row["log10_dilution"], int(row["positive"]), int(row["total"])))
    fn = spearman_karber if params.tcid50_method == "spearman_karber" else reed_muench
    try:
        return fn(levels, inoculum_ml=params.inoculum_ml, source=path)
    except InputError as exc:
        raise _named(path, exc) from None


def _lv_titer(path: Path, params: InfectivityParams) -> FunctionalTiter:
    for name in ("cells_at_transduction", "volume_ml"):
        if getattr(params, name) is None:
            raise InputError(f"parameter {name!r}: required for an lv-titer table")
    cells, volume = float(params.cells_at_transduction), float(params.volume_ml)  # type: ignore[arg-type]
    try:
        if params.readout == "flow":
            rows = read_numeric_table(path, ("dilution", "percent_positive"))
            return lv_titer_flow(
                [r["dilution"] for r in rows],
                [r["percent_positive"] for r in rows],
                cells=cells,
                volume_ml=volume,
                background_pct=params.background_pct,
                linear_range_pct=(params.linear_range_pct[0], params.linear_range_pct[1]),
                max_cv_pct=params.max_cv_pct,
                source=path,
            )
        rows = read_numeric_table(path, ("dilution", "vcn"))
        return lv_titer_qpcr(
            [r["dilution"] for r in rows],
            [r["vcn"] for r in rows],
            cells=cells,
            volume_ml=volume,
            linear_range=(params.linear_range_vcn[0], params.linear_range_vcn[1]),
            max_cv_pct=params.max_cv_pct,
            source=path,
        )
    except InputError as exc:
        raise _named(path, exc) from None


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def run(inputs: dict[str, list[Path]], params: InfectivityParams, out_dir: Path | None) -> EngineResult:
    """One titer Measurement per table with the method's validity checks; tables and a report to out_dir."""
    tcid = inputs.get("tcid50-table", [])
    lv = inputs.get("lv-titer-table", [])
    if not tcid and not lv:
        raise InputError("engine 'infectivity' needs a 'tcid50-table' or an 'lv-titer-table' file")
    measurements, artefacts, results = [], [], {}
    for path in tcid:
        res = _tcid50(path, params)
        m = res.to_measurement("infectious_titer", params.sample)
        m.provenance = Provenance(ENGINE.name, ENGINE.version, params.model_dump(), [file_input(path)])
        measurements.append(m)
        results[str(path)] = res
        if out_dir is not None:
            table = _write_csv(
                out_dir / f"{path.stem}_levels.csv",
                ["log10_dilution", "positive", "total", "proportion"],
                [[lv_.log10_dilution, lv_.positive, lv_.total, lv_.proportion] for lv_ in res.levels],
            )
            artefacts.append(Artefact(str(table), "table", f"TCID50 wells per dilution ({path.name})"))
    for path in lv:
        res_lv = _lv_titer(path, params)
        m = res_lv.to_measurement("functional_titer", params.sample)
        m.provenance = Provenance(
            ENGINE.name, ENGINE.version, {**params.model_dump(), **res_lv.parameters}, [file_input(path)]
        )
        measurements.append(m)
        results[str(path)] = res_lv
        if out_dir is not None:
            table = _write_csv(
                out_dir / f"{path.stem}_points.csv",
                ["dilution", "transduced", "tu_per_ml", "in_linear_range"],
                [[p.dilution, p.transduced, p.tu_per_ml, p.in_linear_range] for p in res_lv.points],
            )
            artefacts.append(Artefact(str(table), "table", f"TU/mL per dilution ({path.name})"))
    summary = {}
    for key, res_any in results.items():
        d = json.loads(to_json(res_any))
        d.pop("provenance", None)
        summary[key] = d
    if out_dir is not None:
        report = out_dir / "infectivity_report.json"
        report.write_text(json.dumps(summary, indent=2) + "\n")
        artefacts.append(Artefact(str(report), "report", "Infectivity results with every check"))
    return EngineResult(ENGINE.name, ENGINE.version, measurements, artefacts, {"results": summary})


LV_KEYS = ("tu_per_ml", "dilutions", "cells", "volume_ml", "background_pct", "events", "sample")
TCID50_KEYS = ("log10_tcid50_per_ml", "log10_dilutions", "wells", "inoculum_ml", "method", "sample")


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """Raw tables of known titer, drawn from ``seed`` (``product`` does not change the ranges).

    ``functional_titer``, as the demo's lentiviral vector does: TU/mL = 10^U(8.0, 8.7) (the first draw of
    ``numpy.random.default_rng(seed)``), vector diluted 10 ... 10^5-fold onto 1e5 cells in 0.1 mL, 20,000 flow
    events per dilution, no background; written to ``{sample}_lv_titer.csv``. Truth keys: ``tu_per_ml``,
    ``dilutions``, ``cells``, ``volume_ml``, ``background_pct``, ``events``, ``sample`` (default 'LOT').

    ``infectious_titer``: log10 TCID50/mL ~ U(9.0, 10.0) (AAV specifications ask >= 1e9), 10 wells at each
    10-fold dilution 10^-5 ... 10^-13, 0.1 mL inocula, positives by the single-hit Poisson model
    (:func:`~cgtqc.assays.infectivity.sim.tcid50_wells`); written to ``{sample}_tcid50.csv``. Truth keys:
    ``log10_tcid50_per_ml``, ``log10_dilutions``, ``wells``, ``inoculum_ml``, ``method``
    ('spearman_karber' or 'reed_muench'), ``sample``.
    """
    if cqa not in ENGINE.cqas:
        raise InputError(f"engine 'infectivity' does not simulate CQA {cqa!r}")
    keys = LV_KEYS if cqa == "functional_titer" else TCID50_KEYS
    unknown = sorted(set(truth) - set(keys))
    if unknown:
        raise InputError(
            f"truth key(s) {', '.join(unknown)} not understood for {cqa} (keys: {', '.join(keys)})"
        )
    rng = np.random.default_rng(seed)
    sample = str(truth.get("sample", "LOT"))
    if cqa == "functional_titer":
        drawn = float(10 ** rng.uniform(8.0, 8.7))
        tu = float(truth.get("tu_per_ml", drawn))
        dilutions = [float(d) for d in truth.get("dilutions", [10.0, 100.0, 1000.0, 10000.0, 100000.0])]
        cells, volume = float(truth.get("cells", 1e5)), float(truth.get("volume_ml", 0.1))
        background = float(truth.get("background_pct", 0.0))
        events = int(truth.get("events", 20_000))
        pct = simulate_lv_transduction(
            tu, dilutions, cells=cells, volume_ml=volume, events=events, seed=seed, background_pct=background
        )
        path = write_lv_titer_table(out_dir / f"{sample}_lv_titer.csv", dilutions, pct)
        return Simulated(
            cqas=("functional_titer",),
            inputs={"lv-titer-table": [str(path)]},
            params={
                "cells_at_transduction": cells,
                "volume_ml": volume,
                "background_pct": background,
                "sample": sample,
            },
            truth={"tu_per_ml": tu, "dilutions": dilutions, "events": events, "sample": sample},
        )
    drawn = float(rng.uniform(9.0, 10.0))
    log10_titer = float(truth.get("log10_tcid50_per_ml", drawn))
    dil = [float(x) for x in truth.get("log10_dilutions", DEFAULT_LOG10_DILUTIONS)]
    wells, inoculum = int(truth.get("wells", 10)), float(truth.get("inoculum_ml", 0.1))
    levels = tcid50_wells(log10_titer, dil, wells=wells, inoculum_ml=inoculum, seed=seed + 1)
    path = write_tcid50_table(out_dir / f"{sample}_tcid50.csv", levels)
    method = str(truth.get("method", "spearman_karber"))
    return Simulated(
        cqas=("infectious_titer",),
        inputs={"tcid50-table": [str(path)]},
        params={"tcid50_method": method, "inoculum_ml": inoculum, "sample": sample},
        truth={
            "log10_tcid50_per_ml": log10_titer,
            "tcid50_per_ml": 10**log10_titer,
            "log10_dilutions": dil,
            "wells": wells,
            "sample": sample,
        },
    )
