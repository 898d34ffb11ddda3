"""``run`` and ``simulate`` of the endotoxin engine: raw files in, EU/mL Measurements with provenance out.

Kinetic LAL / rFC and MAT method A read one plate export and its layout (:mod:`cgtqc.io.plate`) and call
:func:`~cgtqc.assays.endotoxin.engine.analyze_kinetic` or :func:`~cgtqc.assays.endotoxin.engine.analyze_mat`;
gel clot reads replicate series tables and calls :func:`~cgtqc.assays.endotoxin.engine.gel_clot_sample`.
The endotoxin limit K/M and the MVD come from :func:`~cgtqc.assays.endotoxin.engine.endotoxin_limit` and
:func:`~cgtqc.assays.endotoxin.engine.maximum_valid_dilution`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.assays.endotoxin.engine import (
    EndotoxinCriteria,
    EndotoxinRun,
    analyze_kinetic,
    analyze_mat,
    endotoxin_limit,
    gel_clot_sample,
    maximum_valid_dilution,
)
from cgtqc.assays.endotoxin.sim import endotoxin_run
from cgtqc.assays.endotoxin.spec import ENGINE, EndotoxinParams
from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.io.plate import PlateLayout, PlateRead, read_layout, read_numeric_table, read_plate
from cgtqc.results import Measurement, Provenance, file_input, to_json

KINETIC = ("kinetic_chromogenic", "kinetic_turbidimetric", "rfc")
LIMIT_FIELDS = ("mvd", "max_dose_per_kg_per_h", "max_dose_per_m2_per_h", "k_eu_per_kg")
GEL_FIELDS = ("gel_clot_lambda", "positive_control_clotted", "ppc_clotted", "negative_control_clotted")


def _one(inputs: dict[str, list[Path]], kind: str, method: str) -> Path:
    files = inputs.get(kind, [])
    if len(files) != 1:
        raise InputError(f"engine 'endotoxin' method {method!r} needs one {kind!r} file, got {len(files)}")
    return files[0]


def _limit(params: EndotoxinParams, lam: float) -> tuple[dict[str, Any] | None, float | None]:
    """Endotoxin limit (when a maximum dose is given) and the MVD to check (given, or limit x c / lambda)."""
    lim = None
    if params.max_dose_per_kg_per_h is not None or params.max_dose_per_m2_per_h is not None:
        lim = endotoxin_limit(
            route=params.route,
            max_dose_per_kg_per_h=params.max_dose_per_kg_per_h,
            max_dose_per_m2_per_h=params.max_dose_per_m2_per_h,
            k=params.k_eu_per_kg,
        )
    elif params.k_eu_per_kg is not None:
        raise InputError("parameter 'k_eu_per_kg': give a maximum dose per kg or per m2 per hour with K")
    if params.mvd is not None:
        return (lim.to_dict() if lim else None), params.mvd
    if lim is None:
        return None, None
    return lim.to_dict(), maximum_valid_dilution(lim.limit, lam, params.sample_concentration)


def _plate_run(
    inputs: dict[str, list[Path]], params: EndotoxinParams
) -> tuple[EndotoxinRun, list[Path], dict[str, Any], PlateRead, PlateLayout]:
    export = _one(inputs, "plate-export", params.method)
    layout_path = _one(inputs, "plate-layout", params.method)
    plate = read_plate(export, value_column=params.value_column)
    layout = read_layout(layout_path, plate_format=plate.plate_format)
    crit = EndotoxinCriteria(
        min_abs_r=params.min_abs_r,
        min_standards=params.min_standards,
        min_standard_replicates=params.min_standard_replicates,
        ppc_recovery_pct=(params.ppc_recovery_min_pct, params.ppc_recovery_max_pct),
        max_replicate_cv_pct=params.max_replicate_cv_pct,
    )
    extra: dict[str, Any] = {"criteria": crit.to_dict(), "plate_format": plate.plate_format}
    if params.method == "mat_a":
        given = [f for f in LIMIT_FIELDS if getattr(params, f) is not None]
        if given:
            raise InputError(f"parameter {given[0]!r}: the MVD check applies to the kinetic methods only")
        run = analyze_mat(plate, layout, criteria=crit, min_r_squared=params.mat_min_r_squared)
    else:
        doses = [e.dose for e in layout.entries if e.role == "standard" and e.dose and e.dose > 0]
        lim, mvd = _limit(params, min(doses)) if doses else (None, params.mvd)
        extra.update(endotoxin_limit=lim, mvd_checked=mvd)
        run = analyze_kinetic(plate, layout, method=params.method, criteria=crit, mvd=mvd)
    return run, [export, layout_path], extra, plate, layout


def _read_gel_clot(path: Path) -> list[list[tuple[float, bool]]]:
    """Replicate series of one gel-clot table: rows (replicate, dilution, clotted 1/0)."""
    reps: dict[float, list[tuple[float, bool]]] = {}
    for row in read_numeric_table(path, ("replicate", "dilution", "clotted")):
        place = f"line {int(row['_line'])}"
        if row["clotted"] not in (0.0, 1.0):
            raise InputError(f"clotted must be 1 or 0, got {row['clotted']:g}", file=path, place=place)
        if not row["dilution"] >= 1.0:
            raise InputError(f"dilution (fold) must be >= 1, got {row['dilution']:g}", file=path, place=place)
        reps.setdefault(row["replicate"], []).append((row["dilution"], row["clotted"] == 1.0))
    return list(reps.values())


def _gel_clot(inputs: dict[str, list[Path]], params: EndotoxinParams) -> list[tuple[Measurement, Path, Any]]:
    files = inputs.get("gel-clot-table", [])
    if not files:
        raise InputError("engine 'endotoxin' method 'gel_clot' needs a 'gel-clot-table' file")
    missing = [f for f in GEL_FIELDS if getattr(params, f) is None]
    if missing:
        raise InputError(f"parameter {missing[0]!r}: required for method 'gel_clot'")
    given = [f for f in LIMIT_FIELDS if getattr(params, f) is not None]
    if given:
        raise InputError(f"parameter {given[0]!r}: the MVD check applies to the kinetic methods only")
    lam = float(params.gel_clot_lambda)  # type: ignore[arg-type]
    out = []
    for path in files:
        reps = _read_gel_clot(path)
        res = gel_clot_sample(
            reps,
            lam,
            positive_control=bool(params.positive_control_clotted),
            ppc=bool(params.ppc_clotted),
            negative_control=bool(params.negative_control_clotted),
        )
        lowest = min(d for r in reps for d, _ in r)
        prov = Provenance(ENGINE.name, ENGINE.version, params.model_dump(), [file_input(path)])
        note = (
            f"gel clot, geometric-mean endpoint 1:{res.geometric_mean:.4g}"
            if res.geometric_mean is not None
            else f"gel clot, no endpoint in every replicate: < {lam * lowest:.3g} EU/mL"
        )
        m = Measurement(
            "endotoxin",
            res.value,
            "EU/mL",
            prov,
            list(res.checks),
            loq=lam * lowest,
            sample=params.gel_clot_sample or path.stem,
            note=note,
        )
        out.append((m, path, res))
    return out


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _plate_artefacts(run: EndotoxinRun, plate: PlateRead, layout: PlateLayout, out: Path) -> list[Artefact]:
    samples = _write_csv(
        out / "endotoxin_samples.csv",
        [
            "sample",
            "dilution",
            "eu_per_ml",
            "in_well_eu_per_ml",
            "loq_eu_per_ml",
            "reportable",
            "ppc_recovery_pct",
            "replicate_cv_pct",
            "valid",
        ],
        [
            [
                s.sample,
                s.dilution,
                s.eu_per_ml,
                s.in_well_eu_per_ml,
                s.loq_eu_per_ml,
                s.reportable,
                s.ppc_recovery_pct,
                s.replicate_cv_pct,
                all(c.passed for c in s.checks),
            ]
            for s in run.samples
        ],
    )
    checks = _write_csv(
        out / "endotoxin_checks.csv",
        ["rule", "passed", "detail"],
        [[c.name, c.passed, c.detail] for c in run.checks + [c for s in run.samples for c in s.checks]],
    )
    report = out / "endotoxin_run.json"
    report.write_text(to_json(run) + "\n")
    arts = [
        Artefact(str(samples), "table", "Endotoxin per sample and dilution"),
        Artefact(str(checks), "table", "Validity rules"),
        Artefact(str(report), "report", "Endotoxin run (curve, samples, checks)"),
    ]
    if run.curve is not None and np.isfinite(run.curve.slope):
        from cgtqc.assays.endotoxin.plots import plot_standard_curve

        stds = [e for e in layout.entries if e.role == "standard" and e.well in plate.values]
        png = plot_standard_curve(
            run,
            out / "endotoxin_standard_curve.png",
            std_doses=[float(e.dose) for e in stds],  # type: ignore[arg-type]
            std_reads=[plate.values[e.well] for e in stds],
        )
        arts.append(Artefact(str(png), "plot", "Log-log standard curve"))
    return arts


def run(inputs: dict[str, list[Path]], params: EndotoxinParams, out_dir: Path | None) -> EngineResult:
    """Endotoxin (EU/mL) per sample and dilution, every validity rule attached; artefacts into ``out_dir``."""
    if params.method == "gel_clot":
        results = _gel_clot(inputs, params)
        arts: list[Artefact] = []
        if out_dir is not None:
            rows = [[m.sample, m.value, m.loq, m.valid, m.note] for m, _, _ in results]
            table = _write_csv(
                out_dir / "endotoxin_gel_clot.csv", ["sample", "eu_per_ml", "loq", "valid", "note"], rows
            )
            arts.append(Artefact(str(table), "table", "Gel-clot endotoxin per table"))
        summary = {"method": "gel_clot", "results": {str(p): r.to_dict() for _, p, r in results}}
        return EngineResult(ENGINE.name, ENGINE.version, [m for m, _, _ in results], arts, summary)
    given = [f for f in GEL_FIELDS if getattr(params, f) is not None]
    if given:
        raise InputError(f"parameter {given[0]!r}: applies to method 'gel_clot' only")
    run_, files, extra, plate, layout = _plate_run(inputs, params)
    prov = Provenance(
        ENGINE.name, ENGINE.version, {**params.model_dump(), **extra}, [file_input(p) for p in files]
    )
    measurements = run_.to_measurements("endotoxin")
    for m in measurements:
        m.provenance = prov
    arts = _plate_artefacts(run_, plate, layout, out_dir) if out_dir is not None else []
    summary = {**run_.to_dict(), **extra}
    summary.pop("provenance", None)
    return EngineResult(ENGINE.name, ENGINE.version, measurements, arts, json.loads(to_json(summary)))


TRUTH_KEYS = ("eu_per_ml", "dilution", "spike_eu_per_ml", "readout", "fault", "cv", "sample")


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """A kinetic plate export and layout with known endotoxin, the way the demo writes them.

    Drawn from ``seed`` as the demo does: endotoxin of the undiluted product uniform in 0.05-0.6 EU/mL
    (the first draw of ``numpy.random.default_rng(seed)``), tested at 1:10 for aav and lv_vector and 1:5
    otherwise, spiked with 0.5 EU/mL, plate noise from ``seed``. ``truth`` keys understood: ``eu_per_ml``,
    ``dilution``, ``spike_eu_per_ml``, ``readout`` ('onset': chromogenic LAL, 'rate': rFC), ``fault``
    (None, 'r' or 'recovery': an invalid run), ``cv`` (replicate noise, default 0.03), ``sample`` (name,
    default 'LOT').
    """
    if cqa not in ENGINE.cqas:
        raise InputError(f"engine 'endotoxin' does not simulate CQA {cqa!r}")
    unknown = sorted(set(truth) - set(TRUTH_KEYS))
    if unknown:
        raise InputError(f"truth key(s) {', '.join(unknown)} not understood (keys: {', '.join(TRUTH_KEYS)})")
    rng = np.random.default_rng(seed)
    drawn = float(rng.uniform(0.05, 0.6))
    eu = float(truth.get("eu_per_ml", drawn))
    dilution = float(truth.get("dilution", 10.0 if product in ("aav", "lv_vector") else 5.0))
    spike = float(truth.get("spike_eu_per_ml", 0.5))
    readout = str(truth.get("readout", "onset"))
    sample = str(truth.get("sample", "LOT"))
    gen = endotoxin_run(
        out_dir,
        sample_eu_per_ml=eu,
        dilution=dilution,
        spike_eu_per_ml=spike,
        seed=seed,
        fault=truth.get("fault"),
        cv=float(truth.get("cv", 0.03)),
        name=f"{sample}_endotoxin",
        sample=sample,
        readout=readout,
    )
    return Simulated(
        cqas=("endotoxin",),
        inputs={"plate-export": [str(gen.export)], "plate-layout": [str(gen.layout)]},
        params={"method": "rfc" if readout == "rate" else "kinetic_chromogenic"},
        truth={**gen.truth, "sample": sample, "readout": readout, "fault": truth.get("fault")},
    )
