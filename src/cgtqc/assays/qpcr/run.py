"""``run`` and ``simulate`` of the qPCR engine (declared in :mod:`cgtqc.assays.qpcr.spec`).

``run`` reads each plate (a Cq table or an RDML file; one plate per file, since every plate carries its
own controls), takes its Cq values from the file or from a LinRegPCR re-analysis of the RDML amplification
curves, and applies the release test chosen by ``application`` with the rules of :mod:`.nat`: one
Measurement per file. ``simulate`` writes the plates the demo lots use (:mod:`.sim` layouts and writers).
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

from cgtqc.assays.qpcr import nat as qpcr_nat
from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.cq_tables import CqRecord, read_cq_table, records_from_rdml
from cgtqc.assays.qpcr.engine import QpcrAnalysis, analyze_rdml
from cgtqc.assays.qpcr.quant import curve_from_records, quantify_samples
from cgtqc.assays.qpcr.rdml import read_rdml
from cgtqc.assays.qpcr.spec import ENGINE, QpcrParams
from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Measurement, Provenance, file_input, to_json

CQA_OF = {
    "mycoplasma_nat": "mycoplasma",
    "tert_mrna": "tert_mrna",
    "adventitious_virus": "adventitious_virus",
    "residual_host_dna": "residual_host_dna",
}
APPLICATION_OF = {cqa: app for app, cqa in CQA_OF.items()}


# ---------------------------------------------------------------------------------------------- run
def run(inputs: dict[str, list[Path]], params: QpcrParams, out_dir: Path | None) -> EngineResult:
    """One Measurement of ``params.application``'s CQA per plate file, with tables when ``out_dir``."""
    files = [("cq-table", Path(p)) for p in inputs.get("cq-table", [])]
    files += [("rdml", Path(p)) for p in inputs.get("rdml", [])]
    if not files:
        raise InputError("engine 'qpcr' needs a Cq table (CSV/TSV/XLSX) or an RDML file")
    if params.application == "residual_host_dna" and params.dose_volume_ml is None:
        raise InputError("parameter 'dose_volume_ml': required for application residual_host_dna (mL)")
    measurements: list[Measurement] = []
    artefacts: list[Artefact] = []
    per_file: list[dict[str, Any]] = []
    stems: set[str] = set()
    for kind, path in files:
        source = file_input(path)
        records, analysis = _plate_records(kind, path, params)
        try:
            m, extra = _apply(records, params, source)
        except InputError as exc:
            if exc.file is None:  # the NAT rules name no file: this plate is the one
                raise InputError(exc.message, file=path, place=exc.place) from None
            raise
        targets = _targets(params)
        if analysis is not None:  # LinRegPCR: mean efficiency of every target used, negative controls of
            # the detected targets (an internal control or reference gene amplifies in NTCs on purpose)
            names = {f"mean_efficiency_{t}" for t in targets}
            names |= {f"negative_controls_{t}" for t in targets if t not in _control_targets(params)}
            m.checks += [c for c in analysis.checks if c.name in names]
            extra["target_efficiency"] = {
                t: {"mean": e, "sd": s} for t, (e, s) in analysis.target_efficiency.items() if t in targets
            }
        m.provenance = Provenance(
            ENGINE.name,
            ENGINE.version,
            {
                **params.model_dump(),
                "analysis": {"engine": m.provenance.engine, **m.provenance.parameters},
            },
            [source],
        )
        measurements.append(m)
        per_file.append(
            {
                "file": str(path),
                "sample": m.sample,
                "cqa": m.cqa,
                "value": m.value,
                "unit": m.unit,
                "valid": m.valid,
                "failed_checks": [c.name for c in m.failed_checks],
                "note": m.note,
                "cq_source": params.cq_source,
                **extra,
            }
        )
        if out_dir is not None:
            stem = _unique(path.stem, stems)
            artefacts += _write_tables(out_dir, stem, records, m, analysis, params)
    summary = {"application": params.application, "plates": per_file}
    if out_dir is not None:
        report = out_dir / "qpcr_report.json"
        doc = {"measurements": [m.to_dict() for m in measurements], "summary": summary}
        report.write_text(to_json(doc) + "\n", encoding="utf-8")
        artefacts.append(Artefact(str(report), "report", "qPCR measurements and summary (JSON)"))
    return EngineResult(ENGINE.name, ENGINE.version, measurements, artefacts, summary)


