"""``cgtqc run LOT_DIR``: the main job. Progress bars on stderr; ``--json`` prints the summary on stdout."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Any

import typer

from cgtqc.cli._common import (
    DB_OPTION,
    PASSWORD_OPTION,
    console,
    db_url,
    password_or_prompt,
    progress_bars,
    rate_text,
)


class _Bars:
    """One bar per test and an overall bar, with reads/s for chunked sequencing engines (stderr)."""

    def __init__(self, n_tests: int, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = progress_bars(quiet)
        self.overall = self.progress.add_task("[bold]lot", total=n_tests, rate="")
        self.tasks: dict[str, Any] = {}
        self.reads: dict[str, int] = {}

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def start(self, test: Any, total: int, unit: str) -> None:
        self.tasks[test.id] = self.progress.add_task(f"{test.id} [dim]{test.engine}[/]", total=total, rate="")
        self.reads[test.id] = 0

    def advance(self, test: Any, n: int = 1, reads: int = 0) -> None:
        task = self.tasks[test.id]
        self.reads[test.id] += reads
        rate = rate_text(self.reads[test.id], self.progress.tasks[task].elapsed) if reads else ""
        self.progress.update(task, advance=n, rate=rate)

    def done(self, test: Any, error: str | None) -> None:
        if test.id in self.tasks and error:
            self.progress.update(self.tasks[test.id], description=f"[red]{test.id} FAILED")
        self.progress.advance(self.overall)


def run(
    lot_dir: Path = typer.Argument(..., help="Lot folder with lot.yaml (see `cgtqc lot scaffold`)"),
    db: str | None = DB_OPTION,
    out: Path | None = typer.Option(None, "--out", help="Output folder [default: LOT_DIR/out]"),
    scheduler: str = typer.Option(
        "local", "--scheduler", help="local | local:N (Dask LocalCluster) | tcp://HOST:PORT"
    ),
    chunk_reads: int | None = typer.Option(
        None, "--chunk-reads",
        help="Reads per chunk of a sequencing engine; 0: whole files [default: the engine's]",
    ),
    user: str = typer.Option(
        ..., "--user", "-u", envvar="CGTQC_USER", help="Acting analyst [env CGTQC_USER]"
    ),
    password: str | None = PASSWORD_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
    json: bool = typer.Option(False, "--json", help="Print the run's summary as one JSON document"),
) -> None:
    """Run every test of a lot: engines on the raw files, results stored and judged, dossier and draft CoA.

    Exit status 0 when every test ran (whatever the verdicts), 1 when an engine failed (the others still
    complete and the failure is named in the dossier)."""
    from cgtqc.runner.lot_run import run_lot
    from cgtqc.runner.manifest import load_manifest
    from cgtqc.store.db import is_initialised, migrate

    manifest = load_manifest(lot_dir)  # a bad manifest stops here, before a password is asked
    url = db_url(db)
    if not is_initialised(url):
        migrate(url)
    pw = password_or_prompt(password)
    with _Bars(len(manifest.tests), quiet or json) as bars:
        result = run_lot(lot_dir, db_url=url, user=user, password=pw, out=out, scheduler=scheduler,
                         chunk_reads="default" if chunk_reads is None else chunk_reads, progress=bars)
    summary = {
        "lot": manifest.lot,
        "out": str(result.out),
        "results": str(result.out / "results.json"),
        "dossier": str(result.out / "dossier.html"),
        "coa_draft": str(result.out / "coa-draft.pdf"),
        "tests": len(result.tests),
        "failed": {t.test.id: t.error for t in result.failed},
        "seconds": round(result.seconds, 2),
    }
    if json:
        typer.echo(jsonlib.dumps(summary, indent=2))
    else:
        doc = jsonlib.loads((result.out / "results.json").read_text())
        verdicts = [m.get("verdict") for t in doc["tests"] for m in t["measurements"] if m.get("verdict")]
        counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
        console.print(f"lot {manifest.lot}: {len(result.tests)} tests, verdicts {counts}; "
                      f"{len(result.failed)} failed; {result.seconds:.1f} s on {result.scheduler}",
                      highlight=False)
        for t in result.failed:
            console.print(f"[red]failed:[/] {t.test.id} ({t.test.engine}): {t.error}", highlight=False)
        console.print(f"dossier {summary['dossier']}; draft CoA {summary['coa_draft']}", highlight=False)
    if result.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(run)
