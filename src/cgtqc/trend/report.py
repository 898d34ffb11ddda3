"""Validation report: HTML from a Jinja2 template, PDF through WeasyPrint (as the certificate of analysis)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from cgtqc import __version__
from cgtqc.results import atomic_write

_env = Environment(loader=PackageLoader("cgtqc", "templates"), autoescape=select_autoescape(["html", "j2"]))


def _rows(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in d.items():
        if k in ("residuals", "design", "warnings", "covariance") or (
            isinstance(v, list) and v and isinstance(v[0], dict)
        ):
            continue
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _rows(v, name + ".")
        elif isinstance(v, float):
            out.append((name, f"{v:.6g}"))
        elif isinstance(v, list) and all(isinstance(x, float | int) for x in v):
            out.append((name, ", ".join(f"{x:.6g}" for x in v)))
        else:
            out.append((name, "" if v is None else str(v)))
    return out


def render_validation(result: dict, title: str, source: str, sha256: str = "") -> str:
    """HTML of one validation analysis (``result`` is the analysis's ``to_dict()``)."""
    return _env.get_template("validation.html.j2").render(
        title=title,
        design=result.get("design", ""),
        source=source,
        sha256=sha256,
        rows=_rows(result),
        tables={k: v for k, v in result.items() if isinstance(v, list) and v and isinstance(v[0], dict)},
        warnings=result.get("warnings", []),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        cgtqc_version=__version__,
    )


def write_validation(html: str, html_path: Path | None = None, pdf_path: Path | None = None) -> None:
    """Write the report as HTML and/or PDF (to a temporary name, then moved in place)."""
    for path, data in ((html_path, None), (pdf_path, None)):
        if path is None:
            continue
        if path == pdf_path:
            from weasyprint import HTML

            data = HTML(string=html).write_pdf()
        else:
            data = html.encode("utf-8")
        atomic_write(path, data)