def _plate_records(kind: str, path: Path, params: QpcrParams) -> tuple[list[CqRecord], QpcrAnalysis | None]:
    """Cq records of one plate: from the file, or with LinRegPCR Cq from the RDML curves."""
    if kind == "cq-table":
        if params.cq_source == "linregpcr":
            raise InputError(
                "parameter 'cq_source' is 'linregpcr', which needs RDML amplification curves; "
                "this is a Cq table",
                file=path,
            )
        return read_cq_table(path), None
    doc = read_rdml(path)
    one_run = params.cq_source == "linregpcr" or params.rdml_experiment or params.rdml_run
    if one_run:
        doc = dataclasses.replace(doc, runs=[doc.run(params.rdml_experiment, params.rdml_run)])
    records = records_from_rdml(doc)
    if not records:
        raise InputError("RDML file has no reactions", file=path)
    if params.cq_source == "file":
        if all(r.cq is None for r in records):  # e.g. a melt-only file: no Cq is not 'not detected'
            has_curves = any(len(r.cycles) for run in doc.runs for r in run.reactions)
            hint = "; set parameter 'cq_source' to 'linregpcr' to derive them from its amplification curves"
            raise InputError(f"the RDML file carries no Cq values{hint if has_curves else ''}", file=path)
        return records, None
    analysis = analyze_rdml(doc, params.rdml_experiment, params.rdml_run, threshold=params.cq_threshold)
    out = []
    for rec, res in zip(records, analysis.reactions, strict=True):
        if (rec.well, rec.target) != (res.well, res.target):  # same run, same order: a bug otherwise
            raise RuntimeError(f"LinRegPCR reactions out of order at {rec.well}/{rec.target}")
        out.append(dataclasses.replace(rec, cq=res.cq if res.amplification else None, source="linregpcr"))
    return out, analysis


def _test_sample(records: list[CqRecord], params: QpcrParams) -> str:
    """The named sample, or the plate's only unknown sample (a '<name> + spike' sample aside)."""
    if params.sample is not None:
        return params.sample
    unknown = list(dict.fromkeys(r.sample for r in records if r.task == "unkn" and not r.omitted))
    main = [s for s in unknown if not any(s == f"{o} + spike" for o in unknown)]
    if len(main) != 1:
        raise InputError(f"name the test sample with parameter 'sample' (unknown samples: {main})")
    return main[0]


def _targets(params: QpcrParams) -> list[str]:
    app = params.application
    if app == "mycoplasma_nat":
        return [params.mycoplasma_target, *([params.internal_control] if params.internal_control else [])]
    if app == "tert_mrna":
        return [params.tert_target, params.reference_gene]
    if app == "adventitious_virus":
        return [*params.virus_targets, *([params.internal_control] if params.internal_control else [])]
    return [params.host_dna_target]


def _control_targets(params: QpcrParams) -> set[str]:
    """Targets that amplify in controls by design: the internal control and the reference gene."""
    if params.application == "tert_mrna":
        return {params.reference_gene}
    return {params.internal_control} if params.internal_control else set()


