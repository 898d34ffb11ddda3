"""``run`` and ``simulate`` of the ddPCR engine (declared in ``spec``).

``run`` reads every file with the package's readers (well tables or droplet amplitude files, recognised by
content), quantifies the wells (``engine``), merges replicate wells per sample and target, and computes the
selected application's CQAs (``apps``). ``simulate`` writes droplet amplitude files (or, for RCL, a QX
Manager well table) with ``sim`` for the demo lots (set-ups: the constants under ``simulate``).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.assays.ddpcr import apps, sim
from cgtqc.assays.ddpcr.engine import (
    ClusterCounts,
    DdpcrWell,
    MergedWell,
    merge_by_sample,
    merge_replicates,
    quantify_amplitudes,
    quantify_table,
    resolve_droplet_volume,
    select_wells,
)
from cgtqc.assays.ddpcr.plots import WELLS_JSON
from cgtqc.assays.ddpcr.readers import DropletAmplitudes, read_ddpcr
from cgtqc.assays.ddpcr.spec import ENGINE, DdpcrParams
from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Measurement, Provenance, to_json

# ---- run ----------------------------------------------------------------------------------------------


def _reraise_with_file(exc: InputError, path: Path) -> InputError:
    return exc if exc.file is not None else InputError(exc.message, file=path, place=exc.place)


def _quantify(paths: list[Path], p: DdpcrParams, volume: float) -> list[DdpcrWell]:
    """Every well of every file; amplitude files a table already read (its empty rows) are not read twice."""
    common: dict[str, Any] = {
        "threshold_ch1": p.threshold_ch1,
        "threshold_ch2": p.threshold_ch2,
        "use_file_calls": p.use_file_calls,
        "classification": p.classification,
        "droplet_volume_nl": volume,
        "min_droplets": p.min_droplets,
    }
    data: list[tuple[Path, Any]] = []
    for path in paths:
        try:
            data.append((path, read_ddpcr(path)))
        except InputError as exc:
            raise _reraise_with_file(exc, path) from None
    wells: list[DdpcrWell] = []
    used: set[Path] = set()
    for path, d in (x for x in data if not isinstance(x[1], DropletAmplitudes)):
        try:
            got = quantify_table(d, **common)
        except InputError as exc:
            raise _reraise_with_file(exc, path) from None
        used |= {Path(i.path).resolve() for w in got for i in w.provenance.inputs}
        wells += got
    for path, d in (x for x in data if isinstance(x[1], DropletAmplitudes)):
        if path.resolve() in used:
            continue
        header = list(d.file_calls) if d.layout == "qx_manager" and len(d.file_calls) == 2 else ["ch1", "ch2"]
        targets = (p.ch1_target or header[0], p.ch2_target or header[1])
        try:
            wells += quantify_amplitudes(d, targets=targets, sample=p.sample, **common)
        except InputError as exc:
            raise _reraise_with_file(exc, path) from None
    if p.per_well:  # each well its own sample, labelled as the CLI's linkage command does
        wells = [
            dataclasses.replace(w, sample=f"{w.sample} [{w.well}]" if w.sample else w.well) for w in wells
        ]
    return wells


def _vcn(wells: list[DdpcrWell], p: DdpcrParams) -> list[apps.AppResult]:
    targets, refs = merge_by_sample(wells, p.target), merge_by_sample(wells, p.reference)
    out: list[apps.AppResult] = []
    for sample, t in targets.items():
        if sample not in refs:
            raise InputError(f"sample {sample!r} has no {p.reference!r} well")
        out += apps.vector_copy_number(
            t, refs[sample], reference_copies=p.reference_copies, fraction_transduced=p.fraction_transduced
        )
    return out


def _integrity(wells: list[DdpcrWell], p: DdpcrParams) -> list[apps.AppResult]:
    """% intact genomes per sample from the pooled four-cluster counts of the target's wells."""
    groups: dict[str, list[DdpcrWell]] = {}
    for w in select_wells(wells, p.target):
        groups.setdefault(w.sample, []).append(w)
    if not groups:
        merge_by_sample(wells, p.target)  # raises the InputError naming the targets present
    out = []
    for sample, ws in groups.items():
        missing = [w for w in ws if w.clusters is None]
        if missing:
            raise InputError(
                "no two-channel cluster counts for genome integrity (need amplitude files or Ch1+Ch2+ "
                "columns; or set genome_integrity false)",
                file=missing[0].source or None,
                place=f"well {missing[0].well}",
            )
        counts = [w.clusters for w in ws if w.clusters is not None]
        pooled = ClusterCounts(
            sum(c.nn for c in counts),
            sum(c.pn for c in counts),
            sum(c.np_ for c in counts),
            sum(c.pp for c in counts),
        )
        inputs = list({i.path: i for w in ws for i in w.provenance.inputs}.values())
        r = apps.genome_integrity(
            pooled,
            provenance_inputs=inputs,
            sample=sample,
            n_boot=p.n_boot,
            seed=p.bootstrap_seed,
            droplet_volume_nl=ws[0].droplet_volume_nl,
        )
        r.checks = [c for w in ws for c in w.checks] + r.checks
        out.append(r)
    return out


