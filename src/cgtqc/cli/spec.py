"""`cgtqc spec`: list, show and validate product specifications."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import JSON_OPTION, console, print_json
from cgtqc.specs import Specification, load_specification, templates

app = typer.Typer(help="Product specifications (YAML templates per modality).", no_args_is_help=True)


def _resolve(product_or_file: str) -> Specification:
    p = Path(product_or_file)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return load_specification(p)
    specs = templates()
    if product_or_file not in specs:
        from cgtqc.errors import InputError

        raise InputError(f"no template {product_or_file!r} (templates: {', '.join(sorted(specs))})")
    return specs[product_or_file]


@app.command("list")
def list_(json_: bool = JSON_OPTION) -> None:
    """List the packaged specification templates."""
    if json_:
        print_json(
            [
                {
                    "product": s.product,
                    "version": s.version,
                    "name": s.name,
                    "release_tests": len(s.release_lines),
                    "in_process": len(s.lines) - len(s.release_lines),
                    "stages": sorted({ln.stage for ln in s.lines}),
                }
                for s in templates().values()
            ]
        )
        return
    t = Table("product", "version", "name", "release tests", "in-process")
    for s in templates().values():
        t.add_row(
            s.product, s.version, s.name, str(len(s.release_lines)), str(len(s.lines) - len(s.release_lines))
        )
    console.print(t)


@app.command()
def show(
    product: str = typer.Argument(..., help="Template id or YAML file"), json_: bool = JSON_OPTION
) -> None:
    """Show every line of a specification."""
    s = _resolve(product)
    if json_:
        print_json(
            [
                {
                    "cqa": ln.cqa,
                    "stage": ln.stage,
                    "category": ln.category,
                    "method": ln.method,
                    "unit": ln.unit,
                    "acceptance": str(ln.acceptance),
                    "alert": str(ln.alert or ""),
                    "rounding": ln.rounding,
                    "after_release": ln.after_release,
                    "compendial": list(ln.compendial),
                }
                for ln in s.lines
            ]
        )
        return
    t = Table(
        "stage",
        "CQA",
        "category",
        "method",
        "acceptance",
        "alert",
        "after release",
        "compendial",
        title=f"{s.name} v{s.version}",
    )
    for ln in s.lines:
        t.add_row(
            ln.stage,
            ln.cqa,
            ln.category,
            ln.method,
            f"{ln.acceptance} {ln.unit}".strip(),
            str(ln.alert or ""),
            "yes" if ln.after_release else "",
            ", ".join(ln.compendial),
        )
    console.print(t)


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="Specification YAML files"), json_: bool = JSON_OPTION
) -> None:
    """Validate specification files; the first error names file, line and field."""
    checked = []
    for f in files:
        s = load_specification(f)
        checked.append({"file": str(f), "product": s.product, "version": s.version, "tests": len(s.lines)})
    if json_:
        print_json(checked)
        return
    for c in checked:
        line = f"{c['file']}: OK ({c['product']} v{c['version']}, {c['tests']} tests)"
        console.print(line, highlight=False)