def _apply(
    records: list[CqRecord], params: QpcrParams, source: InputFile
) -> tuple[Measurement, dict[str, Any]]:
    """The application's Measurement from one plate's records (the :mod:`.nat` functions)."""
    sample = _test_sample(records, params)
    inputs = [source]
    rules = {
        "cq_cutoff": params.cq_cutoff,
        "min_positive_replicates": params.min_positive_replicates,
        "positive_max_cq": params.positive_max_cq,
        "max_ic_shift": params.max_ic_shift,
    }
    app = params.application
    if app == "mycoplasma_nat":
        m = qpcr_nat.mycoplasma_nat(
            records,
            sample,
            lod=params.mycoplasma_lod,
            lod_unit=params.mycoplasma_lod_unit,
            target=params.mycoplasma_target,
            internal_control=params.internal_control,  # type: ignore[arg-type]  # None: no IC checks
            inputs=inputs,
            **rules,
        )
        return m, {}
    if app == "tert_mrna":
        m = qpcr_nat.tert_mrna(
            records,
            sample,
            target=params.tert_target,
            reference_gene=params.reference_gene,
            max_reference_cq=params.max_reference_cq,
            inputs=inputs,
            **rules,
        )
        return m, {}
    if app == "adventitious_virus":
        m = qpcr_nat.adventitious_virus_panel(
            records,
            sample,
            lods=dict(zip(params.virus_targets, params.virus_lods, strict=True)),
            internal_control=params.internal_control,
            inputs=inputs,
            **rules,
        )
        return m, {}
    spiked = params.spiked_sample
    if spiked is None and any(r.sample == f"{sample} + spike" for r in records):
        spiked = f"{sample} + spike"
    assert params.dose_volume_ml is not None  # checked in run()
    m = qpcr_nat.residual_host_dna(
        records,
        sample,
        params.host_dna_target,
        template_ul=params.template_ul,
        dose_volume_ml=params.dose_volume_ml,
        dilution=params.dilution,
        spiked_sample=spiked,
        spike_pg=params.spike_pg,
        recovery_range_pct=(params.recovery_range_pct[0], params.recovery_range_pct[1]),
        inputs=inputs,
    )
    return m, {"standard_curve": m.provenance.parameters["curve"], "spiked_sample": spiked}


def _unique(stem: str, seen: set[str]) -> str:
    name, k = stem, 1
    while name in seen:
        k += 1
        name = f"{stem}_{k}"
    seen.add(name)
    return name


def _write_tsv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, delimiter="\t", extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: "" if row.get(k) is None else row[k] for k in columns})


def _write_tables(
    out_dir: Path,
    stem: str,
    records: list[CqRecord],
    m: Measurement,
    analysis: QpcrAnalysis | None,
    params: QpcrParams,
) -> list[Artefact]:
    """Wells with the Cq used, the validity checks, quantities (host DNA) and LinRegPCR reactions."""
    out = []
    wells = out_dir / f"{stem}_wells.tsv"
    _write_tsv(wells, [r.to_dict() for r in records], ["well", "sample", "target", "task", "cq", "quantity",
                                                        "omitted", "source"])
    out.append(Artefact(str(wells), "table", f"{stem}: wells and the Cq values used"))
    checks = out_dir / f"{stem}_checks.tsv"
    _write_tsv(checks, [c.to_dict() for c in m.checks], ["name", "passed", "detail"])
    out.append(Artefact(str(checks), "table", f"{stem}: validity checks of {m.cqa}"))
    if params.application == "residual_host_dna":
        curve = curve_from_records(records, params.host_dna_target)
        rows = [q.to_dict() for q in quantify_samples(records, curve)]
        cols = ["sample", "target", "replicates", "detected", "mean_cq", "sd_cq", "quantity", "ci_low",
                "ci_high"]
        table = out_dir / f"{stem}_quantities.tsv"
        _write_tsv(table, rows, cols)
        out.append(Artefact(str(table), "table", f"{stem}: pg host DNA per reaction on the standard curve"))
    if analysis is not None:
        table = out_dir / f"{stem}_linregpcr.tsv"
        rows = [r.to_dict() for r in analysis.reactions]
        for r in rows:
            r["notes"] = "; ".join(r["notes"])
        _write_tsv(table, rows, list(rows[0]) if rows else ["well"])
        out.append(Artefact(str(table), "table", f"{stem}: LinRegPCR baseline, efficiency, N0 and Cq"))
    return out