def _vg_titer(wells: list[DdpcrWell], p: DdpcrParams) -> list[apps.AppResult]:
    template = 2.0 if p.template_volume_ul is None else p.template_volume_ul
    out = [
        apps.vg_titer(
            m, reaction_volume_ul=p.reaction_volume_ul, template_volume_ul=template, dilution=p.dilution
        )
        for m in merge_by_sample(wells, p.target).values()
    ]
    return out + (_integrity(wells, p) if p.genome_integrity else [])


def _residual(wells: list[DdpcrWell], p: DdpcrParams) -> list[apps.AppResult]:
    return [
        apps.residual_dna(
            m,
            cqa="residual_host_dna" if p.dose_volume_ml is not None else "residual_plasmid_dna",
            length_bp=p.length_bp,
            mass_per_copy_pg=p.mass_per_copy_pg,
            reaction_volume_ul=p.reaction_volume_ul,
            template_volume_ul=5.0 if p.template_volume_ul is None else p.template_volume_ul,
            dilution=p.dilution,
            dose_volume_ml=p.dose_volume_ml,
        )
        for m in merge_by_sample(wells, p.target).values()
    ]


def _transgene(wells: list[DdpcrWell], p: DdpcrParams) -> list[apps.AppResult]:
    assert p.gdna_ng is not None  # the parameter model requires it for this application
    return [
        apps.transgene_copies_per_cell(
            m,
            gdna_ng=p.gdna_ng,
            reaction_volume_ul=p.reaction_volume_ul,
            pg_per_diploid_genome=p.pg_per_diploid_genome,
        )
        for m in merge_by_sample(wells, p.target).values()
    ]


def _biodistribution(wells: list[DdpcrWell], p: DdpcrParams) -> list[apps.AppResult]:
    assert p.gdna_ng is not None
    return [
        apps.biodistribution(
            m,
            gdna_ng=p.gdna_ng,
            lloq_copies_per_ug=p.lloq_copies_per_ug,
            reaction_volume_ul=p.reaction_volume_ul,
        )
        for m in merge_by_sample(wells, p.target).values()
    ]


def _rcl(wells: list[DdpcrWell], p: DdpcrParams) -> list[apps.AppResult]:
    assert p.lod_copies_per_reaction is not None
    merged = merge_by_sample(wells, p.target)
    for name, what in ((p.ntc, "ntc"), (p.positive_control, "positive_control")):
        if name is not None and name not in merged:
            raise InputError(
                f"parameter {what!r}: control sample {name!r} not found (samples: {', '.join(merged)})"
            )
    controls = {p.ntc, p.positive_control}
    return [
        apps.rcl_surrogate(
            m,
            lod_copies_per_reaction=p.lod_copies_per_reaction,
            ntc=merged.get(p.ntc) if p.ntc else None,
            positive_control=merged.get(p.positive_control) if p.positive_control else None,
            min_positive_droplets=p.min_positive_droplets,
            reaction_volume_ul=p.reaction_volume_ul,
        )
        for s, m in merged.items()
        if s not in controls
    ]


