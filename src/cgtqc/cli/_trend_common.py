"""What the statistics commands share: a table from a CSV file or from the store, and file-named errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from cgtqc.errors import InputError
from cgtqc.trend.table import Table, from_columns, read_table

PRODUCT_OPTION = typer.Option(
    None, "--product", help="Read the lots of this product from the store instead of FILE"
)
CQA_OPTION = typer.Option(None, "--cqa", help="CQA to read from the store (with --product)")
SITE_OPTION = typer.Option(None, "--site", help="Only lots of this site (with --product)")
STAGE_OPTION = typer.Option("release", "--stage", help="Result stage read from the store")
STATUS_OPTION = typer.Option(
    None, "--status", help="Only lots with this status, e.g. released (repeatable; with --product)"
)


@contextmanager
def about(source: str) -> Iterator[None]:
    """Errors raised by the statistics name the file (or the store) they concern."""
    try:
        yield
    except InputError as exc:
        if exc.file is None:
            raise InputError(exc.message, file=source, place=exc.place) from None
        raise


def load(
    file: Path | None,
    product: str | None,
    cqas: list[str] | None,
    site: str | None,
    stage: str,
    statuses: list[str] | None,
    db: str | None,
) -> Table:
    """The table of a CSV file, or of the store's lots of a product (lot, site, status, order, CQAs)."""
    if file is not None and product is not None:
        raise InputError("give FILE or --product/--cqa, not both")
    if file is not None:
        return read_table(file)
    if product is None or not cqas:
        raise InputError("give a CSV FILE, or --product P --cqa C to read the store")
    from cgtqc.cli._common import store_session
    from cgtqc.lots import trending

    with store_session(db) as s:
        cols = trending.store_columns(
            s, product, list(cqas), site, stage, tuple(statuses) if statuses else None
        )
    return from_columns(cols, source=f"store ({product}{' at ' + site if site else ''})")


def spec_limits(product: str, cqa: str, stage: str, db: str | None) -> tuple[float | None, float | None]:
    """The numeric acceptance limits of a CQA in the product's newest specification."""
    from cgtqc.cli._common import store_session
    from cgtqc.lots import service

    with store_session(db) as s:
        spec = service.specification_for(s, product)
    try:
        acc = spec.line(cqa, stage).acceptance
    except KeyError as exc:
        raise InputError(str(exc.args[0]), file="store") from None
    if acc.qualitative:
        raise InputError(f"{cqa} is qualitative: no capability", file="store")
    return (
        float(acc.low) if acc.low is not None else None,
        float(acc.high) if acc.high is not None else None,
    )
