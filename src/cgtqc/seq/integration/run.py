"""``run`` and ``simulate`` of the ``integration`` engine: the ``cgtqc integration call`` path.

``run`` calls the sites of one R1/R2 pair of files (:func:`cgtqc.seq.integration.calling.call_sites`), writes
``sites.tsv``, ``multihits.tsv`` and ``summary.json`` with an output folder, and turns the population into
the three integration CQAs: the largest clone's share of theta (%), the Shannon index of theta, and, with a
gene annotation, the number of sites within 100 kb of an adverse-event gene (its body, TSS included).
``simulate`` writes a small sample of :mod:`cgtqc.seq.integration.sim` with the truth behind each CQA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Measurement, Provenance
from cgtqc.seq.integration.spec import ENGINE, IntegrationParams

EXECUTION_PARAMS = ("threads",)
_OUTPUTS = (
    ("sites.tsv", "table", "Integration sites with abundance, nearest gene and flags"),
    ("multihits.tsv", "table", "Multihit groups (equivalent loci)"),
    ("summary.json", "data", "Read categories, diversity, flags, provenance"),
)


def settings_from(params: IntegrationParams) -> Any:
    """The caller's settings from the engine parameters."""
    from cgtqc.seq.integration.calling import CallSettings
    from cgtqc.seq.integration.placement import PlacementFilters
    from cgtqc.seq.integration.trim import Adaptors

    adaptors = Adaptors(
        params.ltr,
        params.linker,
        ltr_bit=params.ltr_bit,
        primer_mismatches=params.primer_mismatches,
        bit_mismatches=params.bit_mismatches,
        ltr_shift=params.ltr_shift,
        linker_mismatches=params.linker_mismatches,
        min_host=params.min_host,
    )
    filters = PlacementFilters(
        min_identity=params.min_identity,
        max_junction_clip=params.max_junction_clip,
        min_fragment=params.min_host,
        max_fragment=params.max_fragment,
        score_tolerance=params.score_tolerance,
    )
    return CallSettings(adaptors, filters, window=params.window, phi=params.phi)


def _one(inputs: dict[str, list[Path]], kind: str) -> Path | None:
    paths = inputs.get(kind) or []
    return Path(paths[0]) if paths else None


def run(inputs: dict[str, list[Path]], params: IntegrationParams, out_dir: Path | None) -> EngineResult:
    """Sites, abundance, diversity and flags of one sample; the CQAs with provenance."""
    from cgtqc.seq.integration.calling import call_sites, write_outputs

    decided = {k: v for k, v in params.model_dump().items() if k not in EXECUTION_PARAMS}
    genes = _one(inputs, "genes")
    result = call_sites(
        inputs["fastq"][0],
        inputs["fastq-r2"][0],
        inputs["genome"][0],
        settings_from(params),
        vector=_one(inputs, "vector"),
        genes=genes,
        threads=params.threads,
        dominant_fraction=params.dominant_fraction,
        parameters=decided,
    )
    if not result.sites and not result.groups:
        raise InputError("no integration site found (check --ltr and --linker)", file=inputs["fastq-r2"][0])
    prov = Provenance(
        ENGINE.name, ENGINE.version, decided, [InputFile(p, h) for p, h in result.inputs.items()]
    )
    div = result.summary["diversity"]
    sample = Path(inputs["fastq"][0]).name.split(".")[0]
    measurements = [
        Measurement(
            "integration_top_clone_pct",
            100.0 * div["top_clone_fraction"],
            "%",
            prov,
            sample=sample,
            note="largest clone's share of sonicLength theta (unique sites and multihit groups)",
        ),
        Measurement(
            "integration_shannon",
            div["shannon"],
            "",
            prov,
            sample=sample,
            note="Shannon index (natural log) of sonicLength theta",
        ),
    ]
    if genes is not None:
        near = result.summary["flags"].get("sites_near_ae_genes")
        measurements.append(
            Measurement(
                "integration_sites_near_oncogenes",
                float(near or 0),
                "sites",
                prov,
                sample=sample,
                note="unique sites within 100 kb of an adverse-event gene's body or TSS",
            )
        )
    artefacts: list[Artefact] = []
    if out_dir is not None:
        written = write_outputs(result, out_dir)
        artefacts = [Artefact(str(written[name]), kind, title) for name, kind, title in _OUTPUTS]
    summary = {k: result.summary[k] for k in ("read_pairs", "categories", "sites", "multihit_groups")}
    return EngineResult(ENGINE.name, ENGINE.version, measurements, artefacts, summary)


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """A small simulated sample (``truth`` keys: ``n_pairs`` 6000, ``n_clones`` 60, ``dominant_fraction``)."""
    from cgtqc.seq.integration.sim import SimConfig
    from cgtqc.seq.integration.sim import simulate as simulate_reads

    if cqa not in ENGINE.cqas:
        raise InputError(f"engine 'integration' does not compute CQA {cqa!r}")
    cfg = SimConfig(
        n_pairs=int(truth.get("n_pairs", 6000)),
        n_clones=int(truth.get("n_clones", 60)),
        chrom_lengths=(600_000, 400_000),
        dominant_fraction=float(truth.get("dominant_fraction", 0.25)),
    )
    sim = simulate_reads(out_dir, seed, cfg)
    f = sim.files
    cells = [s["cells"] for s in sim.sites]
    return Simulated(
        cqas=ENGINE.cqas,
        inputs={
            "fastq": [f["r1"]],
            "fastq-r2": [f["r2"]],
            "genome": [f["genome"]],
            "vector": [f["vector"]],
            "genes": [f["genes"]],
        },
        params={"ltr": f["ltr"], "linker": f["linker"]},
        truth={"integration_top_clone_pct": 100.0 * max(cells) / sum(cells), "clones": len(cells)},
    )
