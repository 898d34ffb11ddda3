"""``run`` and ``simulate`` of the potency engine (see :mod:`cgtqc.assays.potency.spec`).

``run`` reads a plate-reader export and its layout (or a long dose-response table) with :mod:`cgtqc.io.plate`
and hands them to the existing engine functions: :func:`~cgtqc.assays.potency.engine.analyze_potency` for
relative potency and curve fits, :mod:`cgtqc.assays.potency.apps` for MSC suppression, CAR-T lysis, IDO
activity and the capsid ELISA. ``simulate`` writes the same files with :mod:`cgtqc.assays.potency.sim`,
drawing the truth in the demo lot's ranges.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.assays.potency.spec import ENGINE, PotencyParams
from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.io.plate import (
    DoseResponseData,
    PlateLayout,
    PlateRead,
    dose_response_from_plate,
    join_layout,
    read_dose_response,
    read_layout,
    read_plate,
)
from cgtqc.results import Measurement, Provenance, ValidityCheck, file_input, to_json

PLATE_APPLICATIONS = ("msc_suppression", "car_t_lysis", "ido_activity", "capsid_elisa")


# ---- reading ---------------------------------------------------------------------------------------------
def _plate(inputs: dict[str, list[Path]], params: PotencyParams) -> tuple[PlateRead, PlateLayout]:
    """The plate export and its layout (both needed by the plate applications)."""
    if "plate-export" not in inputs or "plate-layout" not in inputs:
        raise InputError(
            f"application {params.application!r} needs a plate export and its layout "
            "(inputs 'plate-export' and 'plate-layout'), or for relative_potency / curve_fit a long "
            "dose-response table (input 'dose-response-table')"
        )
    plate = read_plate(inputs["plate-export"][0], value_column=params.value_column)
    return plate, read_layout(inputs["plate-layout"][0], plate_format=plate.plate_format)


def _dose_response(inputs: dict[str, list[Path]], params: PotencyParams) -> DoseResponseData:
    """Dose-response points from a long table, or from a plate and its layout."""
    if "dose-response-table" in inputs:
        return read_dose_response(
            inputs["dose-response-table"][0],
            dose=params.dose_column,
            response=params.response_column,
            group=params.group_column,
        )
    return dose_response_from_plate(*_plate(inputs, params))


def _values(plate: PlateRead, layout: PlateLayout, role: str) -> list[tuple[Any, float]]:
    """(layout entry, read) of every well of ``role``; a censored well is an error here."""
    out = []
    for wv in join_layout(plate, layout, roles=(role,)):
        if wv.value is None:
            raise InputError("no reading (censored)", file=plate.path, place=f"well {wv.entry.well}")
        out.append((wv.entry, wv.value))
    if not out:
        raise InputError(f"layout has no {role!r} wells", file=layout.path)
    return out


def _sample_name(layout: PlateLayout, role: str = "sample") -> str | None:
    names = list(dict.fromkeys(e.sample for e in layout.by_role(role) if e.sample))
    return ", ".join(names) or None


# ---- artefacts -------------------------------------------------------------------------------------------
def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _json(path: Path, obj: Any) -> Path:
    path.write_text(to_json(obj) + "\n", encoding="utf-8")
    return path


def _analysis_artefacts(analysis: Any, data: DoseResponseData, out: Path) -> list[Artefact]:
    from cgtqc.assays.potency.plots import plot_analysis

    rows = []
    for name, cf in analysis.curves.items():
        p = cf.parameters
        ed = cf.ed50
        rows.append(
            [name, cf.model, cf.n, cf.converged]
            + [p[k].estimate if k in p else "" for k in ("b", "c", "d", "e", "g")]
            + ([ed.dose, ed.se, ed.ci_low, ed.ci_high] if ed else ["", "", "", ""])
            + [cf.r_squared if cf.converged else ""]
        )
    arts = [
        Artefact(
            str(
                _csv(
                    out / "potency_curves.csv",
                    [
                        "sample",
                        "model",
                        "n",
                        "converged",
                        "b",
                        "c",
                        "d",
                        "e",
                        "g",
                        "ed50",
                        "ed50_se",
                        "ed50_ci_low",
                        "ed50_ci_high",
                        "r_squared",
                    ],
                    rows,
                )
            ),
            "table",
            "Fitted curves and ED50 (95% CI)",
        )
    ]
    if analysis.relative_potencies:
        rp_rows = [
            [
                r.test,
                r.reference,
                r.estimate,
                r.ci_low,
                r.ci_high,
                r.method,
                r.similarity.similar,
                r.similarity.verdict,
            ]
            for r in analysis.relative_potencies
        ]
        arts.append(
            Artefact(
                str(
                    _csv(
                        out / "relative_potency.csv",
                        [
                            "test",
                            "reference",
                            "relative_potency",
                            "ci_low",
                            "ci_high",
                            "interval",
                            "similar",
                            "similarity",
                        ],
                        rp_rows,
                    )
                ),
                "table",
                "Relative potency and similarity",
            )
        )
    arts.append(
        Artefact(
            str(
                _csv(
                    out / "potency_checks.csv",
                    ["rule", "passed", "detail"],
                    [[c.name, c.passed, c.detail] for c in analysis.checks],
                )
            ),
            "table",
            "System-suitability checks",
        )
    )
    arts.append(
        Artefact(
            str(plot_analysis(analysis, data, out / "potency_curves.png")),
            "plot",
            "Dose-response curves with 95% bands",
        )
    )
    arts.append(
        Artefact(str(_json(out / "potency_analysis.json", analysis)), "report", "Full analysis (JSON)")
    )
    return arts


# ---- run -------------------------------------------------------------------------------------------------
def run(inputs: dict[str, list[Path]], params: PotencyParams, out_dir: Path | None) -> EngineResult:
    """Potency CQAs from a plate export + layout (or a dose-response table), per ``params.application``."""
    files = [
        p for kind in ("plate-export", "plate-layout", "dose-response-table") for p in inputs.get(kind, [])
    ]
    if not files:
        raise InputError("engine 'potency' needs a plate export and layout, or a dose-response table")
    if params.application in PLATE_APPLICATIONS and "dose-response-table" in inputs:
        raise InputError(
            f"application {params.application!r} reads a plate export and layout, not a table",
            file=inputs["dose-response-table"][0],
        )
    prov = Provenance(
        ENGINE.name, ENGINE.version, params.model_dump(mode="json"), [file_input(p) for p in files]
    )
    handler = {
        "relative_potency": _relative_potency,
        "curve_fit": _relative_potency,
        "msc_suppression": _ratio,
        "car_t_lysis": _ratio,
        "ido_activity": _ido,
        "capsid_elisa": _elisa,
    }[params.application]
    measurements, artefacts, summary = handler(inputs, params, prov, out_dir)
    summary = {"application": params.application, **summary}
    return EngineResult(ENGINE.name, ENGINE.version, measurements, artefacts, summary)


Outcome = tuple[list[Measurement], list[Artefact], dict[str, Any]]


def _relative_potency(
    inputs: dict[str, list[Path]], params: PotencyParams, prov: Provenance, out: Path | None
) -> Outcome:
    from cgtqc.assays.potency.engine import SuitabilityCriteria, analyze_potency
    from cgtqc.assays.potency.similarity import SimilarityMargins

    data = _dose_response(inputs, params)
    with_reference = params.application == "relative_potency"
    analysis = analyze_potency(
        data,
        model=params.model,
        reference=params.reference if with_reference else None,
        margins=SimilarityMargins(
            slope_ratio=tuple(params.slope_ratio_margin),
            asymptote_fraction=params.asymptote_margin,
            level=params.similarity_level,
        ),
        criteria=SuitabilityCriteria(
            min_r_squared=params.min_r_squared,
            min_asymptote_ratio=params.min_asymptote_ratio,
            max_replicate_cv_pct=params.max_replicate_cv_pct,
            rp_range=tuple(params.rp_range),
        ),
        zero_dose=params.zero_dose,
        level=params.level,
        weight_power=params.weight_power,
    )
    measurements = []
    if with_reference:
        tests = [rp.test for rp in analysis.relative_potencies]
        if params.test is not None:
            if params.test not in tests:
                raise InputError(
                    f"no test sample {params.test!r} (samples: {', '.join(analysis.curves)})",
                    file=data.paths[0],
                )
            tests = [params.test]
        if not tests:
            raise InputError(f"no test sample besides the reference {params.reference!r}", file=data.paths[0])
        for t in tests:
            m = analysis.to_measurement(params.cqa, t)
            m.provenance = prov
            measurements.append(m)
    artefacts = _analysis_artefacts(analysis, data, out) if out is not None else []
    summary = {k: v for k, v in analysis.to_dict().items() if k != "provenance"}
    return measurements, artefacts, summary


def _ratio(
    inputs: dict[str, list[Path]], params: PotencyParams, prov: Provenance, out: Path | None
) -> Outcome:
    from cgtqc.assays.potency.apps import proliferation_inhibition, specific_lysis

    plate, layout = _plate(inputs, params)
    if params.application == "msc_suppression":
        res = proliferation_inhibition(plate, layout, max_cv_pct=params.max_replicate_cv_pct)
        cqa, ratio = "msc_immunosuppression", params.msc_ratio
    else:
        res = specific_lysis(plate, layout, max_cv_pct=params.max_replicate_cv_pct)
        cqa, ratio = "cytotoxicity", params.et_ratio
    try:
        m = res.to_measurement(cqa, ratio, _sample_name(layout))
    except InputError as exc:
        raise InputError(exc.message, file=layout.path) from None
    m.provenance = prov
    artefacts = []
    if out is not None:
        rows = [[r, v, res.cv_by_ratio[r]] for r, v in res.by_ratio.items()]
        artefacts = [
            Artefact(
                str(_csv(out / f"{cqa}_by_ratio.csv", ["ratio", "percent", "cv_pct"], rows)),
                "table",
                f"{res.quantity} per ratio",
            ),
            Artefact(str(_json(out / f"{cqa}.json", res)), "report", f"{res.quantity} (JSON)"),
        ]
    summary = {k: v for k, v in res.to_dict().items() if k != "provenance"}
    return [m], artefacts, summary


def _ido(inputs: dict[str, list[Path]], params: PotencyParams, prov: Provenance, out: Path | None) -> Outcome:
    from cgtqc.assays.potency.apps import ido_activity

    plate, layout = _plate(inputs, params)
    std = _values(plate, layout, "standard")
    for e, _ in std:
        if e.dose is None:
            raise InputError(
                "standard well needs its kynurenine (Dose, uM)", file=layout.path, place=f"well {e.well}"
            )
    res = ido_activity(
        [e.dose for e, _ in std],
        [v for _, v in std],
        [v for _, v in _values(plate, layout, "sample")],
        [v for _, v in _values(plate, layout, "reference")],
        min_r_squared=params.ido_min_r_squared,
    )
    m = Measurement(
        "ido_activity",
        res.percent_of_reference,
        "%",
        prov,
        list(res.checks),
        sample=_sample_name(layout),
        note=f"kynurenine {res.test_kynurenine_um:.4g} uM vs reference {res.reference_kynurenine_um:.4g} uM",
    )
    artefacts = (
        [Artefact(str(_json(out / "ido_activity.json", res)), "report", "IDO activity (JSON)")] if out else []
    )
    return [m], artefacts, res.to_dict()


def _elisa(
    inputs: dict[str, list[Path]], params: PotencyParams, prov: Provenance, out: Path | None
) -> Outcome:
    from cgtqc.assays.potency.apps import elisa_titer

    plate, layout = _plate(inputs, params)
    standard = dose_response_from_plate(plate, layout, roles=("standard",))
    by_dilution: dict[float, list[float]] = {}
    for e, v in _values(plate, layout, "sample"):
        by_dilution.setdefault(e.dilution, []).append(v)
    dils = sorted(by_dilution)  # replicate wells at one dilution are averaged before interpolation
    res = elisa_titer(
        standard, dils, [float(np.mean(by_dilution[d])) for d in dils], max_cv_pct=params.max_replicate_cv_pct
    )
    checks = list(res.checks)
    if res.value is None:
        checks.append(ValidityCheck("titer_reportable", False, "no dilution inside the standard range"))
    m = Measurement(
        "capsid_titer",
        res.value,
        "cp/mL",
        prov,
        checks,
        sample=_sample_name(layout),
        note="capsid ELISA, mean of the dilutions inside the 4PL standard range",
    )
    artefacts = []
    if out is not None:
        from cgtqc.assays.potency.plots import plot_curves

        rows = [[d, float(np.mean(by_dilution[d])), res.per_dilution[d]] for d in dils]
        artefacts = [
            Artefact(
                str(
                    _csv(out / "capsid_elisa_dilutions.csv", ["dilution", "mean_response", "cp_per_ml"], rows)
                ),
                "table",
                "Back-calculated titer per dilution",
            ),
            Artefact(str(_json(out / "capsid_elisa.json", res)), "report", "Capsid ELISA (JSON)"),
        ]
        if res.standard.converged:
            plot = plot_curves(
                {standard.groups[0]: res.standard},
                standard,
                out / "capsid_elisa_standard.png",
                title="capsid ELISA standard curve",
                xlabel="capsids/mL",
                ylabel="OD",
            )
            artefacts.append(Artefact(str(plot), "plot", "ELISA 4PL standard curve"))
    return [m], artefacts, res.to_dict()


# ---- simulate --------------------------------------------------------------------------------------------
def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """Plate export + layout for ``cqa`` with known truth, written by :mod:`cgtqc.assays.potency.sim`.

    Drawn from ``seed`` as the demo does when not given. Understood ``truth`` keys: ``sample`` (lot name,
    default LOT) and, per CQA, ``relative_potency`` (ratio, 0.85-1.15) and ``cv`` (0.035) for potency_ifng /
    potency_expression; ``msc_immunosuppression`` (% at MSC:PBMC 0.1, 45-70) for MSC; ``cytotoxicity`` (%
    lysis at E:T 10, 40-70); ``ido_activity`` (% of reference, 70-130); ``capsid_titer`` (cp/mL,
    10^12.5-10^13.5). ``product`` does not change the files (the CQA names the assay).
    """
    from cgtqc.assays.potency.sim import elisa_plate, ido_plate, potency_plate, ratio_plate

    rng = np.random.default_rng(seed)
    lot = str(truth.get("sample", "LOT"))
    out = Path(out_dir)
    if cqa in ("potency_ifng", "potency_expression"):
        rp = (
            float(truth["relative_potency"])
            if "relative_potency" in truth
            else float(rng.uniform(0.85, 1.15))
        )
        cv = float(truth.get("cv", 0.035))
        run_ = potency_plate(out, relative_potency=rp, seed=seed, name=f"{lot}_{cqa}", test=lot, cv=cv)
        params: dict[str, Any] = {"application": "relative_potency", "cqa": cqa, "reference": "Reference"}
        known: dict[str, Any] = {cqa: 100.0 * rp, "relative_potency": rp, "cv": cv}
    elif cqa == "msc_immunosuppression":
        at_10 = float(truth.get("msc_immunosuppression", rng.uniform(45.0, 70.0)))
        pct = {0.5: min(at_10 * 1.4, 95.0), 0.1: at_10, 0.02: at_10 * 0.45}
        run_ = ratio_plate(
            out,
            percent_by_ratio=pct,
            low=300.0,
            high=9000.0,
            inhibition=True,
            roles=("unstimulated", "stimulated"),
            seed=seed,
            name=f"{lot}_msc_suppression",
        )
        params = {"application": "msc_suppression", "msc_ratio": 0.1}
        known = {cqa: at_10, "percent_by_ratio": pct}
    elif cqa == "cytotoxicity":
        at_10 = float(truth.get("cytotoxicity", rng.uniform(40.0, 70.0)))
        pct = {20.0: min(at_10 * 1.3, 95.0), 10.0: at_10, 5.0: at_10 * 0.6, 2.5: at_10 * 0.3}
        run_ = ratio_plate(
            out,
            percent_by_ratio=pct,
            low=200.0,
            high=5000.0,
            inhibition=False,
            roles=("spontaneous", "maximum"),
            seed=seed,
            name=f"{lot}_cytotoxicity",
        )
        params = {"application": "car_t_lysis", "et_ratio": 10.0}
        known = {cqa: at_10, "percent_by_ratio": pct}
    elif cqa == "ido_activity":
        pct_ref = float(truth.get("ido_activity", rng.uniform(70.0, 130.0)))
        run_ = ido_plate(out, percent_of_reference=pct_ref, seed=seed, name=f"{lot}_ido", test=lot)
        params = {"application": "ido_activity"}
        known = {cqa: pct_ref}
    elif cqa == "capsid_titer":
        titer = float(truth.get("capsid_titer", 10 ** rng.uniform(12.5, 13.5)))
        run_ = elisa_plate(out, titer_cp_per_ml=titer, seed=seed, name=f"{lot}_capsid_elisa", sample=lot)
        params = {"application": "capsid_elisa"}
        known = {cqa: titer}
    else:
        raise InputError(f"engine 'potency' cannot simulate CQA {cqa!r}")
    return Simulated(
        cqas=(cqa,),
        inputs={"plate-export": [str(run_.export)], "plate-layout": [str(run_.layout)]},
        params=params,
        truth={**known, "sample": lot},
    )
