"""`cgtqc result add`: enter a result by hand (with a unit check) or import an engine's JSON measurement."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cgtqc import __version__
from cgtqc.cli._common import DB_OPTION, USER_OPTION, console, store_session
from cgtqc.errors import InputError
from cgtqc.lots import service
from cgtqc.results import Measurement, Provenance

app = typer.Typer(help="Results of a lot.", no_args_is_help=True)


def _parse_value(raw: str | None) -> float | str | None:
    if raw is None or raw.strip().lower() == "pending":
        return None
    try:
        return float(raw.replace(",", "")) if raw.strip()[0] in "+-.0123456789" else raw.strip()
    except ValueError:
        raise InputError(f"{raw!r} is not a number", place="VALUE") from None


def _load_measurements(path: Path) -> list[Measurement]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read measurement JSON: {exc}", file=path) from None
    items = data if isinstance(data, list) else [data]
    out = []
    for i, d in enumerate(items):
        try:
            out.append(Measurement.from_dict(d))
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a measurement (missing {exc})", file=path, place=f"item {i + 1}") from None
    return out


@app.command()
def add(
    lot_number: str = typer.Argument(...),
    cqa: str | None = typer.Argument(None, help="CQA id (omit with --measurement)"),
    value: str | None = typer.Argument(None, help="Number, outcome ('Not detected') or 'pending'"),
    unit: str = typer.Option("", "--unit", help="Unit of VALUE; converted to the specification's unit"),
    stage: str = typer.Option("release", "--stage"),
    ci_low: float | None = typer.Option(None, "--ci-low"),
    ci_high: float | None = typer.Option(None, "--ci-high"),
    loq: float | None = typer.Option(None, "--loq", help="LOQ of the method in the same unit"),
    rationale: str = typer.Option("", "--rationale", help="Why a pending result may follow release"),
    replace_reason: str | None = typer.Option(None, "--replace-reason", help="Reason to change a result"),
    measurement: Path | None = typer.Option(None, "--measurement", help="JSON Measurement(s) from an engine"),
    user: str = USER_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Add a result. A change to an existing result needs --replace-reason and voids the lot's signatures."""
    if measurement is not None:
        ms = _load_measurements(measurement)
    else:
        if cqa is None:
            raise InputError("give CQA and VALUE, or --measurement FILE")
        ms = [
            Measurement(
                cqa=cqa,
                value=_parse_value(value),
                unit=unit,
                ci_low=ci_low,
                ci_high=ci_high,
                loq=loq,
                provenance=Provenance("manual-entry", __version__, {"entered_by": user}),
            )
        ]
    with store_session(db) as s:
        for m in ms:
            added = service.add_result(s, user, lot_number, m, stage, rationale, replace_reason)
            msg = f"{lot_number} {m.cqa} ({stage}) = {m.value if m.value is not None else 'pending'} {m.unit}"
            if added.follow_up:
                msg += " [post-release follow-up recorded, lot notified]"
            if added.voided_signatures:
                msg += f" [red]{added.voided_signatures} signature(s) VOIDED[/]"
            console.print(msg)
