"""`cgtqc analyst`: analysts' training and qualification per method version."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, PASSWORD_OPTION, USER_OPTION, store_session
from cgtqc.cli._lab_common import gmp_write, output, parse_date, table
from cgtqc.lab import methods

app = typer.Typer(help="Analyst qualifications per method version.", no_args_is_help=True)
MV_OPTION = typer.Option(..., "--method-version", help="METHOD:VERSION")


@app.command()
def qualify(
    analyst: str,
    method_version: str = MV_OPTION,
    trained: str = typer.Option(..., "--trained"),
    expires: str = typer.Option(..., "--expires"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Record an analyst's qualification on a method version (reviewer or QA)."""
    with gmp_write(db, user, password) as s:
        q = methods.qualify_analyst(
            s,
            user,
            analyst,
            method_version,
            parse_date(trained, "--trained"),
            parse_date(expires, "--expires"),
        )
        doc = methods.qualification_to_dict(q, methods.get_method_version(s, method_version))
    output(doc, json_, f"{analyst} qualified on {method_version} until {expires}")


@app.command()
def revoke(
    analyst: str,
    method_version: str = MV_OPTION,
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Revoke a qualification."""
    with gmp_write(db, user, password) as s:
        methods.revoke_analyst(s, user, analyst, method_version, reason)
    output(
        {"analyst": analyst, "method_version": method_version, "revoked": True},
        json_,
        f"{analyst}'s qualification on {method_version} revoked",
    )


@app.command("list")
def list_(
    analyst: str | None = typer.Option(None, "--analyst"),
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Qualifications (of one analyst, or all)."""
    with store_session(db) as s:
        rows = [methods.qualification_to_dict(q, mv) for q, mv in methods.qualifications(s, analyst)]
    output(
        rows,
        json_,
        lambda: table(
            rows,
            ["analyst", "method_version", "trained_on", "expires_on", "trainer", "revoked"],
            "analyst qualifications",
        ),
    )