APPLICATIONS: dict[str, Callable[[list[DdpcrWell], DdpcrParams], list[apps.AppResult]]] = {
    "quantify": lambda wells, p: [],
    "vcn": _vcn,
    "vg_titer": _vg_titer,
    "genome_integrity": _integrity,
    "residual_dna": _residual,
    "transgene_copies": _transgene,
    "biodistribution": _biodistribution,
    "rcl": _rcl,
}
NOTES = {
    "vcn": "ddPCR {target} vs {reference}",
    "vg_titer": "ddPCR genome titer ({target})",
    "genome_integrity": "duplex ddPCR linkage",
    "residual_dna": "ddPCR residual DNA ({target})",
    "transgene_copies": "ddPCR transgene copies per cell from gDNA mass ({target})",
    "biodistribution": "ddPCR vector copies per µg gDNA ({target})",
    "rcl": "ddPCR RCL surrogate ({target})",
}


def _measurement(r: apps.AppResult, p: DdpcrParams) -> Measurement:
    """The app result as a Measurement whose provenance holds every run parameter and the method's own."""
    m = r.to_measurement(
        note=NOTES["genome_integrity" if r.cqa == "genome_integrity_pct" else p.application].format(
            target=p.target, reference=p.reference
        )
    )
    method = {"function": r.provenance.engine, **r.provenance.parameters}
    m.provenance = Provenance(
        engine=ENGINE.name,
        engine_version=ENGINE.version,
        parameters={**p.model_dump(), "method": method},
        inputs=list(r.provenance.inputs),
    )
    return m


_WELL_COLUMNS = (
    "source",
    "well",
    "sample",
    "target",
    "channel",
    "positives",
    "negatives",
    "accepted_droplets",
    "copies_per_droplet",
    "copies_per_ul",
    "poisson_ci_low",
    "poisson_ci_high",
    "droplet_volume_nl",
    "ch1-ch2-",
    "ch1+ch2-",
    "ch1-ch2+",
    "ch1+ch2+",
    "threshold",
    "threshold_method",
    "valid",
)
_MERGED_COLUMNS = (
    "sample",
    "target",
    "wells",
    "positives",
    "accepted_droplets",
    "copies_per_ul",
    "poisson_ci_low",
    "poisson_ci_high",
    "replicate_se",
    "total_ci_low",
    "total_ci_high",
    "droplet_volume_nl",
    "valid",
)
_RESULT_COLUMNS = (
    "cqa",
    "sample",
    "value",
    "unit",
    "ci_low",
    "ci_high",
    "loq",
    "valid",
    "failed_checks",
    "note",
)


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()})


def _well_row(w: DdpcrWell) -> dict[str, Any]:
    d = w.to_dict()
    d.pop("provenance")
    return d


