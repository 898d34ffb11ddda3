"""A result from the lot page's form: raw instrument files run through their engine, or a manual value.

Raw files are kept under the server's ``upload_dir`` (``<id>/inputs``), the engine writes its artefacts
(plots, tables) beside them (``<id>/artefacts``), and every measurement the engine returns for a test of the
lot at that stage is recorded through :func:`cgtqc.lots.service.add_result` in one transaction, with the
files' SHA-256 in its provenance. A manual value needs the reason it was entered by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from cgtqc import __version__
from cgtqc.engines import EngineResult, registry
from cgtqc.errors import InputError
from cgtqc.lots import service
from cgtqc.results import Measurement, Provenance
from cgtqc.store.sessions import Principal
from cgtqc.web.context import write_scope

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_value(raw: str) -> float | str:
    """A number ('1,234.5', '2.4e13') or an outcome word ('Not detected'); empty is refused."""
    text = raw.strip()
    if not text:
        raise InputError("give a value", place="value")
    if text[0] in "+-.0123456789":
        try:
            return float(text.replace(",", ""))
        except ValueError:
            raise InputError(f"{raw!r} is not a number", place="value") from None
    return text


def _params(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"engine parameters are not JSON ({exc.msg} at column {exc.colno})", place="parameters"
        ) from None
    if not isinstance(value, dict):
        raise InputError("engine parameters must be a JSON object", place="parameters")
    return value


async def _save(files: list[UploadFile], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(files):
        name = _UNSAFE.sub("_", Path(f.filename or f"file{i}").name).lstrip(".") or f"file{i}"
        path = folder / name
        path.write_bytes(await f.read())
        paths.append(path)
    return paths


def _run_engine(engine: str, paths: list[Path], params: dict[str, Any], out: Path) -> EngineResult:
    spec = registry()[engine]
    return spec.execute(spec.assign_inputs(paths), params, out)


async def record_from_form(request: Request, who: Principal, lot_number: str, form: FormData) -> bool:
    """Record what the form holds; True when an existing result was replaced (its signatures voided)."""
    cqa = str(form.get("cqa") or "")
    stage = str(form.get("stage") or "release")
    reason = str(form.get("reason") or "").strip()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if files:
        engine = str(form.get("engine") or "")
        params = _params(str(form.get("params") or ""))
        run_dir = Path(request.app.state.upload_dir) / uuid.uuid4().hex
        try:
            paths = await _save(files, run_dir / "inputs")
            result = await run_in_threadpool(_run_engine, engine, paths, params, run_dir / "artefacts")
            return await run_in_threadpool(
                _store, request, who, lot_number, cqa, stage, result.measurements, reason
            )
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing recorded: keep no files of it either
            raise
    if not reason:
        raise InputError("a manual value needs the reason it is entered by hand", place="reason")
    prov = Provenance("manual-entry", __version__, {"entered_by": who.username, "reason": reason})
    measurements = [
        Measurement(
            cqa=cqa,
            value=parse_value(str(form.get("value") or "")),
            unit=str(form.get("unit") or ""),
            provenance=prov,
        )
    ]
    return await run_in_threadpool(_store, request, who, lot_number, cqa, stage, measurements, reason)


def _store(
    request: Request,
    who: Principal,
    lot_number: str,
    cqa: str,
    stage: str,
    measurements: list[Measurement],
    reason: str,
) -> bool:
    replaced = False
    with write_scope(request) as s:
        lot = service.get_lot(s, lot_number)
        spec = service.specification_for(s, lot.product, lot.spec_version)
        at_stage = {ln.cqa for ln in spec.lines if ln.stage == stage}
        wanted = [m for m in measurements if m.cqa in at_stage]
        if not any(m.cqa == cqa for m in wanted):
            got = ", ".join(sorted({m.cqa for m in measurements})) or "nothing"
            raise InputError(f"the engine computed {got}, not {cqa}", place=f"lot {lot_number}")
        for m in wanted:
            existing = service.current_results(lot).get((m.cqa, stage))
            replacing = existing is not None and existing.value is not None
            replaced |= replacing
            service.add_result(
                s, who.username, lot_number, m, stage, replace_reason=reason if replacing else None
            )
    return replaced