# ----------------------------------------------------------------------------------------- simulate
# The demo lots' settings: mycoplasma NAT LOD, lentiviral-vector dose and the efficiencies the plates are
# simulated with. The demo lots are negative and carry 1.5 pg host DNA per reaction; these constants are
# their truth.
MYCOPLASMA_LOD_CFU_PER_ML = 10.0
HOST_DNA_DOSE = {  # product -> (dose mL, template µL, dilution); the demo defines the lentiviral vector
    "lv_vector": (5.0, 10.0, 0.5),
}
DEMO_HOST_DNA_PG_PER_REACTION = 1.5
DEMO_SPIKE_PG = 30.0
FORMATS = {
    "quantstudio_csv": (".csv", qpcr_sim.write_quantstudio_csv),
    "cfx_csv": (".csv", qpcr_sim.write_cfx_csv),
    "quantstudio_xlsx": (".xlsx", qpcr_sim.write_quantstudio_xlsx),
    "rdml": (".rdml", qpcr_sim.write_rdml),
}
DEFAULT_FORMAT = {
    "mycoplasma": "quantstudio_csv",
    "tert_mrna": "cfx_csv",
    "adventitious_virus": "quantstudio_xlsx",
    "residual_host_dna": "quantstudio_csv",
}
FILE_STEM = {
    "mycoplasma": "mycoplasma_nat",
    "tert_mrna": "tert_rtqpcr",
    "adventitious_virus": "adventitious_virus_panel",
    "residual_host_dna": "residual_host_dna",
}
TRUTH_KEYS = {
    "sample", "lot_number", "file_format", "contaminated_copies", "ic_copies", "inhibition_cycles",
    "tert_copies", "reference_copies", "present", "pg_per_reaction", "spike_pg",
}


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict[str, Any]) -> Simulated:
    """One plate for ``cqa`` as the demo simulates it (same layouts, efficiencies and writers).

    ``seed`` seeds the plate directly (the demo derives it from its lot seed). The demo's truth is fixed
    (negative NATs, 1.5 pg host DNA per reaction), so nothing is drawn; ``truth`` keys override it:

    - ``sample`` (default ``"<lot_number> final product"``), ``lot_number`` (``"SIM-001"``), ``file_format``
      (``quantstudio_csv``, ``cfx_csv``, ``quantstudio_xlsx`` or ``rdml`` with amplification curves, then
      run with ``cq_source=linregpcr``; default: the demo's format of the CQA);
    - mycoplasma: ``contaminated_copies`` (mean mycoplasma copies per reaction, 0), ``ic_copies`` (500),
      ``inhibition_cycles`` (0);
    - tert_mrna: ``tert_copies`` (0), ``reference_copies`` (GAPDH, 2e5);
    - adventitious_virus: ``present`` ({target: mean copies per reaction}, none);
    - residual_host_dna: ``pg_per_reaction`` (1.5), ``spike_pg`` (30).

    The returned truth holds the expected ``value`` ("Detected"/"Not detected"; ng/dose for host DNA).
    """
    unknown = set(truth) - TRUTH_KEYS
    if unknown:
        raise InputError(f"qpcr simulate: unknown truth keys {sorted(unknown)} (known: {sorted(TRUTH_KEYS)})")
    if cqa not in CQA_OF.values():
        raise InputError(f"qpcr simulate: no simulator for CQA {cqa!r}")
    lot = str(truth.get("lot_number", "SIM-001"))
    sample = str(truth.get("sample", f"{lot} final product"))
    fmt = str(truth.get("file_format", DEFAULT_FORMAT[cqa]))
    if fmt not in FORMATS:
        raise InputError(f"qpcr simulate: file_format must be one of {sorted(FORMATS)}, got {fmt!r}")
    curves = fmt == "rdml"
    params: dict[str, Any] = {"application": APPLICATION_OF[cqa], "sample": sample}
    if curves:
        params["cq_source"] = "linregpcr"
    told: dict[str, Any] = {"sample": sample, "file_format": fmt}
    if cqa == "mycoplasma":
        told |= {
            "contaminated_copies": float(truth.get("contaminated_copies", 0.0)),
            "ic_copies": float(truth.get("ic_copies", 500.0)),
            "inhibition_cycles": float(truth.get("inhibition_cycles", 0.0)),
        }
        layout = qpcr_sim.mycoplasma_layout(
            sample, told["contaminated_copies"], told["ic_copies"], told["inhibition_cycles"]
        )
        wells = qpcr_sim.plate(layout, curves=curves, rng=seed)
        params["mycoplasma_lod"] = MYCOPLASMA_LOD_CFU_PER_ML
        told["value"] = _expected_call(wells, sample, ["Mycoplasma"])
    elif cqa == "tert_mrna":
        told |= {
            "tert_copies": float(truth.get("tert_copies", 0.0)),
            "reference_copies": float(truth.get("reference_copies", 2e5)),
        }
        layout = qpcr_sim.tert_layout(sample, told["tert_copies"], told["reference_copies"])
        if curves:  # RDML types samples, not wells: the no-RT well needs its own sample name
            layout = [(f"{s} no-RT" if task == "nrt" else s, t, task, n, q) for s, t, task, n, q in layout]
        wells = qpcr_sim.plate(layout, efficiency={"GAPDH": 1.97}, curves=curves, rng=seed)
        told["value"] = _expected_call(wells, sample, ["TERT"])
    elif cqa == "adventitious_virus":
        lods = dict(qpcr_nat.VIRUS_PANEL_LOD)
        present = {str(k): float(v) for k, v in dict(truth.get("present", {})).items()}
        if set(present) - set(lods):
            raise InputError(f"qpcr simulate: 'present' names targets outside the panel {sorted(lods)}")
        told["present"] = present
        layout = qpcr_sim.virus_panel_layout(sample, list(lods), lods, present)
        wells = qpcr_sim.plate(layout, curves=curves, rng=seed)
        detected = _detected(wells, sample, list(lods))
        told["value"] = f"Detected: {', '.join(detected)}" if detected else qpcr_nat.NOT_DETECTED
    else:
        dose_ml, template_ul, dilution = HOST_DNA_DOSE.get(product or "lv_vector", HOST_DNA_DOSE["lv_vector"])
        told |= {
            "pg_per_reaction": float(truth.get("pg_per_reaction", DEMO_HOST_DNA_PG_PER_REACTION)),
            "spike_pg": float(truth.get("spike_pg", DEMO_SPIKE_PG)),
        }
        layout = qpcr_sim.host_dna_layout(sample, told["pg_per_reaction"], spike_pg=told["spike_pg"])
        wells = qpcr_sim.plate(layout, efficiency={"hostDNA": 1.93}, curves=curves, rng=seed)
        params |= {
            "dose_volume_ml": dose_ml,
            "template_ul": template_ul,
            "dilution": dilution,
            "spike_pg": told["spike_pg"],
        }
        told["value"] = told["pg_per_reaction"] * dilution * dose_ml / template_ul  # ng per dose
        told["unit"] = "ng/dose"
    ext, writer = FORMATS[fmt]
    path = writer(Path(out_dir) / f"{lot}_{FILE_STEM[cqa]}{ext}", wells)
    kind = "rdml" if fmt == "rdml" else "cq-table"
    return Simulated(cqas=(cqa,), inputs={kind: [str(path)]}, params=params, truth=told)


def _detected(wells: list[qpcr_sim.SimWell], sample: str, targets: list[str]) -> list[str]:
    """Targets with at least one template copy in a test-sample well (the simulated truth)."""
    return [t for t in targets if any(w.sample == sample and w.target == t and w.copies > 0 for w in wells)]


def _expected_call(wells: list[qpcr_sim.SimWell], sample: str, targets: list[str]) -> str:
    return qpcr_nat.DETECTED if _detected(wells, sample, targets) else qpcr_nat.NOT_DETECTED
