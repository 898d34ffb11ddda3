"""`cgtqc method`: method versions (effective dates, validation report, retest maximum, reportable rules)."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, PASSWORD_OPTION, USER_OPTION, store_session
from cgtqc.cli._lab_common import gmp_write, output, parse_date, record_lines, table
from cgtqc.errors import InputError
from cgtqc.lab import methods
from cgtqc.lab.reportable import record_to_dict
from cgtqc.lab.reportable import reportable as reportable_value
from cgtqc.lots.reportable import enter_reportable

app = typer.Typer(help="Method versions and their reportable-result rules.", no_args_is_help=True)


@app.command()
def add(
    method: str,
    version: str,
    cqa: str = typer.Option(..., "--cqa"),
    effective: str = typer.Option(..., "--effective", help="First day in effect, YYYY-MM-DD"),
    validation_report: str = typer.Option("", "--validation-report", help="e.g. the `cgtqc validate` report"),
    max_retests: int = typer.Option(1, "--max-retests", help="Retests an OOS investigation may authorise"),
    averaging: bool = typer.Option(False, "--averaging/--no-averaging"),
    outlier_test: bool = typer.Option(
        False, "--outlier-test/--no-outlier-test", help="Allow Grubbs' test (variable bioassays)"
    ),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Make a method version effective (QA); the method's previous version ends that day."""
    with gmp_write(db, user, password) as s:
        mv = methods.add_method_version(
            s,
            user,
            method,
            version,
            cqa,
            parse_date(effective, "--effective"),
            validation_report=validation_report,
            max_retests=max_retests,
            averaging_allowed=averaging,
            outlier_test_allowed=outlier_test,
        )
        doc = methods.to_dict(mv)
    output(doc, json_, f"method {mv.label} ({cqa}) effective from {effective}")


@app.command("list")
def list_(db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """Every method version."""
    with store_session(db) as s:
        rows = [methods.to_dict(mv) for mv in methods.list_method_versions(s)]
    output(
        rows,
        json_,
        lambda: table(
            rows,
            [
                "method_version",
                "cqa",
                "effective_from",
                "effective_to",
                "max_retests",
                "averaging_allowed",
                "outlier_test_allowed",
                "validation_report",
            ],
            "method versions",
        ),
    )


@app.command()
def show(method_version: str, db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """One method version (METHOD:VERSION)."""
    with store_session(db) as s:
        doc = methods.to_dict(methods.get_method_version(s, method_version))
    output(doc, json_, "\n".join(record_lines(doc)))


@app.command()
def reportable(
    method_version: str,
    values: list[float] = typer.Argument(...),
    average: bool = typer.Option(False, "--average"),
    outlier_test: bool = typer.Option(False, "--outlier-test"),
    lot: str | None = typer.Option(None, "--lot", help="Enter the value as this lot's result (stored)"),
    stage: str = typer.Option("release", "--stage"),
    instrument: str | None = typer.Option(None, "--instrument"),
    reagent: list[str] = typer.Option([], "--reagent", help="Reagent lot used; repeatable"),
    retest_of: str | None = typer.Option(None, "--retest-of", help="OOS investigation this is a retest in"),
    override: str = typer.Option("", "--override", help="Why the original analyst retests"),
    replace_reason: str | None = typer.Option(None, "--replace-reason"),
    user: str | None = typer.Option(
        None, "--user", "-u", envvar="CGTQC_USER", help="Acting user, with --lot [env CGTQC_USER]"
    ),
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """The reportable value of replicate VALUES under the method version's rules (refused where forbidden);
    with --lot it is entered as the lot's result of the version's CQA and the computation is stored."""
    if lot is None:
        with store_session(db) as s:
            r = reportable_value(
                methods.get_method_version(s, method_version),
                values,
                average=average,
                outlier_test=outlier_test,
            )
        output(r.to_dict(), json_, f"reportable {r.value:g}" + (f" ({r.note})" if r.note else ""))
        return
    if not user:
        raise InputError("storing a reportable result needs the acting user", place="--user")
    with gmp_write(db, user, password) as s:
        added, rec = enter_reportable(
            s,
            user,
            lot,
            method_version,
            values,
            average=average,
            outlier_test=outlier_test,
            stage=stage,
            instrument=instrument,
            reagents=reagent,
            retest_of=retest_of,
            override_reason=override,
            replace_reason=replace_reason,
        )
        doc = {**record_to_dict(s, rec), "lot": lot, "voided_signatures": added.voided_signatures}
    output(
        doc,
        json_,
        f"{lot} {doc['cqa']} ({stage}): reportable {doc['value']} from {len(doc['values'])} value(s) "
        f"under {doc['method_version']} stored as result #{doc['result_id']}"
        + (f" ({doc['note']})" if doc["note"] else ""),
    )
