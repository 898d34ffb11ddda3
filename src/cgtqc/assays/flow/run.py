"""``run`` and ``simulate`` of the flow engine (declared in ``spec.py``), on the existing panels and sim.

``run`` gates each FCS file with the panel's shipped GatingML template (or the lab's GatingML file or FlowJo
workspace given as input) through ``panels.run_panel`` and returns the panel's CQA measurements; the
``gates`` panel only gates a supplied strategy and reports the counts. ``simulate`` writes one FCS 3.1 file
with the panel simulator of ``sim.py``, drawing the truth exactly as the demo lots do.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.assays.flow import sim as flow_sim
from cgtqc.assays.flow.engine import GatingReport, gate_file
from cgtqc.assays.flow.panels import PanelResult, run_panel, template_path
from cgtqc.assays.flow.spec import ENGINE, FlowParams
from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import Measurement, Provenance, file_input, to_json

#: parameters each panel reads: model field -> keyword of the panel function
PANEL_FIELDS: dict[str, dict[str, str]] = {
    "cd34": {
        "beads_per_test": "beads_per_test",
        "volume_ul": "volume_ul",
        "dilution": "dilution",
        "product_volume_ml": "product_volume_ml",
        "weight_kg": "weight_kg",
        "min_cd45_events": "min_cd45_events",
        "min_cd34_events": "min_cd34_events",
        "min_bead_events": "min_bead_events",
    },
    "cart": {
        "total_viable_cells": "total_viable_cells",
        "min_cd45_events": "min_cd45_events",
        "min_cd3_events": "min_cd3_events",
        "min_subset_events": "min_subset_events",
    },
    "msc": {
        "positive_markers": "positive",
        "negative_markers": "negative",
        "positive_min_pct": "positive_min_pct",
        "negative_max_pct": "negative_max_pct",
        "limit_decimals": "limit_decimals",
        "min_viable_events": "min_viable_events",
    },
    "transduction": {
        "cells_at_transduction": "cells_at_transduction",
        "vector_volume_ml": "vector_volume_ml",
        "dilution": "dilution",
        "linear_range_pct": "linear_range_pct",
        "min_viable_events": "min_viable_events",
    },
    "gates": {},
}
COMMON_FIELDS = ("panel", "sample_id")


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


def panel_kwargs(params: FlowParams) -> dict[str, Any]:
    """The selected panel's keyword arguments; refuses a set-up figure of another panel or a missing one."""
    panel = params.panel
    fields = PANEL_FIELDS[panel]
    for name, info in FlowParams.model_fields.items():
        if name in COMMON_FIELDS or name in fields:
            continue
        if getattr(params, name) != info.get_default():
            users = [p for p, f in PANEL_FIELDS.items() if name in f]
            raise InputError(
                f"parameter {name!r} does not apply to panel {panel!r} (it is a parameter of "
                f"{', '.join(users)}; {panel} reads: {', '.join(fields) or 'none'})"
            )
    if panel == "cd34":
        for name in ("beads_per_test", "volume_ul"):
            if getattr(params, name) is None:
                raise InputError(f"parameter {name!r}: the cd34 panel needs it (ISHAGE single platform)")
        if params.weight_kg is not None and params.product_volume_ml is None:
            raise InputError("parameter 'weight_kg': the dose per kg also needs 'product_volume_ml'")
    if panel == "transduction":
        if (params.cells_at_transduction is None) != (params.vector_volume_ml is None):
            raise InputError(
                "parameters 'cells_at_transduction' and 'vector_volume_ml': the titer needs both (or neither)"
            )
        lo, hi = params.linear_range_pct
        if not 0 <= lo < hi <= 100:
            raise InputError(f"parameter 'linear_range_pct': need 0 <= low < high <= 100, got {lo:g}, {hi:g}")
    kwargs: dict[str, Any] = {}
    for name, keyword in fields.items():
        value = getattr(params, name)
        if value is None and name.startswith("min_"):
            continue  # the panel's own minimum
        kwargs[keyword] = tuple(value) if isinstance(value, list) else value
    return kwargs


