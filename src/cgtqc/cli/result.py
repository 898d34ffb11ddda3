"""`cgtqc result add`: enter a result by hand (with a unit check) or import an engine's JSON measurement."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cgtqc import __version__
from cgtqc.cli._common import (
    DB_OPTION,
    JSON_OPTION,
    PASSWORD_OPTION,
    USER_OPTION,
    acting_user,
    console,
    password_or_prompt,
    print_json,
    store_session,
)
from cgtqc.errors import InputError
from cgtqc.lab import oos
from cgtqc.lab.checks import LabContext
from cgtqc.lots import service
from cgtqc.results import Measurement, Provenance

app = typer.Typer(help="Results of a lot.", no_args_is_help=True)


def _parse_value(raw: str | None) -> float | str | None:
    if raw is None or raw.strip().lower() == "pending":
        return None
    text = raw.strip()
    if text.startswith("--"):
        raise InputError(f"no such option: {text}", place="command line")
    try:
        return float(text.replace(",", "")) if text[0] in "+-.0123456789" else text
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


# a negative VALUE (-0.4) is a value, not an unknown option
@app.command(context_settings={"ignore_unknown_options": True})
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
    instrument: str | None = typer.Option(None, "--instrument", help="Instrument code (checked)"),
    reagent: list[str] = typer.Option([], "--reagent", help="Reagent or kit lot used; repeatable"),
    method_version: str | None = typer.Option(
        None, "--method-version", help="METHOD:VERSION (default: the version in effect for the CQA)"
    ),
    retest_of: str | None = typer.Option(None, "--retest-of", help="OOS investigation this is a retest in"),
    override: str = typer.Option("", "--override", help="Why the original analyst retests"),
    resample: bool = typer.Option(
        False, "--resample", help="With --retest-of: a new sample of the lot (an authorised resample)"
    ),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Add a result (a GMP write: the acting user's password is checked).

    A change to an existing result needs --replace-reason and voids the lot's signatures."""
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
    pw = password_or_prompt(password)
    rows = []
    with store_session(db) as s:
        acting_user(s, user, pw)
        for m in ms:
            added = service.add_result(
                s, user, lot_number, m, stage, rationale, replace_reason, retest_of=retest_of,
                override_reason=override, lab=LabContext(instrument, tuple(reagent), method_version),
                resample=resample,
            )
            r = added.result
            rows.append(
                {
                    "lot": lot_number,
                    "cqa": r.cqa,
                    "stage": r.stage,
                    "value": r.value,
                    "unit": r.unit,
                    "follow_up": added.follow_up,
                    "voided_signatures": added.voided_signatures,
                    "oos_investigation": oos.opened_for(s, r.id),
                }
            )
    if json_:
        print_json(rows)
        return
    for row in rows:
        shown = row["value"] if row["value"] is not None else "pending"
        msg = f"{lot_number} {row['cqa']} ({row['stage']}) = {shown} {row['unit']}".rstrip()
        if row["follow_up"]:
            msg += " [post-release follow-up recorded, lot notified]"
        if row["oos_investigation"]:
            msg += f" [yellow]OOS: investigation {row['oos_investigation']} opened, release blocked[/]"
        if row["voided_signatures"]:
            msg += f" [red]{row['voided_signatures']} signature(s) VOIDED[/]"
        console.print(msg, highlight=False)
