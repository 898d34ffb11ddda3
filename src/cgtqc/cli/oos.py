"""`cgtqc oos`: OOS investigations — phase I, retest and resample authorisation, phase II, signed outcome;
OOS supply.

Retests are entered with `cgtqc result add LOT CQA VALUE --retest-of NUMBER` (another analyst, or
`--override REASON`), resamples with `--retest-of NUMBER --resample`."""

from __future__ import annotations

import typer

from cgtqc.cli._common import (
    DB_OPTION,
    JSON_OPTION,
    PASSWORD_OPTION,
    USER_OPTION,
    password_or_prompt,
    store_session,
)
from cgtqc.cli._lab_common import gmp_write, output, table
from cgtqc.errors import InputError
from cgtqc.lab import atmp, oos

app = typer.Typer(
    help="OOS investigations (FDA OOS guidance): phase I, retests, phase II, outcome.", no_args_is_help=True
)


def _human(doc: dict) -> str:
    lines = [
        f"{doc['number']} {doc['lot']} {doc['cqa']} ({doc['stage']}): phase {doc['phase']}, {doc['status']}"
        + (f", {doc['outcome']}" if doc["outcome"] else ""),
        f"original result: {doc['original']['value']} {doc['original']['unit']} "
        f"(entered by {doc['original']['entered_by']})",
    ]
    lines += [f"checklist {k}: {v}" for k, v in doc["checklist"].items()]
    if doc["missing_checklist"]:
        lines.append(f"checklist missing: {', '.join(doc['missing_checklist'])}")
    lines.append(f"hypothesis: {doc['hypothesis'] or '-'}")
    lines.append(
        f"retests: {sum(r['role'] == 'retest' for r in doc['retests'])} of {doc['retests_authorised']} "
        f"authorised, resamples: {sum(r['role'] == 'resample' for r in doc['retests'])} of "
        f"{doc['resamples_authorised']} (method {doc['method_version'] or '-'}, maximum {doc['max_retests']})"
    )
    if doc["resample_reason"]:
        lines.append(f"resample reason: {doc['resample_reason']}")
    lines += [
        f"  {r['role']} #{r['result_id']}: {r['value']} {r['unit']} by {r['analyst']}"
        + (" [reportable]" if r["reportable"] else "")
        + (f" [override: {r['override']}]" if r["override"] else "")
        for r in doc["retests"]
    ]
    if doc["phase_ii_reason"]:
        lines.append(f"phase II: {doc['phase_ii_reason']}")
    if doc["phase_ii_findings"]:
        lines += [
            f"phase II scope: {doc['phase_ii_scope']}",
            f"phase II findings: {doc['phase_ii_findings']}",
        ]
    if doc["assignable_cause"]:
        lines.append(f"assignable cause: {doc['assignable_cause']}")
    if doc["conclusion"]:
        lines.append(f"conclusion: {doc['conclusion']}")
    lines += [f"signed: {s['by']} ({s['meaning']}) {s['at']} UTC" for s in doc["signatures"]]
    return "\n".join(lines)


