"""``run`` and ``simulate`` of the microbial engine: test records in, qualitative Measurements out.

Each record file (:mod:`cgtqc.assays.microbial.records`) becomes the engine's
:class:`~cgtqc.assays.microbial.engine.MicrobialRecord`, whose compendial checks, pending/final status and
follow-up verdict give one Measurement: the certificate words ("No growth", "Not detected" ...) once final,
value None while a rapid method is still pending.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from cgtqc.assays.microbial.engine import MicrobialCriteria
from cgtqc.assays.microbial.records import Worksheet, read_record
from cgtqc.assays.microbial.sim import simulate_record
from cgtqc.assays.microbial.spec import ENGINE, MicrobialParams
from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import Measurement, Provenance, file_input

KIND = "microbial-record"
CRITERIA_FIELDS = (
    "sterility_days", "rapid_days", "rcl_cells_fraction", "rcl_max_cells", "rcl_supernatant_fraction"
)


def criteria(params: MicrobialParams) -> MicrobialCriteria:
    """The engine's minimum conditions from the parameters."""
    return MicrobialCriteria(**{k: getattr(params, k) for k in CRITERIA_FIELDS})


def run(inputs: dict[str, list[Path]], params: MicrobialParams, out_dir: Path | None) -> EngineResult:
    """One Measurement per record file, with the file's SHA-256 and every parameter in its provenance."""
    crit = criteria(params)
    measurements: list[Measurement] = []
    sheets: list[tuple[Path, Worksheet]] = []
    rows: list[dict[str, Any]] = []
    for path in inputs.get(KIND, []):
        sheet = read_record(path)
        if params.test != "any" and sheet.test != params.test:
            raise InputError(
                f"a {sheet.test!r} record, but parameter 'test' asks for {params.test!r}",
                file=path,
                place=f"line {sheet.line}, field 'test'",
            )
        record = sheet.to_record(crit)
        m = record.to_measurement()
        m.provenance = Provenance(
            ENGINE.name,
            ENGINE.version,
            {**params.model_dump(), "record": record.to_dict()},
            [file_input(path)],
        )
        measurements.append(m)
        sheets.append((path, sheet))
        final = sheet.final_reading()
        rows.append(
            {
                "file": path.name,
                "cqa": m.cqa,
                "sample": sheet.sample,
                "method": record.method,
                "status": record.status,
                "value": m.value,
                "valid": m.valid,
                "failed_checks": [c.name for c in m.failed_checks],
                "started": sheet.start.isoformat(),
                "incubation_end": sheet.end.isoformat(),
                "final_reading": final.on.isoformat() if final else None,
                "growth": {v: d.isoformat() for v, d in sheet.growth().items()},
                "released_at_risk": record.released_at_risk,
                "follow_up": record.follow_up,
            }
        )
    artefacts = _write_artefacts(out_dir, rows, sheets) if out_dir is not None else []
    return EngineResult(
        engine=ENGINE.name,
        version=ENGINE.version,
        measurements=measurements,
        artefacts=artefacts,
        summary={"records": rows},
    )


def _write_artefacts(
    out_dir: Path, rows: list[dict[str, Any]], sheets: list[tuple[Path, Worksheet]]
) -> list[Artefact]:
    results = out_dir / "microbial_results.csv"
    with results.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "cqa", "sample", "status", "value", "valid", "failed_checks", "final_reading",
                    "growth", "follow_up"])
        for r in rows:
            w.writerow([
                r["file"], r["cqa"], r["sample"], r["status"], "" if r["value"] is None else r["value"],
                r["valid"], ";".join(r["failed_checks"]), r["final_reading"] or "",
                ";".join(f"{v} {d}" for v, d in r["growth"].items()), r["follow_up"],
            ])
    readings = out_dir / "microbial_readings.csv"
    with readings.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "sample", "date", "by", "vessel", "role", "medium", "result"])
        for path, sheet in sheets:
            vessels = {v.id: v for v in sheet.vessels}
            for row in sheet.readings:
                for vid, result in row.results.items():
                    v = vessels[vid]
                    w.writerow(
                        [path.name, sheet.sample, row.on.isoformat(), row.by, vid, v.role, v.medium, result]
                    )
    report = out_dir / "microbial_records.json"
    report.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return [
        Artefact(str(results), "table", "Microbial test results: status, value, failed checks, follow-up"),
        Artefact(str(readings), "table", "Every reading of every vessel"),
        Artefact(str(report), "report", "Records as the engine judged them (JSON)"),
    ]


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """One simulated record for ``cqa`` (see :func:`cgtqc.assays.microbial.sim.simulate_record` for the
    truth keys understood: result, contaminated_vessel, growth_day, failed_control, complete, read_days,
    released_at_risk, incubation_days, start, sample and the RCL amounts)."""
    try:
        text, resolved = simulate_record(cqa, seed, product, truth)
    except ValueError as exc:
        raise InputError(f"engine 'microbial' simulator: {exc}") from None
    path = Path(out_dir) / f"{cqa}_{resolved['sample']}.yaml"
    path.write_text(text, encoding="utf-8")
    return Simulated(cqas=(cqa,), inputs={KIND: [str(path)]}, params={"test": cqa}, truth=resolved)