def run(inputs: dict[str, list[Path]], params: DdpcrParams, out_dir: Path | None) -> EngineResult:
    """Quantify every well of the files, then compute the selected application's CQAs per sample."""
    paths = [Path(f) for files in inputs.values() for f in files]
    if not paths:
        raise InputError("engine 'ddpcr' needs at least one well table or droplet amplitude file")
    volume = resolve_droplet_volume(params.droplet_volume_nl, params.preset)
    wells = _quantify(paths, params, volume)
    results = APPLICATIONS[params.application](wells, params)
    measurements = [_measurement(r, params) for r in results]
    merged: list[MergedWell] = merge_replicates(wells)
    well_rows = [_well_row(w) for w in wells]
    merged_rows = [{k: v for k, v in m.to_dict().items() if k != "provenance"} for m in merged]
    summary = {
        "application": params.application,
        "droplet_volume_nl": volume,
        "files": [i.to_dict() for i in _unique_inputs(wells)],
        "wells": well_rows,
        "merged": merged_rows,
        "details": [{"cqa": r.cqa, "sample": r.sample, **r.details} for r in results],
    }
    artefacts: list[Artefact] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        result_rows = [
            {**m.to_dict(), "failed_checks": [c.name for c in m.failed_checks]} for m in measurements
        ]
        for name, columns, rows, title in (
            ("ddpcr_wells.csv", _WELL_COLUMNS, well_rows, "Droplet counts and copies/µL per well and target"),
            (
                "ddpcr_merged.csv",
                _MERGED_COLUMNS,
                merged_rows,
                "Replicate wells merged per sample and target",
            ),
            ("ddpcr_results.csv", _RESULT_COLUMNS, result_rows, f"{params.application} results per sample"),
        ):
            _write_csv(out_dir / name, columns, rows)
            artefacts.append(Artefact(str(out_dir / name), "table", title))
        # each well whole: the thresholds or 2-D boundaries that called its droplets and its source file with
        # SHA-256, so its droplets can be drawn later from the kept raw file exactly as they were called
        details = out_dir / WELLS_JSON
        details.write_text(to_json([w.to_dict() for w in wells]) + "\n", encoding="utf-8")
        artefacts.append(
            Artefact(str(details), "data", "Every well with its droplet calling and source file")
        )
    return EngineResult(
        engine=ENGINE.name,
        version=ENGINE.version,
        measurements=measurements,
        artefacts=artefacts,
        summary=summary,
    )


def _unique_inputs(wells: list[DdpcrWell]) -> list[InputFile]:
    return list({i.path: i for w in wells for i in w.provenance.inputs}.values())


# ---- simulate -----------------------------------------------------------------------------------------

REPLICATES = 2
# the demo lots' assay set-ups:
# AAV genome titer: 2 µL of a 1:5e6 dilution in a 20 µL reaction
AAV_TEMPLATE_UL, AAV_REACTION_UL, AAV_DILUTION = 2.0, 20.0, 5e6
# LV vector residual plasmid: 8 kb transfer plasmid, 5 µL of a 1:1000 dilution in 20 µL
PLASMID_BP, PLASMID_TEMPLATE_UL, PLASMID_DILUTION = 8000.0, 5.0, 1000.0
A_ONLY_SHARE = 0.4  # of broken AAV genomes, the share that keeps amplicon A (sim.aav_linkage_well)
HOST_TEMPLATE_UL, HOST_DOSE_ML, HOST_PG_PER_COPY = 8.0, 0.1, 3.3
BIO_GDNA_NG = 100.0
RCL_LOD = 10.0
V_UL = 0.85e-3  # droplet volume (µL) the simulated reader assumes
SAMPLE_LABELS = {
    "car_t": "final product",
    "lv_hsc": "final product",
    "aav": "drug substance",
    "lv_vector": "vector",
}


def _write(
    wells: list[sim.SimulatedWell], out_dir: Path, stem: str, layout: str, targets: tuple[str, str]
) -> list[str]:
    return [
        str(sim.write_amplitude_file(out_dir / f"{stem}_{w.well}_Amplitude.csv", w, layout, targets))
        for w in wells
    ]