@app.command("list")
def list_(
    open_only: bool = typer.Option(False, "--open", help="Only open investigations"),
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Investigations, oldest first."""
    with store_session(db) as s:
        rows = [oos.to_dict(s, i) for i in oos.list_investigations(s, open_only)]
    flat = [{**r, "original": r["original"]["value"], "retests": len(r["retests"])} for r in rows]
    output(
        rows,
        json_,
        lambda: table(
            flat,
            ["number", "lot", "cqa", "phase", "status", "outcome", "original", "retests"],
            "OOS investigations",
        ),
    )


@app.command()
def show(number: str, db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """One investigation: the original result, checklist, retests, outcome and signatures."""
    with store_session(db) as s:
        doc = oos.to_dict(s, oos.get_investigation(s, number))
    output(doc, json_, _human(doc))


@app.command("phase1")
def phase_i(
    number: str,
    finding: list[str] = typer.Option(
        [],
        "--finding",
        help="ITEM=TEXT (calculation, instrument, standards, method, analyst, sample); repeatable",
    ),
    hypothesis: str | None = typer.Option(None, "--hypothesis"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Record phase I checklist findings and the hypothesis."""
    findings = {}
    for f in finding:
        item, sep, text = f.partition("=")
        if not sep:
            raise InputError(f"{f!r} is not ITEM=TEXT", place="--finding")
        findings[item.strip()] = text
    with gmp_write(db, user, password) as s:
        doc = oos.to_dict(s, oos.record_phase_i(s, user, number, findings, hypothesis))
    output(
        doc,
        json_,
        f"{number}: phase I recorded"
        + (f" (missing: {', '.join(doc['missing_checklist'])})" if doc["missing_checklist"] else ""),
    )


@app.command()
def authorise(
    number: str,
    retests: int | None = typer.Option(None, "--retests", help="Retests authorised in all"),
    resamples: int | None = typer.Option(
        None, "--resamples", help="Resamples (new samples of the lot) authorised in all"
    ),
    reason: str = typer.Option(
        ..., "--reason", help="Why; for resamples, why the original sample is not representative"
    ),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Authorise retests and/or resamples (supervisor), together within the method version's maximum; needs
    a complete phase I."""
    if retests is None and resamples is None:
        raise InputError("give --retests N and/or --resamples N", place="oos authorise")
    with gmp_write(db, user, password) as s:
        if retests is not None:
            oos.authorise_retests(s, user, number, retests, reason)
        if resamples is not None:
            oos.authorise_resamples(s, user, number, resamples, reason)
        doc = oos.to_dict(s, oos.get_investigation(s, number))
    said = [f"{n} {kind}(s)" for n, kind in ((retests, "retest"), (resamples, "resample")) if n is not None]
    output(doc, json_, f"{number}: {' and '.join(said)} authorised (maximum {doc['max_retests']} in all)")


@app.command("phase2")
def phase_ii(
    number: str,
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Escalate to the full-scale (phase II) investigation (QA)."""
    with gmp_write(db, user, password) as s:
        doc = oos.to_dict(s, oos.start_phase_ii(s, user, number, reason))
    output(doc, json_, f"{number}: phase II")


@app.command("phase2-findings")
def phase_ii_findings(
    number: str,
    scope: str = typer.Option(..., "--scope", help="What the full-scale investigation examined"),
    findings: str = typer.Option(..., "--findings", help="What it found (its outcome)"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Record the phase II investigation's scope and findings (QA); needed before a phase II case closes."""
    with gmp_write(db, user, password) as s:
        doc = oos.to_dict(s, oos.record_phase_ii(s, user, number, scope, findings))
    output(doc, json_, f"{number}: phase II findings recorded")


@app.command()
def close(
    number: str,
    outcome: str = typer.Option(..., "--outcome", help="confirmed or invalidated"),
    cause: str = typer.Option("", "--cause", help="Assignable cause (invalidated)"),
    conclusion: str = typer.Option("", "--conclusion"),
    reportable: int | None = typer.Option(None, "--reportable", help="Result id of the reportable retest"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Close with a supervisor's e-signature: confirmed OOS, or invalidated with an assignable cause."""
    pw = password_or_prompt(password)
    with store_session(db) as s:
        doc = oos.to_dict(
            s,
            oos.close(
                s,
                user,
                pw,
                number,
                outcome,
                assignable_cause=cause,
                conclusion=conclusion,
                reportable_result_id=reportable,
            ),
        )
    output(doc, json_, f"{number}: closed, {outcome} (signed by {user})")


@app.command()
def supply(
    lot_number: str,
    physician: str = typer.Option(..., "--physician"),
    request: str = typer.Option(..., "--request", help="The physician's request (reference and reason)"),
    risk: str = typer.Option(..., "--risk", help="The risk evaluation"),
    authority: str = typer.Option(..., "--authority", help="Competent authority notified"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Supply an out-of-specification ATMP lot (EU GMP Part IV §11.54): the QP signs; notifications."""
    from cgtqc.lots.conditional import supply_out_of_specification

    pw = password_or_prompt(password)
    with store_session(db) as s:
        er = supply_out_of_specification(
            s,
            user,
            pw,
            lot_number,
            physician=physician,
            physician_request=request,
            risk_evaluation=risk,
            authority=authority,
        )
        doc = atmp.exceptional_to_dict(er, lot_number)
    output(
        doc, json_, f"{lot_number}: supplied at the physician's request; {physician} and {authority} notified"
    )