def _single(inputs: dict[str, list[Path]], kind: str) -> Path | None:
    paths = inputs.get(kind) or []
    return Path(paths[0]) if paths else None


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["empty"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _value_rows(result: PanelResult) -> list[dict[str, Any]]:
    rows = []
    for v in result.values:
        d = v.to_dict()
        d["checks"] = "; ".join(f"{c.name} {'pass' if c.passed else 'FAIL'}" for c in v.checks)
        rows.append(d)
    return rows


def _artefacts(
    out_dir: Path, stem: str, report: GatingReport, result: PanelResult | None, summary: dict[str, Any]
) -> list[Artefact]:
    """Gate table, panel values table, the full result as JSON, and the gating dot plots."""
    from cgtqc.assays.flow.plots import plot_gating

    out = [
        Artefact(
            str(_write_csv(out_dir / f"{stem}_gates.csv", [g.to_dict() for g in report.gates])),
            "table",
            f"{report.sample_id}: events per gate",
        )
    ]
    if result is not None:
        out.append(
            Artefact(
                str(_write_csv(out_dir / f"{stem}_values.csv", _value_rows(result))),
                "table",
                f"{report.sample_id}: {result.panel} panel values with denominators and checks",
            )
        )
    doc = out_dir / f"{stem}_result.json"
    doc.write_text(to_json(result if result is not None else report) + "\n", encoding="utf-8")
    out.append(Artefact(str(doc), "report", f"{report.sample_id}: gating and panel result (JSON)"))
    png = out_dir / f"{stem}_gating.png"
    try:
        plot_gating(report, png)
        out.append(Artefact(str(png), "plot", f"{report.sample_id}: gates on their dot plots"))
    except InputError as exc:  # e.g. ratio dimensions or only Boolean gates: nothing to draw
        summary.setdefault("plots_skipped", []).append(f"{stem}: {exc.message}")
    return out


def run(inputs: dict[str, list[Path]], params: FlowParams, out_dir: Path | None) -> EngineResult:
    """Gate every FCS file with the panel's template (or the supplied GatingML/FlowJo file, compensated with
    the supplied matrix or the file's $SPILLOVER) and return the panel's CQAs, one set per file."""
    fcs_files = [Path(p) for p in inputs["fcs"]]
    gml, wsp = _single(inputs, "gating-ml"), _single(inputs, "flowjo-workspace")
    compensation = _single(inputs, "compensation-matrix")
    if gml is not None and wsp is not None:
        raise InputError("give a GatingML file or a FlowJo workspace, not both", file=wsp)
    gating = gml or wsp
    if params.panel == "gates" and gating is None:
        raise InputError(
            "panel 'gates' gates a supplied strategy: give a GatingML (.xml) or FlowJo (.wsp) file"
        )
    if params.sample_id is not None and len(fcs_files) > 1:
        raise InputError(f"parameter 'sample_id' names one sample, but {len(fcs_files)} FCS files were given")
    kwargs = panel_kwargs(params)
    extra_inputs = [file_input(compensation)] if compensation is not None else []
    gating_name = (
        gating.name
        if gating is not None
        else (template_path(params.panel).name if params.panel != "gates" else None)
    )
    summary: dict[str, Any] = {
        "panel": params.panel,
        "gating": gating_name,
        "compensation": compensation.name if compensation is not None else "$SPILLOVER",
        "samples": [],
    }
    measurements: list[Measurement] = []
    artefacts: list[Artefact] = []
    stems: set[str] = set()
    for fcs in fcs_files:
        if params.panel == "gates":
            report = gate_file(
                fcs, gating, sample_id=params.sample_id, compensation=compensation, engine="flow"
            )
            result = None
        else:
            result = run_panel(
                params.panel,
                fcs,
                gating=gating,
                compensation=compensation,
                sample_id=params.sample_id,
                **kwargs,
            )
            report = result.gating
            prov = Provenance(
                ENGINE.name,
                ENGINE.version,
                {**params.model_dump(), **result.provenance.parameters},
                [*result.provenance.inputs, *extra_inputs],
            )
            for m in result.measurements():
                m.provenance = prov
                measurements.append(m)
        summary["samples"].append(
            {
                "fcs": str(fcs),
                "sample": report.sample_id,
                "total_events": report.total_events,
                "valid": result.valid if result is not None else None,
                "values": {v.name: v.value for v in result.values} if result is not None else {},
                "gates": {g.full_path: g.count for g in report.gates},
            }
        )
        if out_dir is not None:
            stem = f"{fcs.stem}_{params.panel}"
            if stem in stems:
                stem = f"{stem}_{len(stems) + 1}"
            stems.add(stem)
            artefacts += _artefacts(out_dir, stem, report, result, summary)
    return EngineResult(ENGINE.name, ENGINE.version, measurements, artefacts, summary)


# --------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------

#: ISHAGE tube and HSC product of the demo lots: beads per tube, sample volume (uL), dilution, product
#: volume (mL) and patient weight (kg)
HSC_BEADS_PER_TEST, HSC_TUBE_VOLUME_UL, HSC_DILUTION = 50_000, 100.0, 10.0
HSC_PRODUCT_VOLUME_ML, HSC_PATIENT_WEIGHT_KG = 20.0, 40.0
#: LV titration well: cells at transduction, vector volume (mL) and vector dilution
TITER_CELLS, TITER_VECTOR_VOLUME_ML, TITER_DILUTION = 1.0e5, 0.01, 100.0
PRODUCTS = ("car_t", "lv_hsc", "crispr_hsc", "aav", "lv_vector", "msc")

CART_CQAS = ("viability", "cd3_pct", "car_positive_pct", "cd4_cd8_ratio", "car_t_dose")
CD34_CQAS = ("cd34_viable_per_ul", "cd34_viability", "cd34_purity_pct", "cd34_dose_per_kg")
MSC_CQAS = ("msc_identity", "viability")


def _panel_for(cqa: str, product: str | None) -> str:
    if cqa == "viability":
        return "msc" if product == "msc" else "cart"
    if cqa in CART_CQAS:
        return "cart"
    if cqa in CD34_CQAS:
        return "cd34"
    if cqa in ("transduced_cells_pct", "functional_titer"):
        return "transduction"
    if cqa == "msc_identity":
        return "msc"
    raise InputError(f"engine 'flow' does not compute CQA {cqa!r}")


def _take(drawn: dict[str, Any], truth: dict[str, Any], understood: tuple[str, ...]) -> dict[str, Any]:
    """Drawn values with the given truth keys laid over them; an unknown key is refused by name."""
    unknown = sorted(set(truth) - set(understood))
    if unknown:
        raise InputError(
            f"flow simulator: truth key(s) {unknown} not understood (keys: {', '.join(understood)})"
        )
    return {**drawn, **truth}


def _fcs_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def _sim_cart(out_dir: Path, seed: int, truth: dict[str, Any]) -> tuple[Path, dict, dict]:
    rng = np.random.default_rng(seed)
    cd4 = float(rng.uniform(40, 65))  # the demo's order of draws
    drawn: dict[str, Any] = {"cd4_pct": cd4, "fcs_seed": _fcs_seed(rng)}
    drawn["viability"] = float(rng.uniform(82, 93))
    drawn["cd3_pct"] = float(rng.uniform(90, 98))
    drawn["car_positive_pct"] = float(rng.uniform(25, 45))
    drawn["cd8_pct"] = float(rng.uniform(25, 95 - cd4))
    drawn["total_viable_cells"] = float(rng.uniform(0.6e9, 1.2e9))
    drawn["n_cells"] = 120_000
    t = _take(drawn, truth, tuple(drawn))
    if t["cd4_pct"] + t["cd8_pct"] > 100:
        raise InputError("flow simulator: truth cd4_pct + cd8_pct must not exceed 100 (% of viable CD3+)")
    s = flow_sim.simulate_cart(
        out_dir / f"flow_cart_{seed}.fcs",
        seed=t["fcs_seed"],
        n_cells=int(t["n_cells"]),
        viability=t["viability"],
        cd3_pct=t["cd3_pct"],
        car_pct=t["car_positive_pct"],
        cd4_pct=t["cd4_pct"],
        cd8_pct=t["cd8_pct"],
    )
    dose = t["total_viable_cells"] * t["cd3_pct"] / 100 * t["car_positive_pct"] / 100 / 1e8
    truth_out = {**t, **s.truth, "car_t_dose": dose}
    return s.path, {"panel": "cart", "total_viable_cells": t["total_viable_cells"]}, truth_out


def _sim_cd34(out_dir: Path, seed: int, truth: dict[str, Any]) -> tuple[Path, dict, dict]:
    rng = np.random.default_rng(seed)
    drawn: dict[str, Any] = {"fcs_seed": _fcs_seed(rng)}
    drawn["wbc_per_ul"] = float(rng.uniform(15_000, 25_000))
    drawn["cd34_pct"] = float(rng.uniform(85, 96))
    drawn["cd34_viability"] = float(rng.uniform(88, 97))
    drawn["other_viability"] = float(rng.uniform(80, 92))
    drawn |= {
        "beads_per_test": HSC_BEADS_PER_TEST,
        "volume_ul": HSC_TUBE_VOLUME_UL,
        "dilution": HSC_DILUTION,
        "product_volume_ml": HSC_PRODUCT_VOLUME_ML,
        "weight_kg": HSC_PATIENT_WEIGHT_KG,
    }
    t = _take(drawn, truth, tuple(drawn))
    s = flow_sim.simulate_cd34(
        out_dir / f"flow_cd34_{seed}.fcs",
        seed=t["fcs_seed"],
        wbc_per_ul=t["wbc_per_ul"],
        cd34_pct=t["cd34_pct"],
        cd34_viability=t["cd34_viability"],
        other_viability=t["other_viability"],
        beads_per_test=t["beads_per_test"],
        volume_ul=t["volume_ul"],
        dilution=t["dilution"],
    )
    setup = {k: t[k] for k in ("beads_per_test", "volume_ul", "dilution", "product_volume_ml", "weight_kg")}
    dose = s.truth["cd34_viable_per_ul"] * t["product_volume_ml"] * 1000.0 / t["weight_kg"] / 1e6
    return s.path, {"panel": "cd34", **setup}, {**t, **s.truth, "cd34_dose_per_kg": dose}


def _sim_transduction(
    out_dir: Path, seed: int, truth: dict[str, Any], titer: bool
) -> tuple[Path, dict, dict]:
    rng = np.random.default_rng(seed)
    drawn: dict[str, Any] = {"fcs_seed": _fcs_seed(rng)}
    drawn["viability"] = float(rng.uniform(85, 95))
    drawn["transduced_cells_pct"] = float(rng.uniform(45, 75))
    drawn["n_cells"] = 100_000
    if titer:  # a titration well inside the linear range of % transduced
        drawn["transduced_cells_pct"] = float(rng.uniform(5, 18))
        drawn |= {
            "cells_at_transduction": TITER_CELLS,
            "vector_volume_ml": TITER_VECTOR_VOLUME_ML,
            "dilution": TITER_DILUTION,
        }
    t = _take(drawn, truth, tuple(drawn))
    s = flow_sim.simulate_transduction(
        out_dir / f"flow_transduction_{seed}.fcs",
        seed=t["fcs_seed"],
        n_cells=int(t["n_cells"]),
        viability=t["viability"],
        transduced_pct=t["transduced_cells_pct"],
    )
    params: dict[str, Any] = {"panel": "transduction"}
    truth_out = {**t, **s.truth}
    if titer:
        params |= {k: t[k] for k in ("cells_at_transduction", "vector_volume_ml", "dilution")}
        truth_out["functional_titer"] = (
            t["transduced_cells_pct"]
            / 100
            * t["cells_at_transduction"]
            * t["dilution"]
            / t["vector_volume_ml"]
        )
    return s.path, params, truth_out


def _sim_msc(out_dir: Path, seed: int, truth: dict[str, Any]) -> tuple[Path, dict, dict]:
    rng = np.random.default_rng(seed)
    positive, negative = ("CD105", "CD73", "CD90"), ("CD45", "CD34", "CD14", "CD19", "HLA-DR")
    drawn: dict[str, Any] = {m: float(rng.uniform(96.5, 99.6)) for m in positive}
    drawn |= {m: float(rng.uniform(0.1, 1.4)) for m in negative}
    drawn["fcs_seed"] = _fcs_seed(rng)
    drawn["viability"] = float(rng.uniform(88, 97))
    drawn["n_cells"] = 100_000
    t = _take(drawn, truth, tuple(drawn))
    pct = {m: t[m] for m in (*positive, *negative)}
    s = flow_sim.simulate_msc(
        out_dir / f"flow_msc_{seed}.fcs",
        seed=t["fcs_seed"],
        n_cells=int(t["n_cells"]),
        viability=t["viability"],
        marker_pct=pct,
    )
    conforms = all(pct[m] >= 95.0 for m in positive) and all(pct[m] <= 2.0 for m in negative)
    truth_out = {**t, "marker_pct": pct, "msc_identity": "Conforms" if conforms else "Does not conform"}
    return s.path, {"panel": "msc"}, truth_out


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict[str, Any]) -> Simulated:
    """One FCS 3.1 file (with $SPILLOVER) of the panel that measures ``cqa``, truth drawn from ``seed``.

    The draws follow the demo lots exactly: ``numpy.random.default_rng(seed)`` here gives the same file
    events as the demo's generator for that seed. ``product`` picks the panel for ``viability`` (msc: the
    ISCT panel, else the CAR-T panel); CD34 uses the demo HSC set-up for every product. Truth keys
    understood (each overrides the drawn value; any other key is refused):

    - cart: ``viability``, ``cd3_pct`` (% of viable CD45+), ``car_positive_pct``, ``cd4_pct``, ``cd8_pct``
      (% of viable CD3+), ``total_viable_cells`` (cells), ``n_cells``, ``fcs_seed``;
    - cd34: ``wbc_per_ul``, ``cd34_pct`` (% of CD45+), ``cd34_viability``, ``other_viability``,
      ``beads_per_test``, ``volume_ul``, ``dilution``, ``product_volume_ml``, ``weight_kg``, ``fcs_seed``;
    - transduction: ``viability``, ``transduced_cells_pct``, ``n_cells``, ``fcs_seed``; for
      ``functional_titer`` also ``cells_at_transduction``, ``vector_volume_ml``, ``dilution``;
    - msc: each marker (``CD105``, ``CD73``, ``CD90``, ``CD45``, ``CD34``, ``CD14``, ``CD19``, ``HLA-DR``,
      % of viable), ``viability``, ``n_cells``, ``fcs_seed``.
    """
    if product is not None and product not in PRODUCTS:
        raise InputError(f"unknown product {product!r} (products: {', '.join(PRODUCTS)})")
    panel = _panel_for(cqa, product)
    out_dir = Path(out_dir)
    if panel == "cart":
        path, params, t = _sim_cart(out_dir, seed, truth)
        cqas = CART_CQAS
    elif panel == "cd34":
        path, params, t = _sim_cd34(out_dir, seed, truth)
        cqas = CD34_CQAS
    elif panel == "transduction":
        titer = cqa == "functional_titer"
        path, params, t = _sim_transduction(out_dir, seed, truth, titer)
        cqas = ("transduced_cells_pct", "functional_titer") if titer else ("transduced_cells_pct",)
    else:
        path, params, t = _sim_msc(out_dir, seed, truth)
        cqas = MSC_CQAS
    return Simulated(cqas=cqas, inputs={"fcs": [str(path)]}, params=params, truth=t)