def _amplitude_sim(
    cqas: tuple[str, ...], paths: list[str], params: dict[str, Any], truth: dict[str, Any]
) -> Simulated:
    return Simulated(cqas=cqas, inputs={"ddpcr-amplitudes": paths}, params=params, truth=truth)


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict[str, Any]) -> Simulated:
    """Droplet files with known truth for ``cqa``, as the demo draws and writes them.

    Understood ``truth`` keys (others drawn from ``seed`` in the demo's ranges): ``vcn`` (copies/diploid
    genome, 2-3), ``fraction_transduced`` (0.3-0.7), ``vg_titer`` (vg/mL, 1.6e13-2.4e13),
    ``intact_fraction`` (0.75-0.85) or ``genome_integrity_pct`` (the % the linkage measures),
    ``residual_plasmid_dna`` (ng/mL, 2-8), ``residual_host_dna`` (ng/dose, 2-10),
    ``vector_copies_per_ug_gdna`` (1e3-1e5), ``rcl`` ("Detected" / "Not detected", default not detected),
    ``replicates`` (wells per sample, 2). ``product`` sets the sample label of the demo's lots.
    """
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    n = int(truth.get("replicates", REPLICATES))
    sample = f"simulated {SAMPLE_LABELS.get(product or '', 'sample')}"
    base: dict[str, Any] = {"sample": sample}
    if cqa in ("vcn", "vcn_per_transduced_cell"):
        vcn = float(truth.get("vcn", rng.uniform(2.0, 3.0)))
        wells = [sim.vcn_well(rng, f"A0{i + 1}", vcn) for i in range(n)]
        paths = _write(wells, out_dir, "sim_ddpcr_vcn", "quantasoft", ("transgene", "RPP30"))
        params = {
            **base,
            "application": "vcn",
            "ch1_target": "transgene",
            "ch2_target": "RPP30",
            "target": "transgene",
            "reference": "RPP30",
        }
        t: dict[str, Any] = {"vcn": vcn}
        cqas: tuple[str, ...] = ("vcn",)
        if cqa == "vcn_per_transduced_cell" or "fraction_transduced" in truth:
            f = float(truth.get("fraction_transduced", rng.uniform(0.3, 0.7)))
            params["fraction_transduced"] = f
            t.update(fraction_transduced=f, vcn_per_transduced_cell=vcn / f)
            cqas = ("vcn", "vcn_per_transduced_cell")
        return _amplitude_sim(cqas, paths, params, t)
    if cqa in ("vg_titer", "genome_integrity_pct"):
        titer = float(truth.get("vg_titer", rng.uniform(1.6e13, 2.4e13)))
        intact = float(truth.get("intact_fraction", rng.uniform(0.75, 0.85)))
        if "genome_integrity_pct" in truth:  # invert pct = i / (i + (1 - share)(1 - i))
            q = float(truth["genome_integrity_pct"]) / 100.0
            intact = (1 - A_ONLY_SHARE) * q / (1 - A_ONLY_SHARE * q)
        # λ of genomes carrying amplicon A (ch1) giving the titer; A is on intact and A-only broken genomes
        lam_a = titer / 1000.0 / (AAV_REACTION_UL / AAV_TEMPLATE_UL) / AAV_DILUTION * V_UL
        lam_genomes = lam_a / (intact + A_ONLY_SHARE * (1 - intact))
        wells = [
            sim.aav_linkage_well(rng, f"B0{i + 1}", lam_genomes, intact, a_only_share=A_ONLY_SHARE)
            for i in range(n)
        ]
        paths = _write(wells, out_dir, "sim_ddpcr_aav", "qx_manager", ("ITR", "polyA"))
        pct = 100.0 * intact / (intact + (1 - A_ONLY_SHARE) * (1 - intact))
        params = {
            **base,
            "application": "vg_titer",
            "target": "ITR",
            "reaction_volume_ul": AAV_REACTION_UL,
            "template_volume_ul": AAV_TEMPLATE_UL,
            "dilution": AAV_DILUTION,
        }
        t = {"vg_titer": titer, "intact_fraction": intact, "genome_integrity_pct": pct}
        return _amplitude_sim(("vg_titer", "genome_integrity_pct"), paths, params, t)
    if cqa == "residual_plasmid_dna":
        ng_per_ml = float(truth.get("residual_plasmid_dna", rng.uniform(2.0, 8.0)))
        copies_per_ul_sample = ng_per_ml / 1000.0 / apps.copy_mass_pg(length_bp=PLASMID_BP) * 1000.0
        reaction = copies_per_ul_sample / PLASMID_DILUTION * PLASMID_TEMPLATE_UL / 20.0
        wells = [sim.simulate_well(rng, f"C0{i + 1}", lambda_a_only=reaction * V_UL) for i in range(n)]
        paths = _write(wells, out_dir, "sim_ddpcr_plasmid", "quantasoft", ("KanR", "ch2"))
        params = {
            **base,
            "application": "residual_dna",
            "ch1_target": "KanR",
            "target": "KanR",
            "length_bp": PLASMID_BP,
            "template_volume_ul": PLASMID_TEMPLATE_UL,
            "dilution": PLASMID_DILUTION,
        }
        return _amplitude_sim((cqa,), paths, params, {cqa: ng_per_ml})
    if cqa == "residual_host_dna":
        ng_per_dose = float(truth.get("residual_host_dna", rng.uniform(2.0, 10.0)))
        copies_per_ul_sample = ng_per_dose / HOST_DOSE_ML / 1000.0 * 1000.0 / HOST_PG_PER_COPY
        reaction = copies_per_ul_sample * HOST_TEMPLATE_UL / 20.0
        wells = [sim.simulate_well(rng, f"D0{i + 1}", lambda_a_only=reaction * V_UL) for i in range(n)]
        paths = _write(wells, out_dir, "sim_ddpcr_hostdna", "quantasoft", ("hostDNA", "ch2"))
        params = {
            **base,
            "application": "residual_dna",
            "ch1_target": "hostDNA",
            "target": "hostDNA",
            "mass_per_copy_pg": HOST_PG_PER_COPY,
            "template_volume_ul": HOST_TEMPLATE_UL,
            "dose_volume_ml": HOST_DOSE_ML,
        }
        return _amplitude_sim((cqa,), paths, params, {cqa: ng_per_dose})
    if cqa == "vector_copies_per_ug_gdna":
        per_ug = float(truth.get(cqa, 10 ** rng.uniform(3.0, 5.0)))
        vector_per_ul = per_ug * BIO_GDNA_NG / 1000.0 / 20.0
        ref_per_ul = 2 * BIO_GDNA_NG * 1000.0 / apps.PG_PER_DIPLOID_GENOME / 20.0
        wells = [
            sim.simulate_well(
                rng, f"E0{i + 1}", lambda_a_only=vector_per_ul * V_UL, lambda_b_only=ref_per_ul * V_UL
            )
            for i in range(n)
        ]
        paths = _write(wells, out_dir, "sim_ddpcr_biodist", "quantasoft", ("vector", "RPP30"))
        params = {
            **base,
            "application": "biodistribution",
            "ch1_target": "vector",
            "ch2_target": "RPP30",
            "target": "vector",
            "gdna_ng": BIO_GDNA_NG,
        }
        return _amplitude_sim((cqa,), paths, params, {cqa: per_ug})
    if cqa == "rcl":
        call = str(truth.get("rcl", "Not detected"))
        if call not in ("Detected", "Not detected"):
            raise InputError(f"truth 'rcl' must be 'Detected' or 'Not detected', got {call!r}")
        copies = {
            "NTC": 0.0,
            "positive control": 20 * RCL_LOD,
            sample: 5 * RCL_LOD if call == "Detected" else 0.0,
        }
        wells, names = [], {}
        for i, (name, per_reaction) in enumerate(copies.items()):
            for r in range(n):
                well = f"{'FGH'[i]}0{r + 1}"
                wells.append(sim.simulate_well(rng, well, lambda_a_only=per_reaction / 20.0 * V_UL))
                names[well] = name
        path = sim.write_qx_manager_table(out_dir / "sim_ddpcr_rcl.csv", wells, names, ("VSV-G", "RPP30"))
        params = {
            "application": "rcl",
            "target": "VSV-G",
            "lod_copies_per_reaction": RCL_LOD,
            "ntc": "NTC",
            "positive_control": "positive control",
        }
        return Simulated(
            cqas=("rcl",), inputs={"ddpcr-table": [str(path)]}, params=params, truth={"rcl": call}
        )
    raise InputError(f"engine 'ddpcr' cannot simulate CQA {cqa!r}")
