"""`cgtqc lot`: create, list and show lots."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

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
from cgtqc.lots import service
from cgtqc.lots.disposition import LotEvaluation, evaluate_lot
from cgtqc.lots.signatures import signatures_of
from cgtqc.store.models import Lot

app = typer.Typer(help="Lots, samples and chain of identity.", no_args_is_help=True)


@app.command()
def create(
    lot_number: str = typer.Argument(...),
    product: str = typer.Option(..., "--product", help="Specification template id, e.g. car_t"),
    site: str = typer.Option(..., "--site", help="Manufacturing site"),
    spec_version: str | None = typer.Option(None, "--spec-version"),
    din: str | None = typer.Option(None, "--din", help="ISBT 128 DIN with check character (autologous)"),
    coi: str | None = typer.Option(None, "--coi", help="Chain-of-identity id (autologous)"),
    manufactured: str | None = typer.Option(None, "--manufactured", help="Manufacture date, YYYY-MM-DD"),
    expiry: str | None = typer.Option(None, "--expiry", help="Expiry date, YYYY-MM-DD"),
    storage: str | None = typer.Option(
        None, "--storage", help="Storage conditions, e.g. '<= -150 °C (LN2 vapour)'"
    ),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Create a lot under a specification version (a GMP write: the acting user's password is checked)."""
    made, expires = _date(manufactured, "--manufactured"), _date(expiry, "--expiry")
    pw = password_or_prompt(password)
    with store_session(db) as s:
        acting_user(s, user, pw)
        lot = service.create_lot(
            s, user, lot_number, product, site, spec_version, din, coi,
            manufactured_on=made, expires_on=expires, storage=storage,
        )
        doc = {"lot": lot.lot_number, "product": lot.product, "spec_version": lot.spec_version}
    if json_:
        print_json(doc)
        return
    console.print(f"lot {doc['lot']} created ({doc['product']} spec v{doc['spec_version']})", highlight=False)


def _date(text: str | None, option: str) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{text!r} is not a date (write YYYY-MM-DD)", place=option) from None


@app.command()
def scaffold(
    product: str = typer.Argument(..., help="Specification template id, e.g. car_t (see `cgtqc spec list`)"),
    folder: Path = typer.Argument(..., help="New lot folder"),
    lot: str | None = typer.Option(None, "--lot", help="Lot number [default: PRODUCT-0001]"),
    site: str = typer.Option("", "--site", help="Manufacturing site"),
    simulate: bool = typer.Option(
        False, "--simulate", help="Write realistic raw files from the engines' simulators"
    ),
    seed: int = typer.Option(1, "--seed", help="Seed of the simulated raw files"),
    din: str | None = typer.Option(None, "--din", help="ISBT 128 DIN (autologous products)"),
    coi: str | None = typer.Option(None, "--coi", help="Chain-of-identity id (autologous products)"),
    json_: bool = JSON_OPTION,
) -> None:
    """Write a lot folder: lot.yaml with every test of the specification (and simulated raw files)."""
    from cgtqc.runner.scaffold import scaffold as write_scaffold

    path = write_scaffold(product, folder, lot=lot, site=site, simulate=simulate, seed=seed, din=din, coi=coi)
    if json_:
        print_json({"manifest": str(path), "folder": str(folder), "simulated": simulate})
        return
    console.print(f"wrote {path}" + (" with simulated raw files" if simulate else "")
                  + f"; run it with: cgtqc run {folder} -u USER", highlight=False)


@app.command("list")
def list_(db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """List lots with their status."""
    with store_session(db) as s:
        lots = list(s.execute(select(Lot).order_by(Lot.id)).scalars())
        rows = [
            {
                "lot": x.lot_number,
                "product": x.product,
                "spec_version": x.spec_version,
                "site": x.site,
                "status": x.status,
                "results": len(x.results),
            }
            for x in lots
        ]
    if json_:
        print_json(rows)
        return
    t = Table("lot", "product", "spec", "site", "status", "results")
    for r in rows:
        t.add_row(r["lot"], r["product"], r["spec_version"], r["site"], r["status"], str(r["results"]))
    console.print(t)


@app.command()
def show(lot_number: str, db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """Show a lot: identity, samples, results with verdicts, signatures and notifications."""
    with store_session(db) as s:
        lot = service.get_lot(s, lot_number)
        ev = evaluate_lot(s, lot)
        sigs = signatures_of(s, lot)
        notes = service.notifications_of(s, lot)
        doc = {
            "lot": lot.lot_number,
            "product": lot.product,
            "spec_version": lot.spec_version,
            "site": lot.site,
            "status": lot.status,
            "din": lot.din,
            "coi_id": lot.coi_id,
            "manufactured_on": lot.manufactured_on.isoformat() if lot.manufactured_on else None,
            "expires_on": lot.expires_on.isoformat() if lot.expires_on else None,
            "storage": lot.storage,
            "samples": [
                {"code": x.sample_code, "stage": x.stage, "chain_step": x.chain_step} for x in lot.samples
            ],
            "evaluation": ev.to_dict(),
            "signatures": [
                {
                    "user": g.username,
                    "name": g.full_name,
                    "meaning": g.meaning,
                    "signed_at": g.signed_at.isoformat() + "Z",
                    "void": g.void,
                    "void_reason": g.void_reason,
                }
                for g in sigs
            ],
            "notifications": [
                {"at": n.at.isoformat() + "Z", "severity": n.severity, "message": n.message} for n in notes
            ],
        }
    if json_:
        print_json(doc)
        return
    console.print(
        f"[bold]{doc['lot']}[/] {doc['product']} spec v{doc['spec_version']} at {doc['site']}: "
        f"[bold]{doc['status']}[/]" + (f"  DIN {doc['din']} COI {doc['coi_id']}" if doc["din"] else "")
    )
    render_evaluation(ev)
    for g in doc["signatures"]:
        flag = f" [red]VOID: {g['void_reason']}[/]" if g["void"] else ""
        console.print(f"signed {g['meaning']} by {g['name']} ({g['user']}) at {g['signed_at']}{flag}")
    for n in doc["notifications"]:
        console.print(f"[{'red' if n['severity'] == 'alert' else 'cyan'}]{n['at']} {n['message']}[/]")


VERDICT_STYLE = {"pass": "green", "fail": "bold red", "oot": "yellow", "pending": "dim", "invalid": "red"}


def render_evaluation(ev: LotEvaluation) -> None:
    """Print the verdict table of a lot and what blocks its release."""
    t = Table("stage", "CQA", "acceptance", "result", "verdict", "entered", "reviewed")
    for o in ev.outcomes:
        d = o.to_dict()
        t.add_row(
            d["stage"],
            d["cqa"],
            f"{d['acceptance']} {d['unit']}".strip(),
            d["reportable"],
            f"[{VERDICT_STYLE[d['verdict']]}]{d['verdict']}[/]",
            d["entered_by"] or "",
            d["reviewed_by"] or "",
        )
    console.print(t)
    for b in ev.blockers:
        console.print(f"[yellow]blocks release:[/] {b}")
