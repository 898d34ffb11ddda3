"""`cgtqc method`: method versions (effective dates, validation report, retest maximum, reportable rules)."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, PASSWORD_OPTION, USER_OPTION, store_session
from cgtqc.cli._lab_common import gmp_write, output, parse_date, record_lines, table
from cgtqc.lab import methods
from cgtqc.lab.reportable import reportable as reportable_value

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
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """The reportable value of replicate VALUES under the method version's rules (refused where forbidden)."""
    with store_session(db) as s:
        r = reportable_value(
            methods.get_method_version(s, method_version), values, average=average, outlier_test=outlier_test
        )
    output(r.to_dict(), json_, f"reportable {r.value:g}" + (f" ({r.note})" if r.note else ""))
