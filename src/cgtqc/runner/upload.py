"""A raw file uploaded for one test of a lot (API or web form): pick the engine, run it, store the result.

The three steps are apart so an interface holds no database transaction while an engine runs:

1. :func:`plan_upload` (in a transaction): the lot's specification line for the CQA and stage, and the engine
   the runner would pick for it (``engines_for``: the line's method words, cgtqc's own engines first), or
   the one asked for, which must compute that CQA;
2. :func:`save_upload` and :func:`run_upload` (no transaction): the files are kept under the upload folder
   (raw data is retained; their SHA-256 is in the provenance) and the engine runs as the runner's workers
   run it (``runner.tasks.run_engine``); any failure of the engine on the files is one ``InputError`` line;
3. :func:`store_upload` (in a transaction): each asked CQA's measurement through ``lots.service.add_result``,
   the one write path every interface uses (audit trail, separation of duties, voided signatures), with
   the lab record a lot manifest's test may carry (instrument, reagent lots, method version) and the OOS
   investigation a retest belongs to, checked as for the runner: an engine run with an out-of-calibration
   instrument or an expired reagent lot is stored invalid with the reason; an unqualified analyst is refused.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from cgtqc.engines import EngineResult, EngineSpec, registry
from cgtqc.errors import CgtqcError, InputError
from cgtqc.lab.checks import LabContext
from cgtqc.lots import service
from cgtqc.lots.service import AddedResult
from cgtqc.runner.scaffold import engines_for
from cgtqc.runner.tasks import run_engine

MAX_UPLOAD_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class UploadPlan:
    lot: str
    engine: EngineSpec
    stage: str
    cqas: tuple[str, ...]


def plan_upload(
    session: Session, lot_number: str, cqas: Iterable[str], stage: str = "release", engine: str | None = None
) -> UploadPlan:
    """The engine that computes ``cqas`` for the lot's specification at ``stage``; one line when none does."""
    wanted = tuple(dict.fromkeys(c.strip() for c in cqas if c.strip()))
    if not wanted:
        raise InputError("name the CQA the file is for", place="cqa")
    lot = service.get_lot(session, lot_number)
    spec = service.specification_for(session, lot.product, lot.spec_version)
    lines = []
    for cqa in wanted:
        try:
            lines.append(spec.line(cqa, stage))
        except KeyError:
            raise InputError(
                f"the specification of lot {lot_number} tests no {cqa!r} at stage {stage!r}", place="cqa"
            ) from None
    if engine:
        chosen = registry()[engine]
    else:
        found = engines_for(wanted[0], lines[0].method)
        if not found:
            raise InputError(
                f"no registered engine computes {wanted[0]!r}: enter the value by hand", place="cqa"
            )
        chosen = found[0]
    missing = [c for c in wanted if c not in chosen.cqas]
    if missing:
        raise InputError(f"engine {chosen.name!r} does not compute {', '.join(missing)}", place="engine")
    return UploadPlan(lot_number, chosen, stage, wanted)


_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str) -> str:
    """A file name without folders or odd characters (an upload never writes outside its folder)."""
    base = _SAFE.sub("_", Path(name or "").name).strip("._")
    return base or "upload"


def save_upload(folder: Path, files: Iterable[tuple[str, BinaryIO]]) -> list[Path]:
    """Write the uploaded files into a new folder under ``folder``; returns their paths."""
    target = Path(folder) / uuid.uuid4().hex / "in"
    target.mkdir(parents=True)
    paths: list[Path] = []
    for name, stream in files:
        path = target / safe_name(name)
        if path in paths:
            raise InputError("two uploaded files have the same name", file=path.name)
        size = 0
        with path.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise InputError(f"larger than {MAX_UPLOAD_BYTES >> 20} MiB", file=path.name)
                out.write(chunk)
        paths.append(path)
    if not paths:
        raise InputError("no file uploaded", place="files")
    return paths


def parse_params(text: str | None) -> dict[str, Any]:
    """Engine parameters given as a JSON object (``{"panel": "cart"}``); empty means the defaults."""
    if not text or not text.strip():
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} at character {exc.pos}", place="params") from None
    if not isinstance(params, dict):
        raise InputError("engine parameters must be a JSON object", place="params")
    return params


def run_upload(plan: UploadPlan, files: list[Path], params: dict[str, Any]) -> EngineResult:
    """Run the planned engine on the files (artefacts beside them in ``out/``); a failure is one line."""
    names = ", ".join(p.name for p in files)
    inputs = plan.engine.assign_inputs(files)
    out_dir = files[0].parent.parent / "out"
    try:
        doc = run_engine(
            plan.engine.name, {k: [str(p) for p in v] for k, v in inputs.items()}, params, str(out_dir)
        )
    except InputError as exc:  # named by the uploaded file's name, not the server's folder
        raise InputError(
            exc.message, file=Path(exc.file).name if exc.file else None, place=exc.place
        ) from None
    except CgtqcError:
        raise
    except Exception as exc:  # a file the engine cannot make sense of: a user's error, told in one line
        raise InputError(
            f"engine {plan.engine.name!r} failed: {type(exc).__name__}: {exc}", file=names
        ) from None
    return EngineResult.from_dict(doc)


def store_upload(
    session: Session,
    username: str,
    plan: UploadPlan,
    result: EngineResult,
    *,
    rationale: str = "",
    replace_reason: str | None = None,
    lab: LabContext | None = None,
    retest_of: str | None = None,
    override_reason: str = "",
    resample: bool = False,
) -> list[AddedResult]:
    """Store the measurement of each planned CQA through ``add_result`` (all or nothing), each with the lab
    record ``lab`` (the runner's manifest keys) and, for one CQA, as a retest (or ``resample``) in OOS
    investigation ``retest_of``."""
    by_cqa = {m.cqa: m for m in result.measurements}
    missing = [c for c in plan.cqas if c not in by_cqa]
    if missing:
        raise InputError(f"engine {plan.engine.name!r} gave no {', '.join(missing)} for these files")
    if retest_of and len(plan.cqas) > 1:
        raise InputError(
            f"a retest in {retest_of} is of one CQA; the upload names {', '.join(plan.cqas)}", place="cqa"
        )
    return [
        service.add_result(
            session,
            username,
            plan.lot,
            by_cqa[c],
            plan.stage,
            rationale,
            replace_reason,
            lab=lab,
            retest_of=retest_of,
            override_reason=override_reason,
            resample=resample,
        )
        for c in plan.cqas
    ]
